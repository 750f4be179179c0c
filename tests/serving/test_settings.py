"""Settings refuse combinations that would make the service misbehave."""

import pytest
from pydantic import ValidationError

from serving.settings import Settings


def test_the_request_deadline_must_exceed_the_database_timeout() -> None:
    with pytest.raises(ValidationError, match="REQUEST_DEADLINE_SECONDS must exceed"):
        Settings(database_timeout_seconds=5, request_deadline_seconds=5)
    assert Settings(database_timeout_seconds=1, request_deadline_seconds=3)


def test_retention_mode_is_one_of_two() -> None:
    with pytest.raises(ValidationError, match="retention_mode"):
        Settings(retention_mode="shred")  # type: ignore[arg-type]

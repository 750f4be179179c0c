"""A serving process tunes Python's collector once its state is loaded; tests never do."""

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving import collector
from serving.app import create_app
from serving.settings import Settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    """Whatever the test tunes, this process's collector as it was afterwards."""
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        collector._TUNED["on"] = False


def test_a_serving_app_tunes_the_collector_after_loading_its_state(
    demo_bundle: Path, sqlite_url: str, restored_collector: None
) -> None:
    settings = Settings(bundle=demo_bundle, database_url=sqlite_url, gc_young_threshold=12_345)
    assert gc.get_threshold()[0] != 12_345
    with TestClient(create_app(settings, tune_collector=True)) as client:
        assert gc.get_threshold()[0] == 12_345
        scorer = client.app.state.service.scorer  # type: ignore[attr-defined]
        assert gc.get_freeze_count() > 0
        assert not any(obj is scorer for obj in gc.get_objects()), "the loaded model is frozen"


def test_an_app_built_by_a_test_leaves_the_collector_alone(
    demo_bundle: Path, sqlite_url: str
) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count())
    with TestClient(create_app(Settings(bundle=demo_bundle, database_url=sqlite_url))):
        assert (gc.get_threshold(), gc.get_freeze_count()) == before

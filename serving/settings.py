"""Serving settings, read from ``LISTINGGUARD_*`` environment variables."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/listingguard.db"


class Settings(BaseSettings):
    """One settings object for the whole service; see the README for each variable."""

    model_config = SettingsConfigDict(env_prefix="LISTINGGUARD_", extra="ignore")

    bundle: Path | None = None
    shadow_bundle: Path | None = None
    """A challenger scored in shadow on every fresh scoring request: the champion (``bundle``)
    decides, both scores are stored. Same labels and taxonomy as ``bundle``; re-read on SIGHUP."""
    policy: str | None = None
    """A policy file or built-in policy name; None: the default policy of the bundle's taxonomy.
    Re-read on SIGHUP."""
    database_url: str = DEFAULT_DATABASE_URL
    environment: Literal["development", "production"] = "development"
    auto_migrate: bool = True
    max_batch_size: int = Field(default=256, ge=1, le=10_000)
    group_commit_max_listings: int = Field(default=512, ge=1, le=100_000)
    """Most decisions of concurrent requests written in one transaction (1: no grouping)."""
    group_commit_linger_ms: float = Field(default=5.0, ge=0.0, le=100.0)
    """How long a group waits for requests still being scored (0: never waits)."""
    max_body_bytes: int = Field(default=4_000_000, ge=1_000)
    review_lease_seconds: int = Field(default=900, ge=10)
    inference_threads: int | None = Field(default=None, ge=1, le=64)
    workers: int = Field(default=1, ge=1, le=64)
    """Worker processes behind the one listening socket (:mod:`serving.workers`)."""
    gc_young_threshold: int = Field(default=10_000, ge=100, le=1_000_000)
    """Allocations between collections of the youngest generation in a serving process
    (Python's default is 700: a batch of 256 listings then ran about 40 collections)."""
    database_timeout_seconds: float = Field(default=5.0, ge=0.5, le=120)
    request_deadline_seconds: float = Field(default=10.0, ge=1, le=600)
    readiness_timeout_seconds: float = Field(default=2.0, ge=0.1, le=60)
    retention_days: int | None = Field(default=None, ge=1)
    retention_mode: Literal["anonymize", "delete"] = "anonymize"
    pseudonym_key: SecretStr | None = None
    console_secret: SecretStr | None = None
    """Signs console session cookies and CSRF tokens; None in development: a random one per
    process (sessions end at a restart). Required in production."""
    console_session_hours: float = Field(default=12.0, gt=0, le=24 * 7)

    @model_validator(mode="after")
    def _deadline_covers_the_database_timeout(self) -> "Settings":
        if self.request_deadline_seconds <= self.database_timeout_seconds:
            raise ValueError(
                "LISTINGGUARD_REQUEST_DEADLINE_SECONDS must exceed "
                "LISTINGGUARD_DATABASE_TIMEOUT_SECONDS, so a slow database answers 503 "
                "before the deadline cuts it off"
            )
        return self

    @model_validator(mode="after")
    def _production_is_explicit(self) -> "Settings":
        if self.environment == "production" and (
            self.console_secret is None or len(self.console_secret.get_secret_value()) < 32
        ):
            raise ValueError(
                "LISTINGGUARD_CONSOLE_SECRET must be set to 32 or more random characters in "
                "production (it signs console sessions)"
            )
        if self.environment == "production" and self.database_url == DEFAULT_DATABASE_URL:
            raise ValueError(
                "LISTINGGUARD_DATABASE_URL must name a real database in production "
                "(the SQLite default is for development)"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()

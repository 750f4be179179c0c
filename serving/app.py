"""The FastAPI application: the bundle and database are loaded once, in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

from models.policy import DEFAULT_POLICY
from models.scorer import BundleScorer
from serving import api_queue, api_score
from serving.api_errors import install_error_handlers
from serving.db import (
    create_db_engine,
    current_revision,
    database_reachable,
    head_revision,
    make_session_factory,
    upgrade_database,
)
from serving.deps import ServiceState, StateDep
from serving.middleware import install_middleware
from serving.schemas import ReadinessOut
from serving.settings import Settings, get_settings


class StartupError(Exception):
    """The service cannot start: no bundle configured, or the bundle cannot be used."""


def load_state(settings: Settings) -> ServiceState:
    if settings.bundle is None:
        raise StartupError("no model bundle: set LISTINGGUARD_BUNDLE or pass --bundle DIR")
    scorer = BundleScorer(settings.bundle, threads=settings.inference_threads)
    if settings.auto_migrate:
        upgrade_database(settings.database_url)
    engine = create_db_engine(settings.database_url)
    return ServiceState(
        settings=settings,
        scorer=scorer,
        policy=DEFAULT_POLICY,
        engine=engine,
        session_factory=make_session_factory(engine),
        schema_revision=head_revision(),
    )


def create_app(settings: Settings | None = None, *, state: ServiceState | None = None) -> FastAPI:
    """The app; ``state`` (already loaded, e.g. by the CLI to fail fast) skips loading."""
    settings = state.settings if state else (settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = state or load_state(settings)
        yield
        app.state.service.engine.dispose()

    app = FastAPI(
        title="ListingGuard",
        summary="Risk scoring of marketplace listings: fraud, counterfeit, regulated products.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install_middleware(app, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(api_score.router)
    app.include_router(api_queue.router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadinessOut, tags=["operations"])
    def readyz(state: StateDep, response: Response) -> ReadinessOut:
        """Bundle loaded, database reachable and migrated to this build's schema; else 503."""
        reachable = database_reachable(state.engine)
        migrated = reachable and current_revision(state.engine) == state.schema_revision
        if not migrated:
            response.status_code = 503
        return ReadinessOut(
            ready=migrated,
            bundle_loaded=True,
            database_reachable=reachable,
            schema_current=migrated,
            model_version=state.scorer.card.model_id,
        )

    return app

"""The FastAPI application: the bundle and database are loaded once, in the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from swagger_ui_bundle import swagger_ui_path

from models.bundle import ModelCard
from models.review_policy import ReviewPolicy
from models.scorer import BundleScorer
from serving import api_accounts, api_outcomes, api_qa, api_queue, api_reports, api_score
from serving.api_errors import RETRY_AFTER_SECONDS, install_error_handlers
from serving.auth import Authenticator
from serving.collector import tune_garbage_collector
from serving.console import pages, qa_pages
from serving.console.sessions import ConsoleSessions
from serving.database_calls import DatabaseCalls
from serving.db import (
    POOL_MAX_OVERFLOW,
    POOL_SIZE,
    create_db_engine,
    current_revision,
    database_reachable,
    head_revision,
    make_session_factory,
    upgrade_database,
)
from serving.deps import ServiceState, StateDep
from serving.errors import DatabaseDeadlineError
from serving.group_commit import GroupCommit
from serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from serving.metrics import read_queue
from serving.middleware import install_middleware
from serving.reloads import reload_on_sighup, service_policy, shadow_scorer
from serving.schemas import ReadinessOut
from serving.settings import Settings, get_settings

CONSOLE_STATIC = Path(pages.__file__).with_name("static")


class StartupError(Exception):
    """The service cannot start: no bundle configured, or the bundle cannot be used."""


def load_state(settings: Settings) -> ServiceState:
    if settings.bundle is None:
        raise StartupError("no model bundle: set LISTINGGUARD_BUNDLE or pass --bundle DIR")
    scorer = BundleScorer(settings.bundle, threads=settings.inference_threads)
    shadow = shadow_scorer(settings.shadow_bundle, scorer.card, None, settings.inference_threads)
    if settings.auto_migrate:
        upgrade_database(settings.database_url)
    engine = create_db_engine(settings.database_url, timeout_s=settings.database_timeout_seconds)
    session_factory = make_session_factory(engine)
    # One thread per pooled connection: a thread never waits on the pool for long.
    database = DatabaseCalls(
        threads=POOL_SIZE + POOL_MAX_OVERFLOW, deadline_s=settings.request_deadline_seconds
    )
    state = ServiceState(
        settings=settings,
        scorer=scorer,
        policy=service_policy(settings.policy, scorer.card),
        shadow=shadow,
        engine=engine,
        session_factory=session_factory,
        schema_revision=head_revision(),
        database=database,
        readiness=DatabaseCalls(
            threads=1, deadline_s=settings.readiness_timeout_seconds, name="lg-ready"
        ),
        readiness_engine=create_db_engine(
            settings.database_url, timeout_s=settings.readiness_timeout_seconds
        ),
        scrapes=DatabaseCalls(
            threads=1, deadline_s=settings.readiness_timeout_seconds, name="lg-metrics"
        ),
        authenticator=Authenticator(session_factory, database),
        console_sessions=ConsoleSessions(
            settings.console_secret.get_secret_value().encode()
            if settings.console_secret
            else None,
            max_age_s=settings.console_session_hours * 3600,
        ),
        writes=GroupCommit(
            database,
            session_factory,
            max_group_listings=settings.group_commit_max_listings,
            linger_s=settings.group_commit_linger_ms / 1000,
        ),
    )
    state.metrics.serving(scorer.card, state.policy)
    return state


def close_state(state: ServiceState) -> None:
    """Stop the state's database threads and close its connection pools."""
    state.database.shutdown()
    state.readiness.shutdown()
    state.scrapes.shutdown()
    state.engine.dispose()
    state.readiness_engine.dispose()


def create_worker_app() -> FastAPI:
    """The app of one worker process (:mod:`serving.workers`): its collector is tuned once
    the worker has loaded its state (:mod:`serving.collector`)."""
    return create_app(tune_collector=True)


def create_app(
    settings: Settings | None = None,
    *,
    state: ServiceState | None = None,
    tune_collector: bool = False,
) -> FastAPI:
    """The app; ``state`` (already loaded, e.g. by the CLI to fail fast) skips loading;
    ``tune_collector``: a serving process's own (:mod:`serving.collector`), once state is
    loaded."""
    settings = state.settings if state else (settings or get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service: ServiceState = state or load_state(settings)
        app.state.service = service
        reload_on_sighup(service)
        if tune_collector:
            tune_garbage_collector(settings.gc_young_threshold)
        yield
        close_state(service)

    app = FastAPI(
        title="ListingGuard",
        summary="Risk scoring of marketplace listings against the model's risk taxonomy.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    _document_configured_limits(app, settings)
    install_middleware(app, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    app.include_router(api_score.router)
    app.include_router(api_queue.router)
    app.include_router(api_outcomes.router)
    app.include_router(api_accounts.router)
    app.include_router(api_qa.router)
    app.include_router(api_reports.router)
    app.include_router(pages.router)
    app.include_router(qa_pages.router)
    app.mount("/console-static", StaticFiles(directory=CONSOLE_STATIC), name="console-static")
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """Swagger UI from the app's own files: the page works offline."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="ListingGuard API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process answers; never waits on the database (runs on the event loop)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=ReadinessOut,
        tags=["operations"],
        responses={503: {"model": ReadinessOut, "description": "not ready (see the fields)"}},
    )
    async def readyz(state: StateDep, response: Response) -> ReadinessOut:
        """Bundle loaded, database reachable and migrated to this build's schema; else 503.

        Answers within ``LISTINGGUARD_READINESS_TIMEOUT_SECONDS`` even when the database hangs.
        """
        try:
            reachable, migrated = await state.readiness.run(_check_database, state)
        except DatabaseDeadlineError:
            reachable = migrated = False
        if not migrated:
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return ReadinessOut(
            ready=migrated,
            bundle_loaded=True,
            database_reachable=reachable,
            schema_current=migrated,
            model_version=state.scorer.card.model_id,
        )

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics(state: StateDep) -> PlainTextResponse:
        """Prometheus metrics of the service, all its workers under ``--workers`` (text
        exposition format): requests and latency by route, decisions by action, per-label bands
        and score histograms, active work items and the oldest open item's age by kind, the
        model and policy in force, reloads. The queue
        figures are read at scrape time; when the database does not answer within the readiness
        timeout they keep their last values and ``listingguard_work_items_read_ok`` is 0."""
        try:
            queue = await state.scrapes.run(read_queue, state.readiness_engine)
        except (DatabaseDeadlineError, SQLAlchemyError):
            queue = None
        return PlainTextResponse(state.metrics.exposition(queue), media_type=METRICS_CONTENT_TYPE)

    return app


def _document_configured_limits(app: FastAPI, settings: Settings) -> None:
    """The OpenAPI document states the batch limit this server was configured with."""
    generate = app.openapi

    documented_for: list[str] = []
    """The policy content id and model id the cached document describes."""

    def openapi() -> dict[str, Any]:
        service: ServiceState | None = getattr(app.state, "service", None)
        current = [service.policy.content_id(), service.scorer.card.model_id] if service else []
        if app.openapi_schema is not None and documented_for == current:
            return app.openapi_schema
        document = generate()
        schemas = document["components"]["schemas"]
        schemas["BatchScoreRequest"]["properties"]["listings"]["maxItems"] = settings.max_batch_size
        if service is None:
            return document  # before startup: the taxonomy is not known yet, do not cache
        _document_taxonomy(schemas, service.scorer.card)
        _document_reason_codes(schemas, service.policy.review)
        app.openapi_schema, documented_for[:] = document, current  # a reload re-documents
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_taxonomy(schemas: dict[str, Any], card: ModelCard) -> None:
    """Decisions list exactly the served model's labels and categories."""
    for name in ("DecisionOut", "StoredDecisionOut"):
        schemas[name]["properties"]["labels"] = {
            "type": "object",
            "description": f"each label the model scores (taxonomy {card.taxonomy.name!r})",
            "properties": {
                label: {"$ref": "#/components/schemas/LabelScoreOut"} for label in card.labels
            },
            "required": list(card.labels),
            "additionalProperties": False,
        }
    schemas["QaVerdictRequest"]["properties"]["violations"] = {
        "type": "object",
        "description": "for every label of the model: whether the listing violates it",
        "properties": {label: {"type": "boolean"} for label in card.labels},
        "required": list(card.labels),
        "additionalProperties": False,
    }
    category = schemas["CategoryOut"]["properties"]
    category["label"] = {"const": card.taxonomy.category_label} | _described(category["label"])
    category["name"] = {
        "anyOf": [{"type": "string", "enum": list(card.regulated_categories)}, {"type": "null"}]
    } | _described(category["name"])
    category["probabilities"] = {
        "type": "object",
        "properties": {name: {"type": "number"} for name in card.regulated_categories},
        "required": list(card.regulated_categories),
        "additionalProperties": False,
    }


def _document_reason_codes(schemas: dict[str, Any], review: ReviewPolicy) -> None:
    """A decision's reason code is one of the loaded policy's codes for its action."""
    variants = []
    for action in ("allow", "block"):
        codes = sorted(name for name, code in review.reason_codes.items() if code.action == action)
        variants.append(
            {
                "properties": {
                    "action": {"const": action},
                    "reason_code": {"type": "string", "enum": codes},
                }
            }
        )
    for name in ("ReviewDecisionRequest", "QaVerdictRequest"):
        schemas[name]["oneOf"] = variants


def _described(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: schema[key] for key in ("title", "description") if key in schema}


def _check_database(state: ServiceState) -> tuple[bool, bool]:
    """(reachable, migrated to this build's head revision)."""
    if not database_reachable(state.readiness_engine):
        return False, False
    try:
        return True, current_revision(state.readiness_engine) == state.schema_revision
    except SQLAlchemyError:
        return False, False

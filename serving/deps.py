"""Named FastAPI dependencies over the objects the lifespan loads once."""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models.policy import Policy
from models.scorer import BundleScorer
from serving.auth import Authenticator, Caller, requires
from serving.console.sessions import ConsoleSessions
from serving.database_calls import DatabaseCalls
from serving.group_commit import GroupCommit
from serving.metrics import ServiceMetrics
from serving.settings import Settings


@dataclass
class ServiceState:
    """What the service loads at startup and shares across requests (all thread-safe)."""

    settings: Settings
    scorer: BundleScorer
    policy: Policy
    engine: Engine
    session_factory: sessionmaker[Session]
    schema_revision: str
    database: DatabaseCalls
    """Every request's database work runs here, within the request deadline."""
    readiness: DatabaseCalls
    """Readiness probes run apart, so a frozen database cannot make them queue."""
    readiness_engine: Engine
    """The probes' own connections: a pool busy with requests does not read as "unreachable"."""
    scrapes: DatabaseCalls
    """``/metrics`` reads the work-item figures here (on the probes' engine), so a slow scrape
    never queues a readiness probe."""
    authenticator: Authenticator
    console_sessions: ConsoleSessions
    writes: GroupCommit
    """Scoring decisions are written here: concurrent requests share a transaction."""
    shadow: BundleScorer | None = None
    """The challenger scored in shadow (``LISTINGGUARD_SHADOW_BUNDLE``), or None."""
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    """This process's Prometheus metrics (``GET /metrics``)."""


# Both are async (they never block) so FastAPI calls them on the event loop: a plain ``def``
# dependency is run on the thread pool, a hand-off per dependency per request.
async def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def get_request_id(request: Request) -> str:
    return str(request.state.request_id)


StateDep = Annotated[ServiceState, Depends(get_state)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
AnyCaller = Annotated[Caller, Depends(requires(None))]
"""Any valid key; the endpoint checks what the caller may do (e.g. by the item's kind)."""
ReviewerCaller = Annotated[Caller, Depends(requires("review"))]
OutcomesCaller = Annotated[Caller, Depends(requires("outcomes"))]

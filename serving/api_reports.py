"""Published figures: the transparency report of a period, and each decision's statement of
reasons."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from serving.api_errors import ApiError, ErrorResponse
from serving.auth import AUTH_ERRORS, requires
from serving.console.templating import render, report_style
from serving.decision_store import get_decision
from serving.deps import ServiceState, StateDep
from serving.qa_estimates import promise_targets
from serving.schemas_qa import StatementOut
from serving.statements import statement_of_reasons
from serving.tables import utc_now
from serving.transparency import TransparencyReport, transparency_report

router = APIRouter(tags=["reports"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (404, 422, 503)},
    **AUTH_ERRORS,
}
MAX_PERIOD = timedelta(days=3660)


@router.get(
    "/v1/reports/transparency",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/html": {}}}},
    dependencies=[Depends(requires("admin"))],
)
async def transparency(
    state: StateDep,
    since: Annotated[datetime | None, Query(description="default: 30 days before until")] = None,
    until: Annotated[datetime | None, Query(description="default: now")] = None,
    format: Literal["json", "html"] = "json",
) -> Response:
    """The period's decisions by action, label and market, the automated share, QA accuracy
    estimates of automated decisions, appeals and handling times: JSON, or a printable page."""
    end = _aware(until) or utc_now()
    start = _aware(since) or end - timedelta(days=30)
    if not start < end or end - start > MAX_PERIOD:
        raise ApiError(
            422, "invalid_period", f"since must be before until, at most {MAX_PERIOD.days} days",
            field="since", limit=MAX_PERIOD.days,
        )  # fmt: skip
    report = await state.database.run(build_report, state, start, end)
    if format == "html":
        return HTMLResponse(transparency_html(report, standalone=False))
    return JSONResponse(report.as_document())


@router.get(
    "/v1/decisions/{decision_id}/statement",
    response_model=StatementOut,
    responses=ERRORS,
    dependencies=[Depends(requires("read_decisions"))],
)
async def statement(decision_id: str, state: StateDep) -> StatementOut:
    """The statement of reasons of a decision: the restriction, the facts, the policy clause,
    whether automated means detected and decided it, and how to appeal."""
    stored = await state.database.run(get_decision, state.session_factory, decision_id)
    if stored is None:
        raise ApiError(404, "not_found", f"decision {decision_id[:80]!r} does not exist")
    found = statement_of_reasons(stored, state.policy.review)
    return StatementOut(**dataclasses.asdict(found))


def build_report(state: ServiceState, since: datetime, until: datetime) -> TransparencyReport:
    card = state.scorer.card
    targets = promise_targets(card)
    return transparency_report(
        state.session_factory, list(card.labels), targets, since=since, until=until,
        versions=(state.policy.version, card.model_id),
    )  # fmt: skip


def transparency_html(report: TransparencyReport, *, standalone: bool) -> str:
    return render("transparency.html", r=report, style=report_style() if standalone else None)


def _aware(moment: datetime | None) -> datetime | None:
    """A query time without an offset is read as UTC."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

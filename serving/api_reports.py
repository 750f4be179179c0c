"""Published figures: the transparency report of a period, and each decision's statement of
reasons."""

import dataclasses
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from serving.api_errors import ErrorResponse
from serving.api_score import readable_decision
from serving.auth import AUTH_ERRORS, requires
from serving.console.templating import render, report_style
from serving.deps import AnyCaller, ServiceState, StateDep
from serving.drift_report import DEFAULT_MIN_COUNT, default_windows, drift_report
from serving.qa_estimates import promise_targets
from serving.review_queue import get_item
from serving.schemas_qa import StatementOut
from serving.shadow_report import MAX_CHANGES, ShadowReport, shadow_report
from serving.statements import statement_of_reasons
from serving.tables import utc_now
from serving.transparency import TransparencyReport, transparency_report

router = APIRouter(tags=["reports"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (404, 422, 503)},
    **AUTH_ERRORS,
}
MAX_DAYS = 3660


@router.get(
    "/v1/reports/transparency",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/html": {}}}},
    dependencies=[Depends(requires("admin"))],
)
async def transparency(
    state: StateDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="length of the period")] = 30,
    ending_days_ago: Annotated[
        int, Query(ge=0, le=MAX_DAYS, description="the period ends this many days before now")
    ] = 0,
    format: Literal["json", "html"] = "json",
) -> Response:
    """The period's decisions by action, label and market, the automated share, QA accuracy
    estimates of automated decisions, appeals and handling times: JSON, or a printable page.
    (For any other period: ``listingguard-serve transparency-report --since --until``.)"""
    end = utc_now() - timedelta(days=ending_days_ago)
    start = end - timedelta(days=days)
    report = await state.database.run(build_report, state, start, end)
    if format == "html":
        return HTMLResponse(transparency_html(report, standalone=False))
    return JSONResponse(report.as_document())


@router.get(
    "/v1/reports/shadow",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/html": {}}}},
    dependencies=[Depends(requires("qa"))],
)
async def shadow(
    state: StateDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="length of the period")] = 7,
    ending_days_ago: Annotated[
        int, Query(ge=0, le=MAX_DAYS, description="the period ends this many days before now")
    ] = 0,
    format: Literal["json", "html"] = "json",
) -> Response:
    """The challenger scored in shadow (``LISTINGGUARD_SHADOW_BUNDLE``) against the champion
    over the period's decisions: how many both scored, the action matrix, per-label score
    changes, and the listings whose action the challenger would have changed."""
    end = utc_now() - timedelta(days=ending_days_ago)
    report = await state.database.run(
        shadow_report, state.session_factory, since=end - timedelta(days=days), until=end
    )
    if format == "html":
        return HTMLResponse(shadow_html(report, standalone=False))
    return JSONResponse(report.as_document())


def shadow_html(report: ShadowReport, *, standalone: bool) -> str:
    return render(
        "shadow.html",
        r=report,
        max_changes=MAX_CHANGES,
        style=report_style() if standalone else None,
    )


@router.get(
    "/v1/reports/drift",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "text/html": {}}}},
    dependencies=[Depends(requires("qa"))],
)
async def drift(
    state: StateDep,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="length of the current window")] = 1,
    reference_days: Annotated[
        int, Query(ge=1, le=MAX_DAYS, description="the reference: this many days before it")
    ] = 7,
    min_count: Annotated[
        int, Query(ge=10, le=1_000_000, description="decisions per side needed to judge")
    ] = DEFAULT_MIN_COUNT,
    format: Literal["json", "html"] = "json",
) -> Response:
    """Population stability of inputs (text length, price, category and market mix) and of each
    label's score, the current window against the one before it, per market; alerts above
    what sampling alone produces at the counts."""
    reference, current = default_windows(utc_now(), days, reference_days)
    labels = list(state.scorer.card.labels)
    report = await state.database.run(
        drift_report, state.session_factory, reference=reference, current=current,
        labels=labels, min_count=min_count, model_version=state.scorer.card.model_id,
    )  # fmt: skip
    if format == "html":
        return HTMLResponse(render("drift.html", r=report, style=None))
    return JSONResponse(report.as_document())


@router.get(
    "/v1/decisions/{decision_id}/statement",
    response_model=StatementOut,
    responses=ERRORS,
)
async def statement(decision_id: str, state: StateDep, caller: AnyCaller) -> StatementOut:
    """The statement of reasons of a decision: the restriction, the facts, the policy clause,
    whether automated means detected and decided it, and how to appeal."""
    stored = await readable_decision(state, caller, decision_id)
    clause = None
    if stored.human is not None:
        item = await state.database.run(get_item, state.session_factory, stored.human.item_id)
        clause = item.policy_clause if item is not None else None
    found = statement_of_reasons(stored, state.policy.review, human_clause=clause)
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

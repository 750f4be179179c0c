"""Console pages for QA and moderator training: the KPI page (promises against QA estimates,
queues, agreement, gold accuracy, per market and period) and the case library (browse, print,
JSON lines)."""

import io
from datetime import timedelta
from typing import Final
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from serving.api_errors import ApiError
from serving.auth import Caller, check_permission
from serving.case_export import cases_html, write_cases_jsonl
from serving.case_library import Case, list_cases, outcomes_now
from serving.console.pages import SECURITY_HEADERS, console_page, page_context, render_page
from serving.deps import ServiceState
from serving.drift_report import DEFAULT_MIN_COUNT, default_windows, drift_report
from serving.gold_set import gold_accuracy
from serving.kpis import daily_decisions, decision_markets, queue_kpis
from serving.qa_estimates import audit_report, promise_targets
from serving.second_review import double_review_agreement
from serving.tables import CLAUSE_LENGTH, utc_now

router = APIRouter(prefix="/console", include_in_schema=False)
FILTERS: Final = ("clause", "market", "label")


async def _cases(request: Request, state: ServiceState, caller: Caller) -> list[Case]:
    if not (caller.may("review") or caller.may("qa")):
        raise ApiError(403, "forbidden", f"role {caller.role} may not read the case library")
    chosen = _filters(request)
    found = await state.database.run(
        list_cases, state.session_factory, state.policy.review, **chosen,
        include_gold=caller.may("qa"),
    )  # fmt: skip
    return outcomes_now(found, state.scorer, state.policy)


def _filters(request: Request) -> dict[str, str | None]:
    return {
        name: (request.query_params.get(name, "").strip()[:CLAUSE_LENGTH] or None)
        for name in FILTERS
    }


async def _library(request: Request, state: ServiceState, caller: Caller) -> Response:
    cases = await _cases(request, state, caller)
    everything = await state.database.run(
        list_cases, state.session_factory, state.policy.review, include_gold=caller.may("qa")
    )
    choices = {
        "clause": sorted({c.policy_clause for c in everything if c.policy_clause}),
        "market": sorted({c.market for c in everything}),
        "label": sorted({label for c in everything for label in c.labels}),
    }
    query = urlencode({k: v for k, v in _filters(request).items() if v})
    context = page_context(
        request, caller, cases=cases, choices=choices, chosen=_filters(request), query=query,
        policy_version=state.policy.version,
    )  # fmt: skip
    return render_page("cases.html", **context)


async def _printable(request: Request, state: ServiceState, caller: Caller) -> Response:
    cases = await _cases(request, state, caller)
    html = cases_html(
        cases, generated_at=utc_now(), policy_version=state.policy.version,
        filters=_filters(request), standalone=False,
    )  # fmt: skip
    return Response(html, media_type="text/html", headers=SECURITY_HEADERS)


async def _jsonl(request: Request, state: ServiceState, caller: Caller) -> Response:
    cases = await _cases(request, state, caller)
    buffer = io.StringIO()
    write_cases_jsonl(cases, buffer)
    headers = SECURITY_HEADERS | {"Content-Disposition": 'attachment; filename="cases.jsonl"'}
    return Response(buffer.getvalue(), media_type="application/x-ndjson", headers=headers)


async def _kpi(request: Request, state: ServiceState, caller: Caller) -> Response:
    check_permission(caller, "qa")
    raw = request.query_params.get("days", "30")
    days = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 4 else 30
    days = days if 1 <= days <= 3650 else 30
    chosen = request.query_params.get("market", "")
    market = chosen if len(chosen) == 2 and chosen.isascii() and chosen.isupper() else None
    until = utc_now()
    since = until - timedelta(days=days)
    card, run, factory = state.scorer.card, state.database.run, state.session_factory
    report = await run(
        audit_report, factory, list(card.labels), promise_targets(card), since=since,
        until=until, market=market,
    )  # fmt: skip
    kpis = await run(queue_kpis, factory, since=since, until=until, market=market)
    gold = await run(gold_accuracy, factory, since=since, until=until)
    pairs = await run(double_review_agreement, factory, since=since, until=until)
    daily = await run(daily_decisions, factory, since=since, until=until, market=market)
    reference, current = default_windows(until)
    drift = await run(
        drift_report, factory, reference=reference, current=current, labels=list(card.labels),
        min_count=DEFAULT_MIN_COUNT, model_version=card.model_id,
    )  # fmt: skip
    context = page_context(
        request, caller, report=report, kpis=kpis, days=days, market=market, gold=gold,
        pairs=pairs, daily=daily, daily_peak=max((sum(d.values()) for _, d in daily), default=0),
        markets=await run(decision_markets, factory), confidence=0.95, drift=drift,
    )  # fmt: skip
    return render_page("kpi.html", **context)


router.add_api_route("/kpi", console_page(_kpi), methods=["GET"])
router.add_api_route("/cases", console_page(_library), methods=["GET"])
router.add_api_route("/cases/print", console_page(_printable), methods=["GET"])
router.add_api_route("/cases.jsonl", console_page(_jsonl), methods=["GET"])

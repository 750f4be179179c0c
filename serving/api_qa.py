"""QA: the live check of the routing promises from audited decisions, and the gold set."""

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from models.agreement import Agreement, Figure
from models.audit_estimates import Estimate
from serving.api_errors import ApiError, ErrorResponse
from serving.auth import AUTH_ERRORS, requires
from serving.deps import AnyCaller, StateDep
from serving.errors import (
    GoldCaseExistsError,
    GoldCaseNotFoundError,
    IllegalTransitionError,
    InvalidReviewError,
    ItemNotFoundError,
)
from serving.gold_set import (
    GoldCaseView,
    create_gold_case,
    gold_accuracy,
    list_gold_cases,
    retire_gold_case,
)
from serving.qa_estimates import audit_report, promise_targets
from serving.schemas_qa import (
    AgreementOut,
    AuditReportOut,
    EstimateOut,
    FigureOut,
    GoldCaseOut,
    GoldCaseRequest,
    GoldCasesOut,
    LabelCheckOut,
    ReviewerGoldOut,
)
from serving.second_review import double_review_agreement
from serving.tables import utc_now

router = APIRouter(tags=["qa"], dependencies=[Depends(requires("qa"))])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (404, 409, 413, 415, 422, 503)},
    **AUTH_ERRORS,
}
Market = Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="one market, or all")]


@router.get("/v1/qa/estimates", response_model=AuditReportOut, responses=ERRORS)
async def estimates(
    state: StateDep, days: Annotated[int, Query(ge=1, le=3650)] = 30, market: Market = None
) -> AuditReportOut:
    """Per label, the promise beside its QA estimate over the last ``days`` (design-weighted,
    simultaneous exact intervals): flagged when the whole interval lies above the promise. Also
    violations among auto-allowed decisions, prevalence, reviewer accuracy against QA and on
    gold cases, and agreement between reviewers and QA and between double reviews."""
    card = state.scorer.card
    targets = promise_targets(card)
    until = utc_now()
    since = until - timedelta(days=days)
    factory, run = state.session_factory, state.database.run
    report = await run(
        audit_report, factory, list(card.labels), targets, since=since, until=until, market=market
    )
    gold = await run(gold_accuracy, factory, since=since, until=until)
    pairs = await run(double_review_agreement, factory, since=since, until=until)
    return AuditReportOut(
        since=report.since,
        until=report.until,
        market=report.market,
        audited=report.audited,
        pending=report.pending,
        labels=[
            LabelCheckOut(
                label=check.label,
                violations_let_through=estimate_out(check.let_through),
                let_through_promise=check.let_through_target,
                wrong_enforcements=estimate_out(check.wrong_enforcements),
                wrong_enforcements_promise=check.wrong_enforcements_target,
                violations_among_auto_allowed=estimate_out(check.violations_among_allowed),
                prevalence=estimate_out(check.prevalence),
                breached=check.breached(),
            )
            for check in report.labels
        ],
        reviewer_accuracy=estimate_out(report.reviewer_accuracy),
        reviewer_agreement=agreement_out(report.reviewer_agreement),
        gold_accuracy=[
            ReviewerGoldOut(
                reviewer=g.reviewer,
                answered=g.answered,
                correct=g.correct,
                accuracy=estimate_out(g.accuracy),
            )
            for g in gold
        ],
        second_review_agreement=agreement_out(pairs),
    )


@router.get("/v1/qa/gold", response_model=GoldCasesOut, responses=ERRORS)
async def gold_cases(state: StateDep, include_retired: bool = False) -> GoldCasesOut:
    """The gold cases, with how often each was served and answered right."""
    cases = await state.database.run(
        list_gold_cases, state.session_factory, include_retired=include_retired
    )
    return GoldCasesOut(cases=[gold_out(case) for case in cases])


@router.post("/v1/qa/gold", response_model=GoldCaseOut, status_code=201, responses=ERRORS)
async def add_gold_case(body: GoldCaseRequest, state: StateDep, caller: AnyCaller) -> GoldCaseOut:
    """Make the answer of a decided qa, appeal or senior item a gold case; reviewers are then
    served it at the policy's gold rate (never the one who gave the answer)."""
    case = await _gold_act(
        state, create_gold_case, state.session_factory, body.item_id,
        rationale=body.rationale, created_by=caller.name, review=state.policy.review,
    )  # fmt: skip
    return gold_out(case)


@router.post("/v1/qa/gold/{case_id}/retire", response_model=GoldCaseOut, responses=ERRORS)
async def retire_case(case_id: str, state: StateDep, caller: AnyCaller) -> GoldCaseOut:
    """Stop serving a gold case; its answers so far still count."""
    case = await _gold_act(
        state, retire_gold_case, state.session_factory, case_id, actor=caller.name
    )
    return gold_out(case)


async def _gold_act(
    state: StateDep, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    try:
        return await state.database.run(function, *args, **kwargs)
    except (ItemNotFoundError, GoldCaseNotFoundError) as error:
        raise ApiError(404, "not_found", str(error)) from error
    except (GoldCaseExistsError, IllegalTransitionError) as error:
        raise ApiError(409, "conflict", str(error)) from error
    except InvalidReviewError as error:
        field = "rationale" if str(error).startswith("rationale") else "item_id"
        raise ApiError(422, "invalid_gold_case", str(error), field=field) from error


def gold_out(case: GoldCaseView) -> GoldCaseOut:
    return GoldCaseOut.model_validate(dataclasses.asdict(case))


def agreement_out(found: Agreement) -> AgreementOut:
    return AgreementOut(
        raw=_figure(found.raw),
        positive=_figure(found.positive),
        krippendorff_alpha=_figure(found.alpha),
        prevalence=found.prevalence,
    )


def _figure(figure: Figure) -> FigureOut:
    return FigureOut(value=figure.value, low=figure.low, high=figure.high, units=figure.units)


def estimate_out(estimate: Estimate) -> EstimateOut:
    return EstimateOut(
        value=estimate.value,
        low=estimate.low,
        high=estimate.high,
        confidence=estimate.confidence,
        audited=estimate.audited,
    )

"""QA: the live check of the routing promises from audited decisions."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from models.agreement import Figure
from models.audit_estimates import Estimate
from serving.api_errors import ErrorResponse
from serving.auth import AUTH_ERRORS, requires
from serving.deps import StateDep
from serving.qa_estimates import audit_report
from serving.schemas import AgreementOut, AuditReportOut, EstimateOut, FigureOut, LabelCheckOut
from serving.tables import utc_now

router = APIRouter(tags=["qa"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (422, 503)},
    **AUTH_ERRORS,
}


@router.get(
    "/v1/qa/estimates",
    response_model=AuditReportOut,
    responses=ERRORS,
    dependencies=[Depends(requires("qa"))],
)
async def estimates(
    state: StateDep, days: Annotated[int, Query(ge=1, le=3650)] = 30
) -> AuditReportOut:
    """Per label, the promise beside its QA estimate over the last ``days`` (design-weighted,
    simultaneous exact intervals): flagged when the whole interval lies above the promise."""
    card = state.scorer.card
    targets = {
        label: (
            edges.let_through.target if edges.let_through else None,
            edges.wrong_enforcements.target if edges.wrong_enforcements else None,
        )
        for label, edges in card.thresholds.items()
    }
    until = utc_now()
    report = await state.database.run(
        audit_report, state.session_factory, list(card.labels), targets,
        since=until - timedelta(days=days), until=until,
    )  # fmt: skip
    return AuditReportOut(
        since=report.since,
        until=report.until,
        audited=report.audited,
        labels=[
            LabelCheckOut(
                label=check.label,
                violations_let_through=_out(check.let_through),
                let_through_promise=check.let_through_target,
                wrong_enforcements=_out(check.wrong_enforcements),
                wrong_enforcements_promise=check.wrong_enforcements_target,
                breached=check.breached(),
            )
            for check in report.labels
        ],
        reviewer_accuracy=_out(report.reviewer_accuracy),
        reviewer_agreement=AgreementOut(
            raw=_figure(report.reviewer_agreement.raw),
            positive=_figure(report.reviewer_agreement.positive),
            krippendorff_alpha=_figure(report.reviewer_agreement.alpha),
            prevalence=report.reviewer_agreement.prevalence,
        ),
    )


def _figure(figure: Figure) -> FigureOut:
    return FigureOut(value=figure.value, low=figure.low, high=figure.high, units=figure.units)


def _out(estimate: Estimate) -> EstimateOut:
    return EstimateOut(
        value=estimate.value,
        low=estimate.low,
        high=estimate.high,
        confidence=estimate.confidence,
        audited=estimate.audited,
    )

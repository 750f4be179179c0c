"""Sellers' side of review: appeals on enforced listings, overturn rates, account health."""

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from serving.api_errors import ApiError, ErrorResponse
from serving.api_queue import detail_out
from serving.appeals import file_appeal, overturn_rates
from serving.auth import AUTH_ERRORS, requires
from serving.deps import OutcomesCaller, ReviewerCaller, StateDep
from serving.errors import AppealNotAllowedError
from serving.schemas import (
    AppealRequest,
    OverturnRateOut,
    OverturnStatsOut,
    QueueItemDetailOut,
    SellerOut,
    StrikeOut,
)
from serving.seller_health import seller_standing
from serving.tables import utc_now

router = APIRouter(tags=["appeals and sellers"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (409, 413, 415, 422, 503)},
    **AUTH_ERRORS,
}


@router.post("/v1/appeals", status_code=201, response_model=QueueItemDetailOut, responses=ERRORS)
async def appeal(body: AppealRequest, state: StateDep, caller: OutcomesCaller) -> JSONResponse:
    """A seller appeals an enforced listing: an appeal item for someone other than the
    original decider; 409 when the listing is not blocked or already under appeal."""
    try:
        item = await state.database.run(
            file_appeal,
            state.session_factory,
            body.listing_id,
            reason=body.reason,
            filed_by=caller.name,
            review=state.policy.review,
        )
    except AppealNotAllowedError as error:
        raise ApiError(409, "not_appealable", str(error)) from error
    except IntegrityError as error:  # a concurrent appeal on the same listing won the race
        message = f"listing {body.listing_id[:80]!r} already has an open appeal"
        raise ApiError(409, "not_appealable", message) from error
    return JSONResponse(detail_out(item).model_dump(mode="json"), status_code=201)


@router.get("/v1/appeals/stats", response_model=OverturnStatsOut, responses=ERRORS)
async def appeal_stats(
    state: StateDep,
    caller: ReviewerCaller,
    by: Literal["label", "reviewer", "model_version", "policy_version"] = "label",
) -> OverturnStatsOut:
    """Decided appeals and the share overturned, per group."""
    rates = await state.database.run(overturn_rates, state.session_factory, by)
    return OverturnStatsOut(
        by=by,
        groups=[
            OverturnRateOut(group=r.group, appeals=r.appeals, overturned=r.overturned, rate=r.rate)
            for r in rates
        ],
    )


@router.get(
    "/v1/sellers/{seller_id}",
    response_model=SellerOut,
    responses=ERRORS,
    dependencies=[Depends(requires("read_decisions"))],
)
async def read_seller(seller_id: str, state: StateDep) -> SellerOut:
    """A seller's strikes, points and current penalty (an unknown seller has none)."""
    rules = state.policy.review.strikes
    standing = await state.database.run(seller_standing, state.session_factory, seller_id, rules)
    now = utc_now()
    return SellerOut(
        seller_id=seller_id,
        points=standing.points,
        penalty=standing.penalty,
        forced_review=rules.forces_review(standing.points),
        strikes=[
            StrikeOut(
                id=s.id,
                listing_id=s.listing_id,
                labels=s.labels,
                severity=s.severity,
                source=s.source,
                created_at=s.created_at,
                expires_at=s.expires_at,
                removed_at=s.removed_at,
                removed_reason=s.removed_reason,
                active=s.active(now),
            )
            for s in standing.strikes
        ],
    )

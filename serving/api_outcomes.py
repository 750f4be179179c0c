"""What pipelines hear back: the outcome feed, and withdrawing a listing from review."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from serving.api_errors import ApiError, ErrorResponse
from serving.auth import AUTH_ERRORS
from serving.deps import OutcomesCaller, RequestIdDep, StateDep
from serving.errors import InvalidReviewError, ItemChangedError
from serving.outcome_events import MAX_EVENTS_PAGE, events_after
from serving.review_actions import withdraw_listing
from serving.schemas import EventOut, EventsPage, WithdrawOut, WithdrawRequest
from serving.tables import LISTING_ID_LENGTH

router = APIRouter(tags=["outcomes"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (409, 413, 415, 422, 503)},
    **AUTH_ERRORS,
}


@router.get("/v1/events", response_model=EventsPage, responses=ERRORS)
async def read_events(
    state: StateDep,
    caller: OutcomesCaller,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_PAGE)] = 100,
) -> EventsPage:
    """Human decisions, escalations and withdrawals after event ``after``, in commit order."""
    events = await state.database.run(events_after, state.session_factory, after, limit=limit)
    return EventsPage(
        events=[
            EventOut(
                id=e.id,
                at=e.at,
                type=e.type,
                listing_id=e.listing_id,
                seller_id=e.seller_id,
                item_id=e.item_id,
                payload=e.payload,
            )
            for e in events
        ],
        next_after=events[-1].id if events else after,
    )


@router.post("/v1/listings/{listing_id}/withdraw", response_model=WithdrawOut, responses=ERRORS)
async def withdraw(
    listing_id: Annotated[str, Path(max_length=LISTING_ID_LENGTH)],
    body: WithdrawRequest,
    state: StateDep,
    caller: OutcomesCaller,
    request_id: RequestIdDep,
) -> WithdrawOut:
    """The listing was taken down: its open, claimed, held and escalated items close."""
    try:
        closed = await state.database.run(
            withdraw_listing,
            state.session_factory,
            listing_id,
            caller.name,
            reason=body.reason,
            role=caller.role,
            request_id=request_id,
        )
    except InvalidReviewError as error:
        raise ApiError(422, "invalid_review", str(error), field="reason") from error
    except ItemChangedError as error:
        raise ApiError(409, "conflict", str(error)) from error
    return WithdrawOut(listing_id=listing_id, closed_items=closed)

"""The review queue: list items, claim the next one, record a reviewer's decision."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session, sessionmaker

from serving.api_errors import ApiError, ErrorResponse
from serving.deps import StateDep
from serving.errors import (
    InvalidReviewError,
    ItemAlreadyDecidedError,
    ItemNotClaimedError,
    ItemNotFoundError,
    QueueContentionError,
)
from serving.review_queue import (
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    QueueItem,
    claim_next,
    count_items,
    decide,
    list_items,
)
from serving.schemas import ClaimRequest, QueueItemOut, QueuePage, ReviewDecisionRequest

router = APIRouter(prefix="/v1/queue", tags=["review queue"])
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (404, 409, 413, 415, 422, 503)
}
Status = Literal["open", "claimed", "decided", "superseded"]


@router.get("", response_model=QueuePage, responses=ERRORS)
async def list_queue(
    state: StateDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> QueuePage:
    """Queue items, most urgent first (highest review priority, then oldest)."""
    items, total = await state.database.run(
        _page, state.session_factory, status=status, limit=limit, offset=offset
    )
    return QueuePage(items=[_out(item) for item in items], total=total, limit=limit, offset=offset)


def _page(
    session_factory: sessionmaker[Session], *, status: str | None, limit: int, offset: int
) -> tuple[list[QueueItem], int]:
    items = list_items(session_factory, status=status, limit=limit, offset=offset)
    return items, count_items(session_factory, status=status)


@router.post(
    "/claim",
    response_model=QueueItemOut,
    responses={**ERRORS, 204: {"description": "nothing to claim"}},
)
async def claim(body: ClaimRequest, state: StateDep) -> QueueItemOut | Response:
    """Claim the most urgent open item (or one whose claim lease expired)."""
    try:
        item = await state.database.run(
            claim_next,
            state.session_factory,
            body.reviewer,
            lease_seconds=state.settings.review_lease_seconds,
        )
    except QueueContentionError as error:
        raise ApiError(503, "queue_busy", str(error)) from error
    except InvalidReviewError as error:
        raise ApiError(422, "invalid_review", str(error), field="reviewer") from error
    if item is None:
        return Response(status_code=204)
    return _out(item)


@router.post("/{item_id}/decision", response_model=QueueItemOut, responses=ERRORS)
async def record_review(item_id: str, body: ReviewDecisionRequest, state: StateDep) -> QueueItemOut:
    """Record the reviewer's action on an item they hold; closes the item."""
    try:
        item = await state.database.run(
            decide, state.session_factory, item_id, body.reviewer, body.action, body.reason
        )
    except ItemNotFoundError as error:
        raise ApiError(404, "not_found", str(error)) from error
    except (ItemNotClaimedError, ItemAlreadyDecidedError) as error:
        raise ApiError(409, "conflict", str(error)) from error
    except InvalidReviewError as error:
        raise ApiError(422, "invalid_review", str(error)) from error
    return _out(item)


def _out(item: QueueItem) -> QueueItemOut:
    return QueueItemOut(
        id=item.id,
        decision_id=item.decision_id,
        listing_id=item.listing_id,
        title=item.title,
        status=item.status,
        priority=item.priority,
        model_action=item.action,
        scores=item.scores,
        created_at=item.created_at,
        claimed_by=item.claimed_by,
        claimed_at=item.claimed_at,
        decided_by=item.decided_by,
        reviewer_action=item.reviewer_action,
        reviewer_reason=item.reviewer_reason,
        decided_at=item.decided_at,
    )

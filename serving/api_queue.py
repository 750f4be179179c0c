"""The work queues: list and read items, claim the next one, release, hold, escalate, decide."""

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session, sessionmaker

from serving.api_errors import ApiError, ErrorResponse
from serving.auth import AUTH_ERRORS, Caller, check_permission
from serving.deps import AnyCaller, StateDep
from serving.errors import (
    IllegalTransitionError,
    InvalidReviewError,
    ItemChangedError,
    ItemNotClaimedError,
    ItemNotFoundError,
    QueueContentionError,
    VerdictRequiredError,
)
from serving.review_actions import claim_next, decide, escalate, hold, release
from serving.review_queue import (
    DISGUISED_KINDS,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    HistoryEntry,
    QueueItem,
    as_review_item,
    count_items,
    get_item,
    item_history,
    list_items,
)
from serving.roles import KIND_PERMISSION
from serving.schemas import (
    ClaimRequest,
    EscalateRequest,
    HistoryEntryOut,
    HoldRequest,
    ItemHistoryOut,
    Kind,
    QaVerdictRequest,
    QueueItemDetailOut,
    QueueItemOut,
    QueuePage,
    ReasonOut,
    ReleaseRequest,
    ReviewDecisionRequest,
    Status,
)
from serving.tables import utc_now

router = APIRouter(prefix="/v1/queue", tags=["review queue"])
ERRORS: dict[int | str, dict[str, object]] = {
    **{code: {"model": ErrorResponse} for code in (404, 409, 413, 415, 422, 503)},
    **AUTH_ERRORS,
}


@router.get("", response_model=QueuePage, responses=ERRORS)
async def list_queue(
    state: StateDep,
    caller: AnyCaller,
    kind: Kind = "review",
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> QueuePage:
    """Work items of one kind (default: review), most urgent first (earliest SLA deadline
    advanced by urgency)."""
    check_permission(caller, KIND_PERMISSION[kind])  # gold and second: QA only
    items, total = await state.database.run(
        _page, state.session_factory, kind, status, limit, offset
    )
    items_out = [item_out(shown(item, caller)) for item in items]
    return QueuePage(items=items_out, total=total, limit=limit, offset=offset)


def _page(
    session_factory: sessionmaker[Session],
    kind: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[QueueItem], int]:
    items = list_items(session_factory, kind=kind, status=status, limit=limit, offset=offset)
    return items, count_items(session_factory, kind=kind, status=status)


@router.post(
    "/claim",
    response_model=QueueItemDetailOut,
    responses={**ERRORS, 204: {"description": "nothing to claim"}},
)
async def claim(
    body: ClaimRequest, state: StateDep, caller: AnyCaller
) -> QueueItemDetailOut | Response:
    """Claim the most urgent open item of a kind (expired claims and due holds count as open)."""
    check_permission(caller, KIND_PERMISSION[body.kind])
    item = await _act(
        state,
        claim_next,
        state.session_factory,
        caller.name,
        kind=body.kind,
        lease_seconds=state.settings.review_lease_seconds,
        review=state.policy.review,
    )
    if item is None:
        return Response(status_code=204)
    return detail_out(shown(item, caller))


@router.get("/{item_id}", response_model=QueueItemDetailOut, responses=ERRORS)
async def read_item(item_id: str, state: StateDep, caller: AnyCaller) -> QueueItemDetailOut:
    """One item with its listing, scores, reasons, rules and the policy clause (a qa item
    blind until its verdict)."""
    return detail_out(shown(await _readable(state, caller, item_id), caller))


async def _readable(state: StateDep, caller: AnyCaller, item_id: str) -> QueueItem:
    """The item, if the caller's role may work its kind; 404 / 403 otherwise."""
    item = await state.database.run(get_item, state.session_factory, item_id)
    if item is None or not may_read(item, caller):
        raise ApiError(404, "not_found", str(ItemNotFoundError(item_id)))
    if item.kind not in DISGUISED_KINDS:  # may_read let through QA and the item's reviewer
        check_permission(caller, KIND_PERMISSION[item.kind])
    return item


def may_read(item: QueueItem, caller: Caller) -> bool:
    """A gold or second item exists only for QA and the reviewer it was served to (to anyone
    else it is not found: a 403 would say what it is)."""
    if item.kind not in DISGUISED_KINDS or caller.may("qa"):
        return True
    return caller.name in (item.claimed_by, item.decided_by)


def shown_history(
    item: QueueItem, caller: Caller, entries: list[HistoryEntry]
) -> list[HistoryEntry]:
    """The history the caller may see: no reasons on a blind audit (they could tell how the
    audited decision was made); a gold or second item's reviewer sees only what a review item
    of theirs would show (how a gold item closes is QA's business)."""
    if not caller.may("qa") and item.kind in DISGUISED_KINDS:
        entries = [e for e in entries if e.event in ("open", "claim", "decide", "hold")]
        return [dataclasses.replace(e, reason=None) for e in entries]
    if is_blind(item):
        return [dataclasses.replace(entry, reason=None) for entry in entries]
    return entries


def shown(item: QueueItem, caller: Caller) -> QueueItem:
    """The item as the caller may see it: gold and second items look like review items to
    anyone but QA."""
    return item if caller.may("qa") else as_review_item(item)


@router.get("/{item_id}/history", response_model=ItemHistoryOut, responses=ERRORS)
async def read_history(item_id: str, state: StateDep, caller: AnyCaller) -> ItemHistoryOut:
    """Every status change of the item: who, when, from, to, why."""
    item = await _readable(state, caller, item_id)
    entries = shown_history(
        item, caller, await _act(state, item_history, state.session_factory, item_id)
    )
    return ItemHistoryOut(
        item_id=item_id,
        history=[
            HistoryEntryOut(
                at=e.at,
                actor=e.actor,
                event=e.event,
                from_status=e.from_status,
                to_status=e.to_status,
                reason=e.reason,
            )
            for e in entries
        ],
    )


@router.post("/{item_id}/release", response_model=QueueItemDetailOut, responses=ERRORS)
async def release_item(
    item_id: str, body: ReleaseRequest, state: StateDep, caller: AnyCaller
) -> QueueItemDetailOut:
    """Give back a claimed or held item: it returns to the queue."""
    item = await _act(
        state, release, state.session_factory, item_id, caller.name, reason=body.reason
    )
    return detail_out(shown(item, caller))


@router.post("/{item_id}/hold", response_model=QueueItemDetailOut, responses=ERRORS)
async def hold_item(
    item_id: str, body: HoldRequest, state: StateDep, caller: AnyCaller
) -> QueueItemDetailOut:
    """Park a claimed item until a due time (waiting on information); it then returns to the
    queue."""
    item = await _act(
        state,
        hold,
        state.session_factory,
        item_id,
        caller.name,
        reason=body.reason,
        until=utc_now() + timedelta(hours=body.hours),
    )
    return detail_out(shown(item, caller))


@router.post("/{item_id}/escalate", response_model=QueueItemDetailOut, responses=ERRORS)
async def escalate_item(
    item_id: str, body: EscalateRequest, state: StateDep, caller: AnyCaller
) -> QueueItemDetailOut:
    """Send a claimed review item to the senior queue; answers the new senior item."""
    item = await _act(
        state,
        escalate,
        state.session_factory,
        item_id,
        caller.name,
        reason=body.reason,
        review=state.policy.review,
    )
    return detail_out(shown(item, caller))


@router.post("/{item_id}/decision", response_model=QueueItemDetailOut, responses=ERRORS)
async def record_review(
    item_id: str, body: ReviewDecisionRequest, state: StateDep, caller: AnyCaller
) -> QueueItemDetailOut:
    """Decide an item you hold: action, a reason code of the policy, the clause, a note."""
    item = await _act(
        state,
        decide,
        state.session_factory,
        item_id,
        caller.name,
        action=body.action,
        reason_code=body.reason_code,
        review=state.policy.review,
        policy_clause=body.policy_clause,
        note=body.note,
    )
    return detail_out(shown(item, caller))


@router.post("/{item_id}/verdict", response_model=QueueItemDetailOut, responses=ERRORS)
async def record_verdict(
    item_id: str, body: QaVerdictRequest, state: StateDep, caller: AnyCaller
) -> QueueItemDetailOut:
    """Close a qa item you hold with your audit verdict; the item is then no longer blind."""
    item = await _act(
        state,
        decide,
        state.session_factory,
        item_id,
        caller.name,
        action=body.action,
        reason_code=body.reason_code,
        review=state.policy.review,
        policy_clause=body.policy_clause,
        note=body.note,
        violations=body.violations,
    )
    return detail_out(shown(item, caller))


async def _act(state: StateDep, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a queue operation on the database threads; its errors as HTTP answers."""
    try:
        return await state.database.run(function, *args, **kwargs)
    except ItemNotFoundError as error:
        raise ApiError(404, "not_found", str(error)) from error
    except (
        ItemNotClaimedError,
        IllegalTransitionError,
        ItemChangedError,
        VerdictRequiredError,
    ) as error:
        raise ApiError(409, "conflict", str(error)) from error
    except QueueContentionError as error:
        raise ApiError(503, "queue_busy", str(error)) from error
    except InvalidReviewError as error:
        raise ApiError(422, "invalid_review", str(error), field=_field_of(str(error))) from error


def _field_of(message: str) -> str | None:
    name = message.split(" ", 1)[0]
    known = ("reviewer", "reason", "reason_code", "note", "policy_clause", "action", "violations")
    return name if name in known else None


def item_out(item: QueueItem) -> QueueItemOut:
    return QueueItemOut(**_common(item))


def is_blind(item: QueueItem) -> bool:
    """QA judges a sampled decision without seeing it until the verdict is in."""
    return item.kind == "qa" and item.status != "decided"


def detail_out(item: QueueItem) -> QueueItemDetailOut:
    explanation = {} if is_blind(item) else item.explanation
    reasons = {
        label: [ReasonOut(**reason) for reason in entries]
        for label, entries in explanation.get("reasons", {}).items()
    }
    return QueueItemDetailOut(
        **_common(item),
        listing=item.listing,
        bands={} if is_blind(item) else item.bands,
        reasons=reasons,
        rules=list(explanation.get("rules", [])),
        model_policy_clause=explanation.get("clause"),
        market=item.market,
        model_version=item.model_version,
        policy_version=item.policy_version,
    )


def _common(item: QueueItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "decision_id": "hidden" if is_blind(item) else item.decision_id,
        "listing_id": item.listing_id,
        "seller_id": item.seller_id,
        "parent_id": None if is_blind(item) else item.parent_id,
        "title": item.title,
        "status": item.status,
        "priority": item.priority,
        "priority_factors": item.priority_factors,
        "due_at": item.due_at,
        "sla_breached": item.sla_breached(utc_now()),
        "model_action": "hidden" if is_blind(item) else item.model_action,
        "scores": {} if is_blind(item) else item.scores,
        "created_at": item.created_at,
        "claimed_by": item.claimed_by,
        "claimed_at": item.claimed_at,
        "lease_expires_at": item.lease_expires_at,
        "held_until": item.held_until,
        "decided_by": item.decided_by,
        "human_action": item.human_action,
        "reason_code": item.reason_code,
        "policy_clause": item.policy_clause,
        "note": item.note,
        "decided_at": item.decided_at,
        "turnaround_seconds": item.turnaround_seconds,
        "inclusion_probability": None if is_blind(item) else item.inclusion_probability,
        "qa_labels": item.qa_labels,
        "blind": is_blind(item),
    }

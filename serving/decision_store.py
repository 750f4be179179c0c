"""Recording scoring decisions, idempotently, and queueing the ones that need a human.

One call to :func:`record_decision` is one transaction: the decision row and, for a ``review``
action, the listing's single open-or-claimed queue item (created, or repointed at the newer
decision). Retried requests carrying the same idempotency key get the stored decision back and
write nothing, including when two identical requests race.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from serving.errors import InvalidDecisionError
from serving.tables import (
    ACTIONS,
    ACTIVE_REVIEW_STATUSES,
    BANDS,
    IDEMPOTENCY_KEY_LENGTH,
    LISTING_ID_LENGTH,
    DecisionRecord,
    ReviewItem,
    is_record_id,
    utc_now,
)

MAX_RECORD_ATTEMPTS: Final = 3
"""Two different decisions for one listing can race to open its queue item; the loser retries."""


@dataclass(frozen=True, slots=True)
class NewDecision:
    """A decision the scoring endpoint wants stored; ``priority`` orders it in the review queue."""

    idempotency_key: str
    listing_id: str
    content_hash: str
    request_id: str
    market: str
    listing: dict[str, Any]
    scores: dict[str, float]
    bands: dict[str, str]
    regulated_category: str | None
    category_scores: dict[str, float]
    action: str
    explanation: dict[str, Any]
    model_version: str
    threshold_set_id: str
    policy_version: str
    priority: float = 0.0

    def __post_init__(self) -> None:
        _check_length("idempotency_key", self.idempotency_key, IDEMPOTENCY_KEY_LENGTH)
        _check_length("listing_id", self.listing_id, LISTING_ID_LENGTH)
        _check_choice("action", self.action, ACTIONS)
        for label, band in self.bands.items():
            _check_choice(f"bands[{label!r}]", band, BANDS)
        _check_probabilities("scores", self.scores)
        _check_probabilities("category_scores", self.category_scores)
        if not math.isfinite(self.priority):
            raise InvalidDecisionError(f"priority = {self.priority!r} is not a finite number")


def _check_length(name: str, value: str, limit: int) -> None:
    if not value or len(value) > limit:
        raise InvalidDecisionError(
            f"{name} must be 1 to {limit} characters, got {len(value)}: {value[:80]!r}"
        )


def _check_probabilities(name: str, probabilities: dict[str, float]) -> None:
    for label, probability in probabilities.items():
        if not 0.0 <= probability <= 1.0:
            raise InvalidDecisionError(
                f"{name}[{label!r}] = {probability!r} is not a probability in [0, 1]"
            )


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidDecisionError(f"{name} = {value!r}; expected one of {', '.join(allowed)}")


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A recorded decision, detached from any session; ``review_item_id`` is its queue item."""

    id: str
    idempotency_key: str
    listing_id: str
    content_hash: str
    request_id: str
    market: str
    listing: dict[str, Any]
    scores: dict[str, float]
    bands: dict[str, str]
    regulated_category: str | None
    category_scores: dict[str, float]
    action: str
    explanation: dict[str, Any]
    model_version: str
    threshold_set_id: str
    policy_version: str
    created_at: datetime
    review_item_id: str | None = None


def record_decision(
    session_factory: sessionmaker[Session], new: NewDecision
) -> tuple[StoredDecision, bool]:
    """Store ``new`` (and queue it when its action is ``review``); ``True`` if newly created.

    A decision already stored under ``new.idempotency_key`` is returned unchanged with ``False``.
    """
    for _ in range(MAX_RECORD_ATTEMPTS - 1):
        try:
            return _record_once(session_factory, new)
        except IntegrityError:
            # Either an identical request won the race (found by key on the next pass) or another
            # decision for this listing opened its queue item first (the next pass repoints it).
            continue
    return _record_once(session_factory, new)


def record_decisions(
    session_factory: sessionmaker[Session], batch: Sequence[NewDecision]
) -> list[tuple[StoredDecision, bool]]:
    """:func:`record_decision` for a batch, in order, in one transaction.

    A repeated idempotency key — stored earlier or earlier in ``batch`` — returns the stored
    decision with ``False``. If a concurrent writer conflicts, the batch is rolled back and
    recorded one decision at a time.
    """
    try:
        return _record_batch_once(session_factory, batch)
    except IntegrityError:
        return [record_decision(session_factory, new) for new in batch]


def _record_batch_once(
    session_factory: sessionmaker[Session], batch: Sequence[NewDecision]
) -> list[tuple[StoredDecision, bool]]:
    keys = {new.idempotency_key for new in batch}
    with session_factory.begin() as session:
        known = {
            record.idempotency_key: record
            for record in session.scalars(
                select(DecisionRecord).where(DecisionRecord.idempotency_key.in_(keys))
            )
        }
        results = []
        for new in batch:
            record = known.get(new.idempotency_key)
            if record is not None:
                results.append((_replay(session, record, new), False))
                continue
            known[new.idempotency_key] = record = _new_record(new)
            results.append((_add(session, record, new), True))
        return results


def _record_once(
    session_factory: sessionmaker[Session], new: NewDecision
) -> tuple[StoredDecision, bool]:
    with session_factory.begin() as session:
        record = session.scalars(
            select(DecisionRecord).where(DecisionRecord.idempotency_key == new.idempotency_key)
        ).first()
        if record is not None:
            return _replay(session, record, new), False
        return _add(session, _new_record(new), new), True


def get_decision(session_factory: sessionmaker[Session], decision_id: str) -> StoredDecision | None:
    """The decision with ``decision_id``, or ``None`` if there is none."""
    if not is_record_id(decision_id):
        return None
    with session_factory() as session:
        record = session.get(DecisionRecord, decision_id)
        return None if record is None else _to_stored(session, record)


def _add(session: Session, record: DecisionRecord, new: NewDecision) -> StoredDecision:
    """Insert ``record`` and apply it to the queue: enqueue a review, supersede otherwise."""
    session.add(record)
    session.flush()
    if new.action == "review":
        return _to_stored(session, record, review_item_id=_enqueue(session, record, new.priority))
    _supersede_open_item(session, record)
    return _to_stored(session, record, review_item_id=None)


def _replay(session: Session, record: DecisionRecord, new: NewDecision) -> StoredDecision:
    """Return a stored decision and make the queue agree with it again.

    Content can come back (A, edited to B, reverted to A): A's decision is replayed, so the
    queue must follow A again — re-queued unless a reviewer already decided A, or any open
    item superseded when A needs no review. For a plain retry this changes nothing.
    """
    if record.action != "review":
        _supersede_open_item(session, record)
        return _to_stored(session, record)
    decided = session.scalars(
        select(ReviewItem.id).where(
            ReviewItem.decision_id == record.id, ReviewItem.status == "decided"
        )
    ).first()
    if decided is not None:
        return _to_stored(session, record, review_item_id=decided)
    return _to_stored(session, record, review_item_id=_enqueue(session, record, new.priority))


def _new_record(new: NewDecision) -> DecisionRecord:
    return DecisionRecord(
        idempotency_key=new.idempotency_key,
        listing_id=new.listing_id,
        content_hash=new.content_hash,
        request_id=new.request_id,
        market=new.market,
        listing=dict(new.listing),
        scores=dict(new.scores),
        bands=dict(new.bands),
        regulated_category=new.regulated_category,
        category_scores=dict(new.category_scores),
        action=new.action,
        explanation=dict(new.explanation),
        model_version=new.model_version,
        threshold_set_id=new.threshold_set_id,
        policy_version=new.policy_version,
        created_at=utc_now(),
        seller_id=new.listing.get("seller_id"),
    )


def _enqueue(session: Session, record: DecisionRecord, priority: float) -> str:
    """Point the listing's active queue item at ``record``, creating the item if there is none."""
    active = session.scalars(
        select(ReviewItem)
        .where(
            ReviewItem.listing_id == record.listing_id,
            ReviewItem.status.in_(ACTIVE_REVIEW_STATUSES),
        )
        .with_for_update()
    ).first()
    if active is not None:
        active.decision_id = record.id
        active.priority = priority
        active.updated_at = record.created_at
    else:
        active = ReviewItem(
            decision_id=record.id,
            listing_id=record.listing_id,
            status="open",
            priority=priority,
            created_at=record.created_at,
            updated_at=record.created_at,
        )
        session.add(active)
    session.flush()
    return active.id


def _supersede_open_item(session: Session, record: DecisionRecord) -> None:
    """A listing re-scored to allow or block leaves the queue unless a reviewer already holds it.

    The item keeps pointing at the decision that queued it, so the audit trail shows what was
    waiting; a claimed item stays with its reviewer.
    """
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.listing_id == record.listing_id, ReviewItem.status == "open")
        .values(status="superseded", updated_at=record.created_at)
    )


def _to_stored(
    session: Session, record: DecisionRecord, *, review_item_id: str | None = None
) -> StoredDecision:
    if review_item_id is None:
        review_item_id = session.scalars(
            select(ReviewItem.id)
            .where(ReviewItem.decision_id == record.id)
            .order_by(ReviewItem.created_at.desc())
        ).first()
    return StoredDecision(
        id=record.id,
        idempotency_key=record.idempotency_key,
        listing_id=record.listing_id,
        content_hash=record.content_hash,
        request_id=record.request_id,
        market=record.market,
        listing=dict(record.listing),
        scores=dict(record.scores),
        bands=dict(record.bands),
        regulated_category=record.regulated_category,
        category_scores=dict(record.category_scores),
        action=record.action,
        explanation=dict(record.explanation),
        model_version=record.model_version,
        threshold_set_id=record.threshold_set_id,
        policy_version=record.policy_version,
        created_at=record.created_at,
        review_item_id=review_item_id,
    )

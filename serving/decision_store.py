"""Recording scoring decisions, idempotently, and queueing the ones that need a human.

One call to :func:`record_decision` is one transaction: the decision row and, for a ``review``
action, the listing's single active review item (created, or repointed at the newer decision).
Retried requests carrying the same idempotency key get the stored decision back and write
nothing, including when two identical requests race.

A human decision is authoritative (:class:`serving.tables.HumanVerdict`, one per listing and
content): while the listing's content is one a human decided, every decision answers the human's
action (the model's scores and action beside it) and nothing is queued. Other content is decided
by the model again — except that a model ``allow`` of a listing a human blocked (on any content)
goes to review, so a human block is never silently undone.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import AuditPolicy, AuditStratum, StrikePolicy, Urgency
from serving.audit_sampling import draw_audit, stratum_of
from serving.db import single_read
from serving.decision_lookups import BatchLookups, KnownVerdict
from serving.decision_rows import AnyDecision, DecisionRow, add_pending
from serving.errors import InvalidDecisionError
from serving.seller_health import insert_strike
from serving.tables import (
    ACTIONS,
    BANDS,
    CLOSED_UNDECIDED_STATUSES,
    IDEMPOTENCY_KEY_LENGTH,
    LISTING_ID_LENGTH,
    DecisionRecord,
    HumanVerdict,
    ShadowScore,
    WorkItem,
    is_record_id,
    new_id,
    utc_now,
)
from serving.threshold_sets import edges_of, ensure_stored
from serving.value_lists import PerDialect
from serving.work_items import active_items, move, open_item, repoint

MAX_RECORD_ATTEMPTS: Final = 3
"""Two different decisions for one listing can race to open its queue item; the loser retries."""
DEFAULT_URGENCY: Final = Urgency(factors={}, weights={}, sla_hours=24.0)
DEFAULT_STRIKES: Final = StrikePolicy()
DEFAULT_AUDIT: Final = AuditPolicy()
AUTOMATIC: Final[dict[str, AuditStratum]] = {"allow": "auto_allow", "block": "auto_enforce"}
RESTRICTED_SELLER: Final = "strikes.force_review_from"
"""The clause of a model allow turned into review because the seller is under restriction."""
EDITED_AFTER_BLOCK: Final = "human.edited_after_block"
"""The clause of a model allow turned into review because a human blocked earlier content."""
_KEY_COLUMN: Final = DecisionRecord.__table__.c.idempotency_key
# Built once (construction costs more than a run from the compiled cache): the hot path's reads.
_STORED_KEYS: Final = PerDialect.build(
    lambda one_of: select(_KEY_COLUMN).where(one_of(_KEY_COLUMN, "keys"))
)
_NEWEST_REVIEW_ITEM: Final = (
    select(WorkItem.id)
    .where(WorkItem.decision_id == bindparam("decision"), WorkItem.kind == "review")
    .order_by(
        WorkItem.created_at.desc(),
        WorkItem.status.in_(CLOSED_UNDECIDED_STATUSES),  # false first: the item not closed
    )
)
"""A decision's review item: its newest; of two created at the same time (a replay re-queues
at the decision's time), the one still active or decided
(:class:`serving.decision_lookups.DecisionItems` reads the same order)."""
_RECORDS_BY_KEY: Final = PerDialect.build(
    lambda one_of: select(DecisionRecord).where(one_of(DecisionRecord.idempotency_key, "keys"))
)


@dataclass(frozen=True, slots=True)
class ShadowDecision:
    """A challenger's scores, bands and action for a listing the champion decided."""

    model_version: str
    threshold_set_id: str
    scores: dict[str, float]
    bands: dict[str, str]
    action: str


@dataclass(frozen=True, slots=True)
class NewDecision:
    """A decision the scoring endpoint wants stored; ``urgency`` orders it in the review queue."""

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
    thresholds: dict[str, Any]
    """The model's edges and promises per label, as answers show them (stored once per
    threshold set: :mod:`serving.threshold_sets`)."""
    urgency: Urgency = DEFAULT_URGENCY
    strike_labels: tuple[str, ...] = ()
    """Labels auto-enforced on a certified edge: a block then strikes the seller."""
    seller_rules: StrikePolicy = DEFAULT_STRIKES
    audit: AuditPolicy = DEFAULT_AUDIT
    shadow: ShadowDecision | None = None
    """What a challenger in shadow scored for the same listing (stored beside, never acted on)."""
    unseen_key: bool = False
    """No decision was stored under ``idempotency_key`` when the request looked it up before
    scoring: a batch write does not look it up again and relies on the key's unique index (an
    identical request stored in between makes the batch fail whole and record its decisions one
    at a time, each looked up by key)."""

    def __post_init__(self) -> None:
        _check_length("idempotency_key", self.idempotency_key, IDEMPOTENCY_KEY_LENGTH)
        _check_length("listing_id", self.listing_id, LISTING_ID_LENGTH)
        _check_choice("action", self.action, ACTIONS)
        for label, band in self.bands.items():
            _check_choice(f"bands[{label!r}]", band, BANDS)
        _check_probabilities("scores", self.scores)
        _check_probabilities("category_scores", self.category_scores)
        for name, value in self.urgency.factors.items():
            if not 0.0 <= value <= 1.0:
                raise InvalidDecisionError(f"urgency factor {name} = {value!r} is not in [0, 1]")
        if not (math.isfinite(self.urgency.advance_hours) and self.urgency.sla_hours > 0):
            raise InvalidDecisionError(f"urgency {self.urgency!r} is not finite and positive")


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
class HumanAnswer:
    """The human decision that answers for the listing's content."""

    item_id: str
    action: str
    decided_by: str
    reason_code: str
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A recorded decision, detached from any session; ``review_item_id`` is its queue item.

    ``action`` is the answer: the human's where ``human`` is set, else ``model_action``.
    """

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
    model_action: str
    thresholds: dict[str, Any]
    """The model's edges and promises per label (its threshold set)."""
    review_item_id: str | None = None
    human: HumanAnswer | None = None


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
        return record_together(session_factory, batch)
    except IntegrityError:
        return [record_decision(session_factory, new) for new in batch]


def record_together(
    session_factory: sessionmaker[Session], batch: Sequence[NewDecision]
) -> list[tuple[StoredDecision, bool]]:
    """:func:`record_decisions` without its fallback: a conflict with a concurrent writer
    raises :class:`IntegrityError`, having written nothing."""
    keys = {new.idempotency_key for new in batch if not new.unseen_key}
    with session_factory.begin() as session:
        _store_threshold_sets(session, batch)
        known: dict[str, AnyDecision] = {}
        if keys:
            records = _RECORDS_BY_KEY.for_session(session)
            for record in session.scalars(records, {"keys": list(keys)}):
                known[record.idempotency_key] = record
        # A stored decision's seller is the one it was recorded with (the seller is no part of
        # the key): a retry naming another, or none, is replayed under the stored one's strikes.
        lookups = _lookups_for(session, batch, also=list(known.values()))
        results = []
        for new in batch:
            found = known.get(new.idempotency_key)
            if found is not None:
                replayed = _replay(session, found, _urgency_of(new), new.seller_rules, lookups)
                lookups.queued(found.listing_id)
                results.append((replayed, False))
                continue
            known[new.idempotency_key] = added = _new_record(new)
            results.append((_add(session, added, new, lookups), True))
        return results


def _store_threshold_sets(session: Session, batch: Sequence[NewDecision]) -> None:
    """The batch's threshold sets stored (each once per database and process)."""
    sets = {(new.model_version, new.threshold_set_id): new.thresholds for new in batch}
    for key, edges in sets.items():
        ensure_stored(session, key, edges)


def _lookups_for(
    session: Session, batch: Sequence[NewDecision], also: Sequence[AnyDecision] = ()
) -> BatchLookups:
    """What recording ``batch`` reads, with what replaying the stored decisions ``also`` reads
    (their listings, their sellers and their work items)."""
    lookups = BatchLookups.fetch(
        session,
        [*(new.listing_id for new in batch), *(record.listing_id for record in also)],
        [*(new.listing.get("seller_id") for new in batch), *(record.seller_id for record in also)],
        utc_now(),
    )
    lookups.read_items_of(session, [record.id for record in also])
    return lookups


def _record_once(
    session_factory: sessionmaker[Session], new: NewDecision
) -> tuple[StoredDecision, bool]:
    with session_factory.begin() as session:
        record = session.scalars(
            select(DecisionRecord).where(DecisionRecord.idempotency_key == new.idempotency_key)
        ).first()
        if record is not None:
            lookups = _lookups_for(session, [], also=[record])
            return _replay(session, record, _urgency_of(new), new.seller_rules, lookups), False
        _store_threshold_sets(session, [new])
        return _add(session, _new_record(new), new, _lookups_for(session, [new])), True


def get_decision(session_factory: sessionmaker[Session], decision_id: str) -> StoredDecision | None:
    """The decision with ``decision_id``, or ``None`` if there is none."""
    if not is_record_id(decision_id):
        return None
    with session_factory() as session:
        record = session.get(DecisionRecord, decision_id)
        if record is None:
            return None
        return _to_stored(session, record, verdict=_verdict_for(session, record))


def _verdict_for(session: Session, record: AnyDecision) -> HumanVerdict | None:
    """The human decision on exactly this content of the listing, if any."""
    return session.get(HumanVerdict, (record.listing_id, record.content_hash))


def _forced_review(
    record: AnyDecision, seller_rules: StrikePolicy, points: int, *, blocked: bool
) -> tuple[str, str] | None:
    """(clause, rule) when a model allow must go to review instead: the listing was blocked by
    a human on other content (``blocked``), or its seller is under the restriction that forces
    review."""
    if record.action != "allow":
        return None
    if blocked:
        return EDITED_AFTER_BLOCK, "edited after a human block -> review"
    if seller_rules.forces_review(points):
        penalty = seller_rules.penalty_at(points)
        return RESTRICTED_SELLER, f"seller under {penalty} -> review"
    return None


def _add(
    session: Session, record: DecisionRow, new: NewDecision, lookups: BatchLookups
) -> StoredDecision:
    """:func:`_add_decision`, and the challenger's shadow score beside it when there is one."""
    stored = _add_decision(session, record, new, lookups)
    if new.shadow is not None:
        shadow = new.shadow
        session.add(
            ShadowScore(
                decision_id=record.id,
                model_version=shadow.model_version,
                threshold_set_id=shadow.threshold_set_id,
                scores=dict(shadow.scores),
                bands=dict(shadow.bands),
                action=shadow.action,
                created_at=record.created_at,
            )
        )
    return stored


def _add_decision(
    session: Session, record: DecisionRow, new: NewDecision, lookups: BatchLookups
) -> StoredDecision:
    """Insert ``record`` and apply it to the queue: enqueue a review, supersede otherwise.

    The insert itself waits for the session's next flush or commit (the batch's decisions are
    then written in one statement: :mod:`serving.decision_rows`); ``record.id`` is set already,
    so the queue can point at it.
    """
    verdict = lookups.verdict(record.listing_id, record.content_hash)
    if verdict is not None:
        add_pending(session, record)
        _supersede_open_items(session, record, lookups)
        return _to_stored(
            session, record, verdict=verdict, item_known=True, thresholds=new.thresholds
        )
    points = lookups.seller_points(record.seller_id)
    forced = _forced_review(
        record, new.seller_rules, points, blocked=record.listing_id in lookups.blocked
    )
    if forced is not None:
        record.action = "review"
        rules = [*record.explanation.get("rules", []), forced[1]]
        record.explanation = {**record.explanation, "clause": forced[0], "rules": rules}
    kind = AUTOMATIC.get(record.action)
    if kind is not None:
        record.audit_stratum = stratum_of(kind, record.market, new.audit.rate(kind, record.market))
    add_pending(session, record)
    if kind is not None:
        draw_audit(session, record, kind, new.audit, now=record.created_at, subject_id=record.id)
    if record.action == "review":
        urgency = new.urgency.with_seller_history(points)
        item_id = _enqueue(session, record, urgency, lookups)
        return _to_stored(session, record, review_item_id=item_id, thresholds=new.thresholds)
    if record.action == "block" and new.strike_labels:
        _strike(session, record, new, lookups, points)
    _supersede_open_items(session, record, lookups)
    return _to_stored(session, record, item_known=True, thresholds=new.thresholds)


def stored_keys(session_factory: sessionmaker[Session], keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` a decision is stored under: one read of the indexed key column, no
    entities loaded and no ORM session (:func:`serving.db.single_read`), so a fresh request's
    check before inference stays cheap."""
    with single_read(session_factory) as connection:
        statement = _STORED_KEYS.for_dialect(connection.dialect)
        return set(connection.scalars(statement, {"keys": list(set(keys))}))


def _strike(
    session: Session, record: DecisionRow, new: NewDecision, lookups: BatchLookups, points: int
) -> None:
    """A certified auto-enforcement strikes the seller, once per listing, from what the batch
    knows (no read)."""
    seller, rules = record.seller_id, new.seller_rules
    severity = rules.auto_enforcement_severity
    if seller is None or severity <= 0 or lookups.listing_struck(seller, record.listing_id):
        return
    after = insert_strike(
        session,
        seller_id=seller,
        listing_id=record.listing_id,
        decision_id=record.id,
        item_id=None,
        labels=list(new.strike_labels),
        severity=severity,
        source="automatic",
        policy=rules,
        now=record.created_at,
        points_before=points,
    )
    lookups.struck(seller, record.listing_id, after)


def replay_stored(
    session_factory: sessionmaker[Session],
    keys: Sequence[str],
    *,
    urgency_of: Callable[[AnyDecision], Urgency],
    seller_rules: StrikePolicy,
) -> list[StoredDecision] | None:
    """When every key in ``keys`` is stored: those decisions, replayed in order in one
    transaction (the queue made to agree with them) — answered before any scoring, so a retry
    costs no inference. None, having changed nothing, when any key is new: the caller scores
    and records the whole request, in order. ``urgency_of`` gives a stored decision's urgency,
    should it go back to the queue."""
    for attempt in range(MAX_RECORD_ATTEMPTS):
        try:
            return _replay_all(session_factory, keys, urgency_of, seller_rules)
        except IntegrityError:
            # A concurrent decision opened the listing's item first: the next pass repoints it.
            if attempt == MAX_RECORD_ATTEMPTS - 1:
                raise
    return None


def _replay_all(
    session_factory: sessionmaker[Session],
    keys: Sequence[str],
    urgency_of: Callable[[AnyDecision], Urgency],
    seller_rules: StrikePolicy,
) -> list[StoredDecision] | None:
    with session_factory.begin() as session:
        known = {
            record.idempotency_key: record
            for record in session.scalars(
                _RECORDS_BY_KEY.for_session(session), {"keys": list(set(keys))}
            )
        }
        if any(key not in known for key in keys):
            return None
        lookups = _lookups_for(session, [], also=list(known.values()))
        replayed = []
        for key in keys:
            replayed.append(_replay(session, known[key], urgency_of, seller_rules, lookups))
            lookups.queued(known[key].listing_id)
        return replayed


def _replay(
    session: Session,
    record: AnyDecision,
    urgency_of: Callable[[AnyDecision], Urgency],
    seller_rules: StrikePolicy,
    lookups: BatchLookups,
) -> StoredDecision:
    """Return a stored decision and make the queue agree with it again.

    Content can come back (A, edited to B, reverted to A): A's decision is replayed, so the
    queue must follow A again — re-queued unless a human already decided A, or any open item
    superseded when A needs no review. A stored allow that the rules now send to review (a
    human block since, a seller restricted since) is answered ``review`` and queued. For a
    plain retry this changes nothing. What it reads comes from ``lookups`` (fetched for the
    whole batch), the record's review items included until the batch changes its listing's.
    """
    verdict = lookups.verdict(record.listing_id, record.content_hash)
    items = lookups.items_of(record.id, record.listing_id)
    newest, known = (items.newest_review, True) if items is not None else (None, False)
    if verdict is not None:
        _supersede_open_items(session, record, lookups)
        return _to_stored(session, record, verdict=verdict, review_item_id=newest, item_known=known)
    points = lookups.seller_points(record.seller_id)
    blocked = record.listing_id in lookups.blocked
    forced = _forced_review(record, seller_rules, points, blocked=blocked) is not None
    if record.action != "review" and not forced:
        _supersede_open_items(session, record, lookups)
        return _to_stored(session, record, review_item_id=newest, item_known=known)
    if items is not None:
        decided = items.decided
    else:
        decided = session.scalars(
            select(WorkItem.id).where(
                WorkItem.decision_id == record.id, WorkItem.status == "decided"
            )
        ).first()
    if decided is not None:
        return _to_stored(session, record, review_item_id=decided)
    urgency = urgency_of(record).with_seller_history(points)
    item_id = _enqueue(session, record, urgency, lookups)
    return _to_stored(session, record, review_item_id=item_id, answer="review" if forced else None)


def _urgency_of(new: NewDecision) -> Callable[[AnyDecision], Urgency]:
    """The freshly scored decision's urgency, for its stored twin's replay."""
    return lambda _record: new.urgency


def _new_record(new: NewDecision) -> DecisionRow:
    """The row of ``new``, sharing its documents (neither is changed after: a forced review
    replaces the row's explanation with a new document)."""
    return DecisionRow(
        id=new_id(),  # known before the insert: queue items and audits point at it
        idempotency_key=new.idempotency_key,
        listing_id=new.listing_id,
        content_hash=new.content_hash,
        request_id=new.request_id,
        market=new.market,
        listing=new.listing,
        scores=new.scores,
        bands=new.bands,
        regulated_category=new.regulated_category,
        category_scores=new.category_scores,
        action=new.action,
        explanation=new.explanation,
        model_version=new.model_version,
        threshold_set_id=new.threshold_set_id,
        policy_version=new.policy_version,
        created_at=utc_now(),
        seller_id=new.listing.get("seller_id"),
    )


def _enqueue(
    session: Session,
    record: AnyDecision,
    urgency: Urgency,
    lookups: BatchLookups | None = None,
) -> str:
    """Point the listing's active review item at ``record``, opening one if there is none."""
    if lookups is not None and not lookups.may_have_items(record.listing_id):
        lookups.queued(record.listing_id)
        return open_item(session, record, urgency, kind="review", now=record.created_at).id
    if lookups is not None:
        lookups.queued(record.listing_id)
    active = [item for item in active_items(session, record.listing_id, lock=True)]
    review = next((item for item in active if item.kind == "review"), None)
    if review is not None:
        # A claimed, held or escalated item stays on the content its reviewer is looking at;
        # deciding it opens a follow-up for newer content (serving.review_actions.decide).
        if review.status == "open":
            repoint(session, review, record, urgency)
            session.flush()
        return review.id
    return open_item(session, record, urgency, kind="review", now=record.created_at).id


def _supersede_open_items(
    session: Session, record: AnyDecision, lookups: BatchLookups | None = None
) -> None:
    """A listing re-scored to allow or block leaves the review queue unless a reviewer holds
    it (claimed) or a senior has it (escalated).

    The item keeps pointing at the decision that queued it, so the audit trail shows what was
    waiting. ``lookups`` saves the query for a listing known to have no active item.
    """
    if lookups is not None and not lookups.may_have_items(record.listing_id):
        return
    for item in active_items(session, record.listing_id):
        if item.kind == "review" and item.status in ("open", "held"):
            move(
                session,
                item,
                "supersede",
                actor="system",
                now=record.created_at,
                reason=f"re-scored to {record.action} (decision {record.id})",
            )


def _to_stored(
    session: Session,
    record: AnyDecision,
    *,
    review_item_id: str | None = None,
    verdict: HumanVerdict | KnownVerdict | None = None,
    answer: str | None = None,
    item_known: bool = False,
    thresholds: dict[str, Any] | None = None,
) -> StoredDecision:
    """The detached answer for ``record``; its review item looked up unless given, or unless
    ``item_known`` (``review_item_id`` is the answer even when None: a record just inserted
    without one, which no item can point at yet, or one whose items were read for a batch); its
    threshold set's edges read back unless given (decisions stored before migration 0009 carry
    their own copy)."""
    if thresholds is None:
        thresholds = record.explanation.get("thresholds") or edges_of(
            session, (record.model_version, record.threshold_set_id)
        )
    if review_item_id is None and not item_known:
        review_item_id = session.scalars(_NEWEST_REVIEW_ITEM, {"decision": record.id}).first()
    human = None
    if verdict is not None:
        human = HumanAnswer(
            item_id=verdict.item_id,
            action=verdict.action,
            decided_by=verdict.decided_by,
            reason_code=verdict.reason_code,
            decided_at=verdict.decided_at,
        )
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
        action=human.action if human else (answer or record.action),
        explanation=dict(record.explanation),
        model_version=record.model_version,
        threshold_set_id=record.threshold_set_id,
        policy_version=record.policy_version,
        created_at=record.created_at,
        model_action=record.action,
        thresholds=thresholds,
        review_item_id=review_item_id,
        human=human,
    )

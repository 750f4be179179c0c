"""What reviewers do to work items: claim, release, hold, escalate, decide; withdrawing listings.

Each call is one transaction. Concurrent reviewers never receive the same item: the candidate is
locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and on SQLite (no row locks) the status
move is a compare-and-set that a lost race sees as ``False``, moving on to the next candidate.
A decision is authoritative for the listing's content (:class:`serving.tables.HumanVerdict`)
and is announced on the outcome feed.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from data.schema import ASCII_WHITESPACE
from models.review_policy import ReasonCode, ReviewPolicy, Urgency
from serving.audit_log import record_action
from serving.audit_sampling import draw_audit, record_audit, stratum_of
from serving.errors import (
    IllegalTransitionError,
    InvalidReviewError,
    ItemChangedError,
    ItemNotClaimedError,
    ItemNotFoundError,
    QueueContentionError,
)
from serving.gold_set import serve_gold
from serving.outcome_events import append_event
from serving.review_queue import ESCALATED_GOLD_NOTE, QueueItem, queue_order, require_item
from serving.second_review import draw_second_review, lift_overruled_block, refer_disagreement
from serving.seller_health import apply_human_decision
from serving.tables import (
    ACTIVE_STATUSES,
    CLAUSE_LENGTH,
    HUMAN_ACTIONS,
    REVIEWER_LENGTH,
    WORK_ITEM_KINDS,
    DecisionRecord,
    HumanVerdict,
    WorkItem,
    is_record_id,
    utc_now,
)
from serving.work_item_states import ESCALATES_TO, next_status
from serving.work_items import active_items, move, open_item, record_verdict, sweep

MAX_REASON_CHARS: Final = 2000
DEFAULT_LEASE_SECONDS: Final = 900
MAX_HOLD: Final = timedelta(days=30)
MAX_CLAIM_ATTEMPTS: Final = 50
"""Each lost race means another reviewer took an item, so this bound is only ever a safeguard."""
QUEUE_KINDS: Final = {"review": ("review", "second")}
"""Kinds a claim from a queue serves: second reviews wait in the review queue."""
CLOSED_NOT_QUEUED: Final = frozenset({"gold"})
MEASUREMENT_KINDS: Final = frozenset({"gold", "second"})
"""Kinds whose decision measures a reviewer (gold accuracy, agreement) and sets no answer."""
"""Kinds whose released or escalated items close instead (a gold case is not real work)."""


def claim_next(
    session_factory: sessionmaker[Session],
    reviewer: str,
    *,
    kind: str = "review",
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    review: ReviewPolicy | None = None,
    now: datetime | None = None,
) -> QueueItem | None:
    """Claim the most urgent open item of ``kind``; ``None`` when none is open.

    Expired claims and due holds return to the queue first, so they are claimable again. The
    review queue also serves blind second reviews and, at the policy's gold rate (``review``
    given), gold items.
    """
    reviewer = check_reviewer(reviewer)
    if kind not in WORK_ITEM_KINDS:
        raise InvalidReviewError(f"kind = {kind!r}; expected one of {', '.join(WORK_ITEM_KINDS)}")
    if lease_seconds <= 0:
        raise InvalidReviewError(f"lease_seconds must be positive, got {lease_seconds}")
    at = _aware(now)
    kinds = QUEUE_KINDS.get(kind, (kind,))
    candidates = (
        select(WorkItem)
        .where(WorkItem.kind.in_(kinds), WorkItem.status == "open")
        .where(or_(WorkItem.excluded_reviewer.is_(None), WorkItem.excluded_reviewer != reviewer))
        .order_by(*queue_order())
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    for _ in range(MAX_CLAIM_ATTEMPTS):
        with session_factory.begin() as session:
            sweep(session, at)
            lease_until = at + timedelta(seconds=lease_seconds)
            if kind == "review" and review is not None:
                gold = serve_gold(session, reviewer, review, at, lease_until=lease_until)
                if gold is not None:
                    return require_item(session, gold.id)
            candidate = session.scalars(candidates).first()
            if candidate is None:
                return None
            lease = {"claimed_by": reviewer, "claimed_at": at, "lease_expires_at": lease_until}
            if move(session, candidate, "claim", actor=reviewer, now=at, values=lease):
                return require_item(session, candidate.id)
    raise QueueContentionError(MAX_CLAIM_ATTEMPTS)


def release(
    session_factory: sessionmaker[Session],
    item_id: str,
    reviewer: str,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> QueueItem:
    """Give back a claimed or held item: it returns to the queue."""
    reviewer, reason = check_reviewer(reviewer), _check_text("reason", reason, required=False)
    at = _aware(now)
    with session_factory.begin() as session:
        item = _held_by(session, item_id, reviewer, at, "release")
        event = "withdraw" if item.kind in CLOSED_NOT_QUEUED else "release"
        _apply(session, item, event, reviewer, at, reason=reason or None)
        return require_item(session, item_id)


def hold(
    session_factory: sessionmaker[Session],
    item_id: str,
    reviewer: str,
    *,
    reason: str,
    until: datetime,
    now: datetime | None = None,
) -> QueueItem:
    """Park a claimed item (waiting on information) until ``until``, when it returns to the
    queue; the holder keeps it meanwhile."""
    reviewer, reason = check_reviewer(reviewer), _check_text("reason", reason, required=True)
    at = _aware(now)
    until = _aware(until)
    if not at < until <= at + MAX_HOLD:
        raise InvalidReviewError(
            f"until = {until.isoformat()} must be in the future and at most "
            f"{MAX_HOLD.days} days ahead"
        )
    with session_factory.begin() as session:
        item = _held_by(session, item_id, reviewer, at, "hold")
        values = {"held_until": until, "lease_expires_at": None}
        _apply(session, item, "hold", reviewer, at, reason=reason, values=values)
        return require_item(session, item_id)


def escalate(
    session_factory: sessionmaker[Session],
    item_id: str,
    reviewer: str,
    *,
    reason: str,
    review: ReviewPolicy,
    now: datetime | None = None,
) -> QueueItem:
    """Send a claimed item to the senior queue: it stays ``escalated`` until a senior decides
    the new senior item. Returns the senior item."""
    reviewer, reason = check_reviewer(reviewer), _check_text("reason", reason, required=True)
    at = _aware(now)
    with session_factory.begin() as session:
        if _kind_of(session, item_id) in CLOSED_NOT_QUEUED:
            item = _held_by(session, item_id, reviewer, at, "withdraw")
            why = {"note": f"{ESCALATED_GOLD_NOTE} {reason}"}
            _apply(session, item, "withdraw", reviewer, at, reason=why["note"], values=why)
            return require_item(session, item_id)
        if any(o.kind == "senior" for o in active_items(session, _listing_of(session, item_id))):
            raise IllegalTransitionError(
                "escalate", "already before a senior", "listings without an open senior item"
            )
        item = _held_by(session, item_id, reviewer, at, "escalate")
        _apply(session, item, "escalate", reviewer, at, reason=reason)
        decision = session.get_one(DecisionRecord, item.decision_id)
        urgency = Urgency(
            factors=dict(item.priority_factors),
            weights=review.priority.as_hours(),
            sla_hours=review.senior_sla_hours,
        )
        senior = open_item(
            session,
            decision,
            urgency,
            kind=ESCALATES_TO[item.kind],
            now=at,
            actor=reviewer,
            parent_id=item.id,
            reason=reason,
        )
        append_event(
            session,
            "escalated",
            listing_id=item.listing_id,
            item_id=senior.id,
            at=at,
            payload={"escalated_item_id": item.id, "by": reviewer, "reason": reason},
        )
        return require_item(session, senior.id)


def decide(
    session_factory: sessionmaker[Session],
    item_id: str,
    reviewer: str,
    *,
    action: str,
    reason_code: str,
    review: ReviewPolicy,
    policy_clause: str | None = None,
    note: str = "",
    violations: Mapping[str, bool] | None = None,
    now: datetime | None = None,
) -> QueueItem:
    """Record ``reviewer``'s decision on an item they hold, with a reason code of the policy.

    A senior decision also resolves the escalated item it came from. The decision becomes the
    listing's answer until its content changes, and is announced on the outcome feed; a share
    of human decisions is drawn for QA audit. A qa item's verdict (``violations`` per label,
    required) is an audit finding only: it changes no answer, strike or queue.
    """
    reviewer = check_reviewer(reviewer)
    code = _check_decision(action, reason_code, review)
    note = _check_text("note", note, required=False)
    if policy_clause is not None:
        policy_clause = _check_text("policy_clause", policy_clause, required=True)
        if len(policy_clause) > CLAUSE_LENGTH:
            raise InvalidReviewError(f"policy_clause is longer than {CLAUSE_LENGTH} characters")
    at = _aware(now)
    with session_factory.begin() as session:
        item = _held_by(session, item_id, reviewer, at, "decide")
        decision = session.get_one(DecisionRecord, item.decision_id)
        if item.kind == "qa":
            finding = (action, reason_code, policy_clause or code.clause, note)
            record_audit(session, item, decision, reviewer, at, violations, finding)
            return require_item(session, item.id)
        if violations is not None:
            shown = "review" if item.kind in MEASUREMENT_KINDS else item.kind
            raise IllegalTransitionError("record a verdict on", f"a {shown} item", "qa items")
        if item.kind in MEASUREMENT_KINDS:
            answer = {"decided_by": reviewer, "decided_at": at, "human_action": action,
                      "reason_code": reason_code, "note": note or None,
                      "policy_clause": policy_clause or code.clause}  # fmt: skip
            _apply(session, item, "decide", reviewer, at, reason=reason_code, values=answer)
            if item.kind == "second":
                refer_disagreement(session, item, decision, action, review, at)
            return require_item(session, item.id)
        clause = policy_clause or code.clause or decision.explanation.get("clause")
        # Appeals re-decide a decision already in a stratum: they are not drawn again.
        rate = review.audit.rate("human", decision.market)
        human_stratum = (
            None if item.kind == "appeal" else stratum_of("human", decision.market, rate)
        )
        values = {
            "decided_by": reviewer,
            "decided_at": at,
            "human_action": action,
            "reason_code": reason_code,
            "policy_clause": clause,
            "note": note or None,
            "audit_stratum": human_stratum,
        }
        _apply(session, item, "decide", reviewer, at, reason=reason_code, values=values)
        if item.parent_id is not None:
            parent = session.get_one(WorkItem, item.parent_id)
            if parent.status == "escalated":
                resolved = {k: v for k, v in values.items() if k != "audit_stratum"}
                _apply(
                    session, parent, "resolve", reviewer, at, reason=reason_code, values=resolved
                )
        record_verdict(
            session, item, decision.content_hash, action=action, reviewer=reviewer,
            code=reason_code, at=at,
        )  # fmt: skip
        apply_human_decision(
            session, item, decision, (action, reason_code, code), reviewer, review, at
        )
        if item.kind == "senior" and action == "allow":
            lift_overruled_block(session, item, review, reviewer, at)
        append_event(
            session,
            "human_decision",
            listing_id=item.listing_id,
            item_id=item.id,
            at=at,
            payload={
                "kind": item.kind,
                "action": action,
                "reason_code": reason_code,
                "policy_clause": clause,
                "decided_by": reviewer,
                "decision_id": decision.id,
                "model_action": decision.action,
            },
        )
        _follow_up(session, item, decision, review, at)
        draw_second_review(session, item, decision, review, at, decided_by=reviewer)
        if human_stratum is not None:
            draw_audit(
                session, decision, "human", review.audit, now=at, subject_id=item.id,
                decided_by=reviewer,
            )  # fmt: skip
        return require_item(session, item_id)


def _follow_up(
    session: Session, item: WorkItem, decided: DecisionRecord, review: ReviewPolicy, at: datetime
) -> None:
    """The listing changed while the item was held: queue its newest content if the model
    sends it to review and no human has decided it."""
    latest = session.scalars(
        select(DecisionRecord)
        .where(DecisionRecord.listing_id == item.listing_id)
        .order_by(DecisionRecord.created_at.desc(), DecisionRecord.id.desc())
        .limit(1)
    ).one()
    if latest.content_hash == decided.content_hash or latest.action != "review":
        return
    if session.get(HumanVerdict, (latest.listing_id, latest.content_hash)) is not None:
        return
    if any(other.kind == "review" for other in active_items(session, item.listing_id)):
        return
    urgency = Urgency(
        factors=dict(item.priority_factors),
        weights=review.priority.as_hours(),
        sla_hours=review.sla_hours.hours(None, latest.market),
    )
    open_item(session, latest, urgency, kind="review", now=at,
              reason=f"the listing changed while {item.id} was held")  # fmt: skip


def withdraw_listing(
    session_factory: sessionmaker[Session],
    listing_id: str,
    actor: str,
    *,
    reason: str,
    role: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Close every active item of a listing taken down by its seller or the marketplace; the
    ids closed (the withdrawal is announced even when none was active)."""
    actor, reason = check_reviewer(actor), _check_text("reason", reason, required=True)
    at = _aware(now)
    with session_factory.begin() as session:
        active = session.scalars(
            select(WorkItem)
            .where(WorkItem.listing_id == listing_id, WorkItem.status.in_(ACTIVE_STATUSES))
            # an audit judges a past decision, a gold case a known answer: they stand
            .where(WorkItem.kind.not_in(("qa", "gold")))
            .with_for_update()
        ).all()
        for item in active:
            _apply(session, item, "withdraw", actor, at, reason=reason, held=False)
        closed = [item.id for item in active]
        append_event(
            session,
            "listing_withdrawn",
            listing_id=listing_id,
            item_id=None,
            at=at,
            payload={"closed_items": closed, "by": actor, "reason": reason},
        )
        record_action(
            session,
            "listing.withdraw",
            actor=actor,
            role=role,
            target=listing_id,
            detail={"closed_items": closed, "reason": reason},
            request_id=request_id,
        )
        return closed


def check_reviewer(reviewer: str) -> str:
    # ASCII whitespace only: the same notion of blank as the API's NON_BLANK_PATTERN.
    cleaned = reviewer.strip(ASCII_WHITESPACE)
    if not cleaned or len(cleaned) > REVIEWER_LENGTH:
        raise InvalidReviewError(
            f"reviewer must be 1 to {REVIEWER_LENGTH} non-blank characters, "
            f"got {len(cleaned)}: {reviewer[:40]!r}"
        )
    return cleaned


def _check_decision(action: str, reason_code: str, review: ReviewPolicy) -> ReasonCode:
    if action not in HUMAN_ACTIONS:
        raise InvalidReviewError(f"action = {action!r}; expected one of {', '.join(HUMAN_ACTIONS)}")
    code = review.reason_codes.get(reason_code)
    if code is None or code.action != action:
        fitting = sorted(
            name for name, spec in review.reason_codes.items() if spec.action == action
        )
        raise InvalidReviewError(
            f"reason_code = {reason_code[:64]!r} is not one of the policy's codes for "
            f"{action}: {', '.join(fitting)}"
        )
    return code


def _check_text(name: str, value: str, *, required: bool) -> str:
    cleaned = value.strip(ASCII_WHITESPACE)
    if required and not cleaned:
        raise InvalidReviewError(f"{name} must not be blank")
    if len(value) > MAX_REASON_CHARS:
        raise InvalidReviewError(
            f"{name} is {len(value)} characters; the limit is {MAX_REASON_CHARS}"
        )
    return cleaned


def _held_by(session: Session, item_id: str, reviewer: str, at: datetime, event: str) -> WorkItem:
    """The item (locked, after the sweep) if ``reviewer`` holds it and ``event`` is legal."""
    if not is_record_id(item_id):
        raise ItemNotFoundError(item_id)
    sweep(session, at)
    item = session.get(WorkItem, item_id, populate_existing=True, with_for_update=True)
    if item is None:
        raise ItemNotFoundError(item_id)
    held_by_other = item.status in ("claimed", "held") and item.claimed_by != reviewer
    if item.status == "open" or held_by_other:
        raise ItemNotClaimedError(item_id, reviewer, item.claimed_by)
    next_status(event, item.status, kind=item.kind)
    return item


def _kind_of(session: Session, item_id: str) -> str | None:
    if not is_record_id(item_id):
        return None
    return session.scalar(select(WorkItem.kind).where(WorkItem.id == item_id))


def _listing_of(session: Session, item_id: str) -> str:
    if not is_record_id(item_id):
        return ""
    return session.scalar(select(WorkItem.listing_id).where(WorkItem.id == item_id)) or ""


def _apply(
    session: Session,
    item: WorkItem,
    event: str,
    actor: str,
    at: datetime,
    *,
    reason: str | None,
    values: Mapping[str, object] | None = None,
    held: bool = True,
) -> None:
    """Move ``item`` for ``actor`` (who must hold it when it is claimed or held, unless
    ``held`` is False); 409 when another writer changed it since it was read."""
    holder = actor if held and item.status in ("claimed", "held") else None
    if not move(
        session, item, event, actor=actor, now=at, reason=reason, holder=holder, values=values
    ):
        raise ItemChangedError(item.id)


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        return utc_now()
    if moment.tzinfo is None:
        raise InvalidReviewError(f"{moment.isoformat()} is naive; pass a timezone-aware time")
    return moment

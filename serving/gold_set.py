"""Gold cases: listings whose right answer is confirmed, mixed into reviewers' queues.

A QA lead makes a decided qa item (its verdict), appeal or senior item a gold case, with a
rationale. A share of reviewers' claims from the review queue (``review.audit.gold_rate``)
serves a gold item instead: a new ``gold`` work item for a case the reviewer has neither seen
nor answered, claimed for them and shown exactly like a review item (the API and console show
it as ``review``). Its decision only counts toward that reviewer's gold accuracy: it sets no
answer, strike, feed event, audit draw, SLA figure or KPI. A gold item released, escalated or
left to lapse is closed (``withdrawn``) rather than queued for someone else.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.audit_estimates import Estimate, StratumAudit, proportion
from models.review_policy import URGENCY_FACTORS, ReviewPolicy, Urgency, audit_draw
from serving.audit_log import record_action
from serving.errors import (
    GoldCaseExistsError,
    GoldCaseNotFoundError,
    IllegalTransitionError,
    InvalidReviewError,
    ItemNotFoundError,
)
from serving.tables import DecisionRecord, GoldCase, WorkItem, is_record_id, utc_now
from serving.verdict_labels import verdict_labels
from serving.work_items import move, open_item

GOLD_SOURCE_KINDS: Final = {"qa": "qa", "appeal": "appeal", "senior": "senior"}
"""Kinds of decided item whose answer may become a gold case, and the source each records."""
MAX_RATIONALE_CHARS: Final = 2000


@dataclass(frozen=True, slots=True)
class GoldCaseView:
    id: str
    decision_id: str
    listing_id: str
    title: str
    market: str
    source: str
    source_item_id: str
    action: str
    violations: dict[str, bool | None]
    """Per label: violated, not, or not judged by the answer (None)."""
    reason_code: str
    policy_clause: str | None
    rationale: str
    created_by: str
    created_at: datetime
    retired_at: datetime | None
    served: int
    answered: int
    correct: int


@dataclass(frozen=True, slots=True)
class ReviewerGold:
    reviewer: str
    answered: int
    correct: int
    accuracy: Estimate


def create_gold_case(
    session_factory: sessionmaker[Session],
    item_id: str,
    *,
    rationale: str,
    created_by: str,
    review: ReviewPolicy,
    now: datetime | None = None,
) -> GoldCaseView:
    """Make the answer of a decided qa, appeal or senior item a gold case."""
    rationale = rationale.strip()
    if not rationale or len(rationale) > MAX_RATIONALE_CHARS:
        raise InvalidReviewError(
            f"rationale must be 1 to {MAX_RATIONALE_CHARS} non-blank characters"
        )
    if not is_record_id(item_id):
        raise ItemNotFoundError(item_id)
    at = now or utc_now()
    with session_factory.begin() as session:
        item = session.get(WorkItem, item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        if item.kind not in GOLD_SOURCE_KINDS:
            raise InvalidReviewError(
                f"item_id names a {item.kind} item; gold cases come from decided "
                f"{', '.join(GOLD_SOURCE_KINDS)} items"
            )
        if item.status != "decided" or item.human_action is None:
            raise IllegalTransitionError("make a gold case of", item.status, "decided")
        existing = session.scalar(select(GoldCase.id).where(GoldCase.source_item_id == item_id))
        if existing is not None:
            raise GoldCaseExistsError(item_id, existing)
        decision = session.get_one(DecisionRecord, item.decision_id)
        case = GoldCase(
            decision_id=decision.id,
            source_item_id=item.id,
            source=GOLD_SOURCE_KINDS[item.kind],
            action=item.human_action,
            violations=verdict_labels(item, decision, review),
            reason_code=item.reason_code or "",
            policy_clause=item.policy_clause,
            rationale=rationale,
            answered_by=item.decided_by or "",
            created_by=created_by,
            created_at=at,
        )
        session.add(case)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # another QA lead made it a gold case a moment ago
            raise GoldCaseExistsError(item_id, "(just created)") from None
        record_action(
            session, "gold.create", actor=created_by, role=None, target=decision.listing_id,
            detail={"case_id": case.id, "source_item_id": item.id},
        )  # fmt: skip
        return _views(session, [case])[0]


def retire_gold_case(
    session_factory: sessionmaker[Session],
    case_id: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> GoldCaseView:
    """Stop serving a case (its answers so far still count); retiring twice is a no-op."""
    with session_factory.begin() as session:
        case = session.get(GoldCase, case_id) if is_record_id(case_id) else None
        if case is None:
            raise GoldCaseNotFoundError(case_id)
        if case.retired_at is None:
            case.retired_at = now or utc_now()
            record_action(session, "gold.retire", actor=actor, role=None, target=case.id, detail={})
        return _views(session, [case])[0]


def list_gold_cases(
    session_factory: sessionmaker[Session], *, include_retired: bool = False
) -> list[GoldCaseView]:
    with session_factory() as session:
        query = select(GoldCase).order_by(GoldCase.created_at, GoldCase.id)
        if not include_retired:
            query = query.where(GoldCase.retired_at.is_(None))
        return _views(session, list(session.scalars(query)))


def serve_gold(
    session: Session, reviewer: str, review: ReviewPolicy, at: datetime, *, lease_until: datetime
) -> WorkItem | None:
    """In a claim's transaction: a gold item claimed for ``reviewer``, when this claim's draw
    falls under the gold rate and a case is left that they have neither seen nor worked on.

    Only cases whose listing the model sent to review are served (a review item always shows
    a review action and band), with the urgency factors its review item had, and queued a
    while before the claim, as a real item would have been.
    """
    audit = review.audit
    draw = audit_draw(audit.seed, f"gold\x1f{reviewer}\x1f{at.isoformat()}")
    if audit.gold_rate <= 0 or draw >= audit.gold_rate:
        return None
    seen = select(WorkItem.parent_id).where(
        WorkItem.kind == "gold",
        or_(WorkItem.claimed_by == reviewer, WorkItem.decided_by == reviewer),
    )
    worked_on = select(WorkItem.decision_id).where(WorkItem.decided_by == reviewer)
    found = session.execute(
        select(GoldCase, DecisionRecord)
        .join(DecisionRecord, GoldCase.decision_id == DecisionRecord.id)
        .where(GoldCase.retired_at.is_(None), GoldCase.answered_by != reviewer)
        .where(DecisionRecord.action == "review", DecisionRecord.anonymized_at.is_(None))
        .where(GoldCase.id.not_in(seen), GoldCase.decision_id.not_in(worked_on))
        .order_by(GoldCase.created_at, GoldCase.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    case, decision = found
    urgency = _urgency(session, decision, review)
    # Queued between 0 and half its SLA ago (fixed by the draw), like an item that waited.
    queued = at - timedelta(hours=urgency.sla_hours * 0.5 * (draw / audit.gold_rate))
    item = open_item(session, decision, urgency, kind="gold", now=queued, parent_id=case.id)
    lease = {"claimed_by": reviewer, "claimed_at": at, "lease_expires_at": lease_until}
    move(session, item, "claim", actor=reviewer, now=at, values=lease)
    return item


def gold_accuracy(
    session_factory: sessionmaker[Session],
    *,
    since: datetime,
    until: datetime,
    confidence: float = 0.95,
) -> list[ReviewerGold]:
    """Per reviewer, gold items answered in [since, until) and how many matched the case
    (exact Clopper-Pearson interval)."""
    with session_factory() as session:
        rows = session.execute(
            select(WorkItem.decided_by, WorkItem.human_action, GoldCase.action)
            .join(GoldCase, WorkItem.parent_id == GoldCase.id)
            .where(WorkItem.kind == "gold", WorkItem.status == "decided")
            .where(WorkItem.decided_at >= since, WorkItem.decided_at < until)
        ).all()
    tallies: dict[str, list[int]] = {}
    for reviewer, answer, expected in rows:
        tally = tallies.setdefault(str(reviewer), [0, 0])
        tally[0] += 1
        tally[1] += answer == expected
    return [
        ReviewerGold(name, answered, correct, _accuracy(name, answered, correct, confidence))
        for name, (answered, correct) in sorted(tallies.items())
    ]


def _accuracy(name: str, answered: int, correct: int, confidence: float) -> Estimate:
    return proportion(StratumAudit(name, answered, answered, correct, 1.0), confidence=confidence)


def _urgency(session: Session, decision: DecisionRecord, review: ReviewPolicy) -> Urgency:
    """The factors the listing's own review item carried (so nothing sets the gold item apart),
    under the policy's weights and SLA."""
    factors = session.scalar(
        select(WorkItem.priority_factors)
        .where(WorkItem.decision_id == decision.id, WorkItem.kind == "review")
        .order_by(WorkItem.created_at)
        .limit(1)
    )
    if factors is None:
        price = decision.listing.get("price")
        exposure = price / (price + review.priority.price_reference) if price else 0.0
        factors = dict.fromkeys(URGENCY_FACTORS, 0.0)
        factors |= {"risk": max(decision.scores.values(), default=0.0), "exposure": exposure}
    in_review = [label for label, band in decision.bands.items() if band == "review"]
    label = max(in_review, key=lambda name: decision.scores[name], default=None)
    return Urgency(
        factors=dict(factors),
        weights=review.priority.as_hours(),
        sla_hours=review.sla_hours.hours(label, decision.market),
    )


def _views(session: Session, cases: list[GoldCase]) -> list[GoldCaseView]:
    ids = [case.id for case in cases]
    served: dict[str, list[int]] = {case_id: [0, 0, 0] for case_id in ids}
    if ids:
        rows = session.execute(
            select(WorkItem.parent_id, WorkItem.status, WorkItem.human_action, GoldCase.action)
            .join(GoldCase, WorkItem.parent_id == GoldCase.id)
            .where(WorkItem.kind == "gold", WorkItem.parent_id.in_(ids))
        ).all()
        for case_id, status, answer, expected in rows:
            tally = served[str(case_id)]
            tally[0] += 1
            tally[1] += status == "decided"
            tally[2] += status == "decided" and answer == expected
    views = []
    for case in cases:
        decision = session.get_one(DecisionRecord, case.decision_id)
        count, answered, correct = served[case.id]
        views.append(
            GoldCaseView(
                id=case.id,
                decision_id=case.decision_id,
                listing_id=decision.listing_id,
                title=str(decision.listing.get("title", "")),
                market=decision.market,
                source=case.source,
                source_item_id=case.source_item_id,
                action=case.action,
                violations=dict(case.violations),
                reason_code=case.reason_code,
                policy_clause=case.policy_clause,
                rationale=case.rationale,
                created_by=case.created_by,
                created_at=case.created_at,
                retired_at=case.retired_at,
                served=count,
                answered=answered,
                correct=correct,
            )
        )
    return views

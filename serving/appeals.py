"""Seller appeals: filing one on an enforced listing, and the overturn rates of decided appeals.

An appeal is a work item of kind ``appeal`` on the listing's latest decision; it may be decided
by anyone but the original decider (a human's name, kept as the item's ``excluded_reviewer``;
automatic enforcements have none). Deciding it (``block`` upholds, ``allow`` overturns) goes
through :func:`serving.review_actions.decide` like every other decision.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import ReviewPolicy, Urgency
from serving.errors import AppealNotAllowedError
from serving.outcome_events import append_event
from serving.review_queue import QueueItem, require_item
from serving.tables import DecisionRecord, HumanVerdict, WorkItem, utc_now
from serving.work_items import active_items, open_item

STATS_DIMENSIONS: Final = ("label", "reviewer", "model_version", "policy_version")


@dataclass(frozen=True, slots=True)
class OverturnRate:
    group: str
    appeals: int
    overturned: int

    @property
    def rate(self) -> float:
        return self.overturned / self.appeals if self.appeals else 0.0


def file_appeal(
    session_factory: sessionmaker[Session],
    listing_id: str,
    *,
    reason: str,
    filed_by: str,
    review: ReviewPolicy,
    now: datetime | None = None,
) -> QueueItem:
    """Open an appeal on a listing whose current answer is ``block``; raises otherwise."""
    at = now or utc_now()
    with session_factory.begin() as session:
        decision = session.scalars(
            select(DecisionRecord)
            .where(DecisionRecord.listing_id == listing_id)
            .order_by(DecisionRecord.created_at.desc(), DecisionRecord.id.desc())
            .limit(1)
        ).first()
        if decision is None:
            raise AppealNotAllowedError(f"listing {listing_id[:80]!r} has no decision to appeal")
        human = session.get(HumanVerdict, (listing_id, decision.content_hash))
        answer = human.action if human else decision.action
        if answer != "block":
            raise AppealNotAllowedError(
                f"listing {listing_id[:80]!r} is not enforced (its answer is {answer}): "
                "only a block can be appealed"
            )
        if any(item.kind == "appeal" for item in active_items(session, listing_id, lock=True)):
            raise AppealNotAllowedError(f"listing {listing_id[:80]!r} already has an open appeal")
        urgency = Urgency(factors={}, weights={}, sla_hours=review.appeal_sla_hours)
        item = open_item(
            session,
            decision,
            urgency,
            kind="appeal",
            now=at,
            actor=filed_by,
            parent_id=human.item_id if human else None,
            reason=reason,
        )
        item.excluded_reviewer = human.decided_by if human else None
        append_event(
            session,
            "appeal_filed",
            listing_id=listing_id,
            item_id=item.id,
            at=at,
            payload={"reason": reason, "enforced_by": human.decided_by if human else "model"},
        )
        return require_item(session, item.id)


def overturn_rates(
    session_factory: sessionmaker[Session], by: str, *, since: datetime | None = None
) -> list[OverturnRate]:
    """Decided appeals and the share overturned, per label, original reviewer (``model`` for
    automatic enforcements), model version or policy version of the enforced decision."""
    if by not in STATS_DIMENSIONS:
        raise ValueError(f"by = {by!r}; expected one of {', '.join(STATS_DIMENSIONS)}")
    since = since or utc_now() - timedelta(days=3650)
    with session_factory() as session:
        rows = session.execute(
            select(WorkItem, DecisionRecord)
            .join(DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
            .where(
                WorkItem.kind == "appeal",
                WorkItem.status == "decided",
                WorkItem.decided_at >= since,
            )
        ).all()
        appeals: Counter[str] = Counter()
        overturned: Counter[str] = Counter()
        for item, decision in rows:
            for group in _groups(session, by, item, decision):
                appeals[group] += 1
                overturned[group] += item.human_action == "allow"
    return [OverturnRate(group, appeals[group], overturned[group]) for group in sorted(appeals)]


def _groups(session: Session, by: str, item: WorkItem, decision: DecisionRecord) -> list[str]:
    if by == "label":
        enforced = [label for label, band in decision.bands.items() if band != "allow"]
        return enforced or ["none"]
    if by == "reviewer":
        return [item.excluded_reviewer or "model"]
    return [decision.model_version if by == "model_version" else decision.policy_version]

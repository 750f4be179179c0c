"""Blind second reviews: a share of decided review items goes to a second reviewer.

When a review item is decided, a draw on (seed, item id) under ``review.audit.second_review_rate``
opens a ``second`` item for the same content, which anyone but the first reviewer may claim
from the review queue; it is shown as a review item, without the first decision. The second
opinion is a measurement: it sets no answer or strike. The pairs give reviewer-reviewer
agreement (:mod:`models.agreement`); a disagreement goes to the senior queue, whose decision is
the listing's answer (and a case of the case library).
"""

from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from models.agreement import Agreement, agreement
from models.review_policy import ReviewPolicy, Urgency, audit_draw
from serving.seller_health import remove_strikes
from serving.tables import DecisionRecord, WorkItem, WorkItemHistory
from serving.work_items import active_items, open_item

DISAGREEMENT = "second opinion disagrees"


def draw_second_review(
    session: Session,
    item: WorkItem,
    decision: DecisionRecord,
    review: ReviewPolicy,
    at: datetime,
    *,
    decided_by: str,
) -> WorkItem | None:
    """Open a second item for a review item ``decided_by`` just decided, if its draw falls
    under the rate."""
    audit = review.audit
    rate = audit.second_review_rate
    if item.kind != "review" or rate <= 0 or audit_draw(audit.seed, f"second\x1f{item.id}") >= rate:
        return None
    if any(other.kind == "second" for other in active_items(session, item.listing_id)):
        return None
    urgency = Urgency(
        factors=dict(item.priority_factors),
        weights=review.priority.as_hours(),
        sla_hours=review.sla_hours.hours(None, decision.market),
    )
    second = open_item(session, decision, urgency, kind="second", now=at, parent_id=item.id)
    second.excluded_reviewer = decided_by
    second.inclusion_probability = rate
    return second


def refer_disagreement(
    session: Session,
    item: WorkItem,
    decision: DecisionRecord,
    action: str,
    review: ReviewPolicy,
    at: datetime,
) -> WorkItem | None:
    """A decided second item whose action differs from the first: open a senior item for it
    (unless a senior item is already open for the listing)."""
    first = session.get_one(WorkItem, item.parent_id)
    if first.human_action == action:
        return None
    if any(other.kind == "senior" for other in active_items(session, item.listing_id)):
        return None
    urgency = Urgency(
        factors=dict(item.priority_factors),
        weights=review.priority.as_hours(),
        sla_hours=review.senior_sla_hours,
    )
    return open_item(
        session, decision, urgency, kind="senior", now=at, parent_id=item.id,
        reason=f"{DISAGREEMENT}: {first.human_action} then {action}",
    )  # fmt: skip


def escalated_items() -> Select[str]:
    """Ids of items that were escalated: an escalated second item carries the senior's
    answer, not a second opinion."""
    return select(WorkItemHistory.item_id).where(WorkItemHistory.event == "escalate")


def double_review_agreement(
    session_factory: sessionmaker[Session], *, since: datetime, until: datetime
) -> Agreement:
    """Agreement (block or not) between first and second reviewers on second items decided
    in [since, until) by their second reviewer (escalated ones left out)."""
    with session_factory() as session:
        second = (
            select(WorkItem.parent_id, WorkItem.human_action)
            .where(WorkItem.kind == "second", WorkItem.status == "decided")
            .where(WorkItem.decided_at >= since, WorkItem.decided_at < until)
            .where(WorkItem.id.not_in(escalated_items()))
            .subquery()
        )
        rows = session.execute(
            select(WorkItem.human_action, second.c.human_action).join(
                second, WorkItem.id == second.c.parent_id
            )
        ).all()
    return agreement([(first == "block", again == "block") for first, again in rows])


def lift_overruled_block(
    session: Session, senior: WorkItem, review: ReviewPolicy, reviewer: str, at: datetime
) -> int:
    """A senior allowing a disagreement (its parent a second item) lifts the strike of the
    first review's block, and only that one; how many strikes were lifted."""
    if senior.parent_id is None:
        return 0
    second = session.get(WorkItem, senior.parent_id)
    if second is None or second.kind != "second" or second.parent_id is None:
        return 0
    return remove_strikes(
        session, senior.seller_id, senior.listing_id, reason=f"allowed by {reviewer} "
        "after a second opinion disagreed", policy=review.strikes, now=at,
        item_id=second.parent_id,
    )  # fmt: skip

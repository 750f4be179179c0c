"""Short forms of reviewer actions for tests, with the default policy's reason codes."""

from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import AuditPolicy, ReviewPolicy
from serving.review_actions import claim_next, decide
from serving.review_queue import QueueItem

REVIEW = ReviewPolicy(audit=AuditPolicy(rates={}, gold_rate=0.0, second_review_rate=0.0))
"""The default review policy without QA sampling, so item counts stay exact."""
CODE_FOR = {"allow": "no-violation", "block": "violation-confirmed"}


def decide_as(
    session_factory: sessionmaker[Session],
    item_id: str,
    reviewer: str,
    action: str,
    note: str = "",
) -> QueueItem:
    """``reviewer`` decides ``action`` with the default policy's generic code for it."""
    return decide(
        session_factory,
        item_id,
        reviewer,
        action=action,
        reason_code=CODE_FOR.get(action, "no-violation"),
        review=REVIEW,
        note=note,
    )


def claim(session_factory: sessionmaker[Session], reviewer: str, kind: str = "review") -> QueueItem:
    """Claim the next item of ``kind``, which the test expects to exist."""
    item = claim_next(session_factory, reviewer, kind=kind)
    assert item is not None, f"nothing of kind {kind} to claim"
    return item

"""Drawing decisions for QA audit as they are made, with known inclusion probabilities.

Automatic decisions (allow, block) and human decisions (review, senior, appeal items) are each
in a stratum — their kind and market, e.g. ``auto_allow:US`` — recorded on the decision or the
decided item, so the audit's population per stratum can be counted later. A decision is audited
when ``audit_draw(seed, id) < rate``: deterministic, the same on every worker, replayable. The
audit is a ``qa`` work item carrying its inclusion probability; QA sees it blind (no scores, no
original decision) until the verdict is in.
"""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from models.review_policy import AuditPolicy, AuditStratum, Urgency, audit_draw
from serving.decision_rows import DecisionFacts
from serving.errors import InvalidReviewError, ItemChangedError, VerdictRequiredError
from serving.tables import DecisionRecord, WorkItem
from serving.work_items import move, open_item


def stratum_of(kind: AuditStratum, market: str, rate: float) -> str:
    """``kind:market:rate``: a change of rate starts a new stratum, so each stratum is one
    simple design."""
    return f"{kind}:{market}:{rate:g}"


def draw_audit(
    session: Session,
    decision: DecisionFacts,
    kind: AuditStratum,
    audit: AuditPolicy,
    *,
    now: datetime,
    subject_id: str,
    decided_by: str | None = None,
) -> WorkItem | None:
    """Open a qa item for ``decision`` if the draw for ``subject_id`` (the decision id, or the
    decided item's id for a human decision by ``decided_by``) falls under the stratum's rate."""
    rate = audit.rate(kind, decision.market)
    if rate <= 0 or audit_draw(audit.seed, subject_id) >= rate:
        return None
    urgency = Urgency(factors={}, weights={}, sla_hours=audit.sla_hours)
    item = open_item(
        session,
        decision,
        urgency,
        kind="qa",
        now=now,
        parent_id=subject_id if decided_by is not None else None,
        reason="drawn for audit",  # the rate would tell a blind auditor the decision's kind
    )
    item.audit_stratum = stratum_of(kind, decision.market, rate)
    item.inclusion_probability = rate
    item.excluded_reviewer = decided_by  # QA audits others' decisions
    return item


def record_audit(
    session: Session,
    item: WorkItem,
    decision: DecisionRecord,
    reviewer: str,
    at: datetime,
    violations: Mapping[str, bool] | None,
    finding: tuple[str, str, str | None, str],
) -> None:
    """A QA verdict: per-label violation findings beside the action and reason code
    (``finding``: action, reason code, clause, note)."""
    labels = set(decision.scores)
    if violations is None:
        raise VerdictRequiredError(item.id)
    if set(violations) != labels:
        raise InvalidReviewError(
            f"violations must give true/false for every label: {', '.join(sorted(labels))}"
        )
    action, reason_code, clause, note = finding
    values = {
        "decided_by": reviewer,
        "decided_at": at,
        "human_action": action,
        "reason_code": reason_code,
        "policy_clause": clause,
        "note": note or None,
        "qa_labels": {label: bool(found) for label, found in violations.items()},
    }
    moved = move(
        session, item, "decide", actor=reviewer, now=at, reason=reason_code, holder=reviewer,
        values=values,
    )  # fmt: skip
    if not moved:
        raise ItemChangedError(item.id)

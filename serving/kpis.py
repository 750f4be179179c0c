"""Operational figures of the review workflow over a period, for the console's KPI page."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session, sessionmaker

from serving.tables import WORK_ITEM_KINDS, DecisionRecord, WorkItem

HUMAN_KINDS = ("review", "senior", "appeal")


@dataclass(frozen=True, slots=True)
class QueueKpis:
    decisions: int
    automated: int
    """Decisions taken without a human (allow or block by the model and policy)."""
    open_by_kind: dict[str, int]
    oldest_open_hours: float | None
    decided: int
    turnaround_p50_hours: float | None
    turnaround_p90_hours: float | None
    sla_breaches: int
    appeals_decided: int
    appeals_overturned: int

    @property
    def automation_rate(self) -> float | None:
        return self.automated / self.decisions if self.decisions else None


def queue_kpis(
    session_factory: sessionmaker[Session],
    *,
    since: datetime,
    until: datetime,
    market: str | None = None,
) -> QueueKpis:
    """Decisions, queues and human turnaround of the period, in ``market`` or all."""
    in_market = DecisionRecord.market == market if market is not None else true()
    with_decision = (DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
    with session_factory() as session:
        actions = dict(
            session.execute(
                select(DecisionRecord.action, func.count())
                .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
                .where(in_market)
                .group_by(DecisionRecord.action)
            ).all()
        )
        open_rows = session.execute(
            select(WorkItem.kind, func.count(), func.min(WorkItem.created_at))
            .join(*with_decision)
            .where(WorkItem.status == "open", in_market)
            .group_by(WorkItem.kind)
        ).all()
        decided = session.execute(
            select(WorkItem.kind, WorkItem.created_at, WorkItem.decided_at, WorkItem.due_at,
                   WorkItem.human_action)
            .join(*with_decision)
            .where(WorkItem.status == "decided", WorkItem.kind.in_(HUMAN_KINDS), in_market)
            .where(WorkItem.decided_at >= since, WorkItem.decided_at < until)
        ).all()  # fmt: skip
    oldest = min((row[2] for row in open_rows if row[2] is not None), default=None)
    finished = [(c, d, due) for _, c, d, due, _ in decided if d is not None]
    hours = sorted((d - c).total_seconds() / 3600 for c, d, _ in finished)
    appeals = [row for row in decided if row[0] == "appeal"]
    return QueueKpis(
        decisions=sum(int(n) for n in actions.values()),
        automated=int(actions.get("allow", 0)) + int(actions.get("block", 0)),
        open_by_kind={kind: 0 for kind in WORK_ITEM_KINDS} | {k: int(n) for k, n, _ in open_rows},
        oldest_open_hours=(until - oldest).total_seconds() / 3600 if oldest else None,
        decided=len(decided),
        turnaround_p50_hours=_quantile(hours, 0.5),
        turnaround_p90_hours=_quantile(hours, 0.9),
        sla_breaches=sum(d > due for _, d, due in finished),
        appeals_decided=len(appeals),
        appeals_overturned=sum(row[4] == "allow" for row in appeals),
    )


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def daily_decisions(
    session_factory: sessionmaker[Session],
    *,
    since: datetime,
    until: datetime,
    market: str | None = None,
) -> list[tuple[str, dict[str, int]]]:
    """Per UTC day of the period (oldest first), the decisions per action, in ``market`` or
    all."""
    with session_factory() as session:
        stamp: Any = DecisionRecord.created_at
        if session.get_bind().dialect.name == "postgresql":  # the day in UTC, not the server's
            stamp = func.timezone("UTC", stamp)
        day = func.date(stamp)
        rows = session.execute(
            select(day, DecisionRecord.action, func.count())
            .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
            .where(DecisionRecord.market == market if market is not None else true())
            .group_by(day, DecisionRecord.action)
            .order_by(day)
        ).all()
    days: dict[str, dict[str, int]] = {}
    for date, action, count in rows:
        days.setdefault(str(date), {})[str(action)] = int(count)
    return list(days.items())


def decision_markets(session_factory: sessionmaker[Session]) -> list[str]:
    """The markets decisions were made in."""
    with session_factory() as session:
        return sorted(str(m) for m in session.scalars(select(DecisionRecord.market).distinct()))

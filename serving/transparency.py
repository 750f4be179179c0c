"""The transparency report of a period: the figures a marketplace publishes about moderation.

What the EU Digital Services Act asks platforms to publish (Art. 15, 24): decisions by action,
label and market; the share taken by automated means; accuracy and error indicators of the
automated decisions (the QA estimates, with their intervals); appeals received, decided and
reversed; median handling times. Each restriction has its statement of reasons
(:mod:`serving.statements`). Gold items and second reviews are measurements, not decisions:
they are left out.
"""

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from serving.qa_estimates import AuditReport, audit_report
from serving.second_review import escalated_items
from serving.tables import DecisionRecord, WorkItem, utc_now

HUMAN_KINDS = ("review", "senior", "appeal")


@dataclass(frozen=True, slots=True)
class AppealFigures:
    received: int
    decided: int
    upheld: int
    reversed: int
    median_hours: float | None


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    since: datetime
    until: datetime
    generated_at: datetime
    policy_version: str
    model_version: str
    decisions: int
    by_action: dict[str, int]
    by_market: dict[str, dict[str, int]]
    """Per market, decisions per action."""
    by_label: dict[str, dict[str, int]]
    """Per label, decisions whose score fell in its review and enforce bands."""
    automated: int
    human_decisions: dict[str, int]
    """Human decisions of the period per action (review, senior and appeal items)."""
    restrictions: dict[str, int]
    """Listing contents removed, by automated means and by humans (a first block a senior then
    confirmed counts once): each has a statement of reasons."""
    review_median_hours: float | None
    appeals: AppealFigures
    quality: AuditReport

    @property
    def automated_share(self) -> float | None:
        return self.automated / self.decisions if self.decisions else None

    def as_document(self) -> dict[str, Any]:
        document = dataclasses.asdict(self)
        document["automated_share"] = self.automated_share
        plain: dict[str, Any] = _plain(document)
        return plain


def transparency_report(
    session_factory: sessionmaker[Session],
    labels: list[str],
    targets: dict[str, tuple[float | None, float | None]],
    *,
    since: datetime,
    until: datetime,
    versions: tuple[str, str],
) -> TransparencyReport:
    """The report for decisions and human work in [since, until); ``versions``: the policy and
    model versions serving now."""
    period = (DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
    with session_factory() as session:
        by_market: dict[str, dict[str, int]] = defaultdict(dict)
        for market, action, count in session.execute(
            select(DecisionRecord.market, DecisionRecord.action, func.count())
            .where(*period)
            .group_by(DecisionRecord.market, DecisionRecord.action)
        ):
            by_market[str(market)][str(action)] = int(count)
        by_label: dict[str, Counter[str]] = {label: Counter() for label in labels}
        for (bands,) in session.execute(select(DecisionRecord.bands).where(*period)):
            for label, band in bands.items():
                if band != "allow" and label in by_label:
                    by_label[label][band] += 1
        human = _human_work(session, since, until)
    by_action: Counter[str] = Counter()
    for counts in by_market.values():
        by_action.update(counts)
    quality = audit_report(session_factory, labels, targets, since=since, until=until)
    return TransparencyReport(
        since=since,
        until=until,
        generated_at=utc_now(),
        policy_version=versions[0],
        model_version=versions[1],
        decisions=sum(by_action.values()),
        by_action={action: by_action.get(action, 0) for action in ("allow", "review", "block")},
        by_market={market: dict(counts) for market, counts in sorted(by_market.items())},
        by_label={label: dict(counts) for label, counts in by_label.items()},
        automated=by_action.get("allow", 0) + by_action.get("block", 0),
        quality=quality,
        **human,
    )


def _human_work(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    # An escalated item's answer is its senior item's: counted once, as the senior's.
    decided = session.execute(
        select(WorkItem.kind, WorkItem.human_action, WorkItem.created_at, WorkItem.decided_at,
               WorkItem.decision_id)
        .where(WorkItem.kind.in_(HUMAN_KINDS), WorkItem.status == "decided")
        .where(WorkItem.decided_at >= since, WorkItem.decided_at < until)
        .where(WorkItem.id.not_in(escalated_items()))
    ).all()  # fmt: skip
    received = session.scalar(
        select(func.count())
        .select_from(WorkItem)
        .where(WorkItem.kind == "appeal", WorkItem.created_at >= since, WorkItem.created_at < until)
    )
    auto_blocks = session.scalar(
        select(func.count())
        .select_from(DecisionRecord)
        .where(DecisionRecord.action == "block", DecisionRecord.audit_stratum.is_not(None))
        .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
    )
    appeals = [row for row in decided if row[0] == "appeal"]
    firsts = [row for row in decided if row[0] != "appeal"]
    return {
        "human_decisions": dict(Counter(str(row[1]) for row in firsts)),
        "restrictions": {
            "automated": int(auto_blocks or 0),
            # one removal per listing content, however many humans confirmed it
            "human": len({row[4] for row in firsts if row[1] == "block"}),
        },
        "review_median_hours": _median_hours(firsts),
        "appeals": AppealFigures(
            received=int(received or 0),
            decided=len(appeals),
            upheld=sum(row[1] == "block" for row in appeals),
            reversed=sum(row[1] == "allow" for row in appeals),
            median_hours=_median_hours(appeals),
        ),
    }


def _median_hours(rows: list[Any]) -> float | None:
    hours = [(row[3] - row[2]).total_seconds() / 3600 for row in rows if row[3] is not None]
    return median(hours) if hours else None


def _plain(value: Any) -> Any:
    """Datetimes as ISO text, the rest as JSON has it."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value

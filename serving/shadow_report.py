"""The shadow report: where the challenger scored in shadow disagrees with the champion.

Over the decisions of a period that carry a shadow score: how many were compared, the matrix of
the champion's recorded action against the action the challenger's scores and edges would have
taken under the same policy, and per label the mean score change and how often the band moved.
"What the challenger would have changed" lists the listings whose action differs, largest score
change first. The champion's action is the one recorded, seller rules included (a strike-forced
review is a review); the challenger's is its routing alone, so a forced review can show as a
disagreement that no model change would remove.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from serving.tables import ACTIONS, DecisionRecord, ShadowScore

MAX_CHANGES = 50
ROWS_PER_FETCH = 1000


@dataclass(frozen=True)
class LabelShift:
    mean_abs_change: float
    mean_change: float
    """Challenger minus champion, averaged: positive means the challenger scores higher."""
    band_changed: int
    bands: dict[str, dict[str, int]]
    """Champion band -> challenger band -> decisions."""


@dataclass(frozen=True)
class ShadowChange:
    decision_id: str
    listing_id: str
    title: str | None
    market: str
    champion_action: str
    challenger_action: str
    largest_change: float
    champion_scores: dict[str, float]
    challenger_scores: dict[str, float]


@dataclass(frozen=True)
class ShadowReport:
    since: datetime
    until: datetime
    compared: int
    champion_versions: dict[str, int]
    challenger_versions: dict[str, int]
    actions: dict[str, dict[str, int]]
    """Champion action -> challenger action -> decisions."""
    labels: dict[str, LabelShift] = field(default_factory=dict)
    changes: list[ShadowChange] = field(default_factory=list)
    changed_actions: int = 0

    @property
    def agreement(self) -> float | None:
        """Share of compared decisions whose action the challenger would have kept."""
        if not self.compared:
            return None
        return 1.0 - self.changed_actions / self.compared

    def as_document(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "compared": self.compared,
            "agreement": self.agreement,
            "changed_actions": self.changed_actions,
            "champion_versions": self.champion_versions,
            "challenger_versions": self.challenger_versions,
            "actions": self.actions,
            "labels": {label: vars(shift) for label, shift in self.labels.items()},
            "changes": [vars(change) for change in self.changes],
        }


def shadow_report(
    session_factory: sessionmaker[Session], *, since: datetime, until: datetime
) -> ShadowReport:
    """The report of decisions created in ``[since, until)``, read in one pass."""
    query = (
        select(DecisionRecord, ShadowScore)
        .join(ShadowScore, ShadowScore.decision_id == DecisionRecord.id)
        .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
        .order_by(DecisionRecord.created_at, DecisionRecord.id)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    tally = _Tally()
    with session_factory() as session:
        for record, shadow in session.execute(query):
            tally.add(record, shadow)
    return tally.report(since, until)


class _Tally:
    def __init__(self) -> None:
        self.compared = self.changed = 0
        self.champions: Counter[str] = Counter()
        self.challengers: Counter[str] = Counter()
        self.actions = {a: dict.fromkeys(ACTIONS, 0) for a in ACTIONS}
        self.abs_change: dict[str, float] = {}
        self.change: dict[str, float] = {}
        self.scored: Counter[str] = Counter()
        self.band_changed: Counter[str] = Counter()
        self.bands: dict[str, dict[str, Counter[str]]] = {}
        self.changes: list[ShadowChange] = []

    def add(self, record: DecisionRecord, shadow: ShadowScore) -> None:
        self.compared += 1
        self.champions[record.model_version] += 1
        self.challengers[shadow.model_version] += 1
        self.actions[record.action][shadow.action] += 1
        largest = 0.0
        for label, champion in record.scores.items():
            if label not in shadow.scores:
                continue
            difference = float(shadow.scores[label]) - float(champion)
            largest = max(largest, abs(difference))
            self.scored[label] += 1
            self.change[label] = self.change.get(label, 0.0) + difference
            self.abs_change[label] = self.abs_change.get(label, 0.0) + abs(difference)
            old, new = record.bands.get(label, "?"), shadow.bands.get(label, "?")
            self.band_changed[label] += old != new
            self.bands.setdefault(label, {}).setdefault(old, Counter())[new] += 1
        if record.action != shadow.action:
            self.changed += 1
            self._keep(record, shadow, largest)

    def _keep(self, record: DecisionRecord, shadow: ShadowScore, largest: float) -> None:
        title = record.listing.get("title")
        self.changes.append(
            ShadowChange(
                decision_id=record.id,
                listing_id=record.listing_id,
                title=str(title) if title is not None else None,
                market=record.market,
                champion_action=record.action,
                challenger_action=shadow.action,
                largest_change=round(largest, 6),
                champion_scores=dict(record.scores),
                challenger_scores=dict(shadow.scores),
            )
        )
        if len(self.changes) > 2 * MAX_CHANGES:  # keep the largest only, bounded memory
            self.changes = self._largest()

    def _largest(self) -> list[ShadowChange]:
        return sorted(self.changes, key=lambda c: (-c.largest_change, c.decision_id))[:MAX_CHANGES]

    def report(self, since: datetime, until: datetime) -> ShadowReport:
        labels = {
            label: LabelShift(
                mean_abs_change=self.abs_change[label] / count,
                mean_change=self.change[label] / count,
                band_changed=self.band_changed[label],
                bands={old: dict(new) for old, new in sorted(self.bands[label].items())},
            )
            for label, count in self.scored.items()
        }
        return ShadowReport(
            since=since,
            until=until,
            compared=self.compared,
            champion_versions=dict(self.champions),
            challenger_versions=dict(self.challengers),
            actions=self.actions,
            labels=labels,
            changes=self._largest(),
            changed_actions=self.changed,
        )

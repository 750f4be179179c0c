"""Drift of the service's inputs and scores: a current window of decisions against a reference.

The reference is a chosen window of earlier traffic (by default the seven days before the
current one). Decisions whose content retention stripped are left out; each label's score is
compared only between decisions of the model being served (``model_version``), so a promotion is
not read as drift: until the new model has enough decisions in the reference window, its score
checks say "too few". Per segment — all markets, then each market with enough decisions on both
sides — the population stability index (:mod:`models.drift`) of each input the model reads
(text length, price), the category mix the model named, the market mix (all markets only),
and each label's score. A window holds at most :data:`MAX_ROWS` decisions (its latest), so a
page stays quick on a busy service; the report says how many it read.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.drift import DriftCheck, categorical_check, numeric_check
from serving.tables import DecisionRecord

MAX_ROWS = 20_000
ALL_MARKETS = "all markets"
DEFAULT_MIN_COUNT = 200
DEFAULT_CURRENT_DAYS = 1
DEFAULT_REFERENCE_DAYS = 7


def default_windows(
    now: datetime,
    current_days: int = DEFAULT_CURRENT_DAYS,
    reference_days: int = DEFAULT_REFERENCE_DAYS,
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(reference, current): the last ``current_days`` and the ``reference_days`` before."""
    start = now - timedelta(days=current_days)
    return (start - timedelta(days=reference_days), start), (start, now)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    decisions: int
    capped: bool


@dataclass(frozen=True)
class DriftReport:
    reference: Window
    current: Window
    min_count: int
    segments: dict[str, list[DriftCheck]]

    @property
    def alerts(self) -> list[tuple[str, DriftCheck]]:
        return [
            (segment, check)
            for segment, checks in self.segments.items()
            for check in checks
            if check.alert
        ]

    def as_document(self) -> dict[str, Any]:
        return {
            "reference": vars(self.reference) | _iso(self.reference),
            "current": vars(self.current) | _iso(self.current),
            "min_count": self.min_count,
            "alerts": [{"segment": s, "feature": c.feature, "psi": c.psi} for s, c in self.alerts],
            "segments": {
                segment: [_check_json(check) for check in checks]
                for segment, checks in self.segments.items()
            },
        }


@dataclass(frozen=True)
class _Row:
    market: str
    text_length: int
    price: float | None
    category: str | None
    scores: dict[str, float]


def drift_report(
    session_factory: sessionmaker[Session],
    *,
    reference: tuple[datetime, datetime],
    current: tuple[datetime, datetime],
    labels: list[str],
    min_count: int,
    model_version: str,
) -> DriftReport:
    ref_rows, ref_window = _read(session_factory, *reference, model_version)
    cur_rows, cur_window = _read(session_factory, *current, model_version)
    segments = {ALL_MARKETS: _checks(ref_rows, cur_rows, labels, min_count, with_market=True)}
    markets = sorted({row.market for row in ref_rows} & {row.market for row in cur_rows})
    for market in markets:
        ref = [row for row in ref_rows if row.market == market]
        cur = [row for row in cur_rows if row.market == market]
        if len(ref) >= min_count and len(cur) >= min_count:
            segments[market] = _checks(ref, cur, labels, min_count, with_market=False)
    return DriftReport(ref_window, cur_window, min_count, segments)


def _read(
    session_factory: sessionmaker[Session], since: datetime, until: datetime, model_version: str
) -> tuple[list[_Row], Window]:
    query = (
        select(
            DecisionRecord.market,
            DecisionRecord.listing,
            DecisionRecord.regulated_category,
            DecisionRecord.scores,
            DecisionRecord.model_version,
        )
        .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
        .where(DecisionRecord.anonymized_at.is_(None))
        .order_by(DecisionRecord.created_at.desc())
        .limit(MAX_ROWS + 1)
    )
    with session_factory() as session:
        found = session.execute(query).all()
    rows = [
        _Row(
            market=market,
            text_length=len(str(listing.get("title") or ""))
            + len(str(listing.get("description") or "")),
            price=_price(listing.get("price")),
            category=category,
            scores=dict(scores) if version == model_version else {},
        )
        for market, listing, category, scores, version in found[:MAX_ROWS]
    ]
    return rows, Window(since, until, len(rows), len(found) > MAX_ROWS)


def _checks(
    ref: list[_Row], cur: list[_Row], labels: list[str], min_count: int, *, with_market: bool
) -> list[DriftCheck]:
    numeric: dict[str, Callable[[_Row], float | None]] = {
        "text length": lambda row: row.text_length,
        "price": lambda row: row.price,
    }
    categorical: dict[str, Callable[[_Row], str | None]] = {"category": lambda row: row.category}
    if with_market:
        categorical["market"] = lambda row: row.market
    checks = [
        numeric_check(name, [of(r) for r in ref], [of(r) for r in cur], min_count=min_count)
        for name, of in numeric.items()
    ]
    checks += [
        categorical_check(name, [of(r) for r in ref], [of(r) for r in cur], min_count=min_count)
        for name, of in categorical.items()
    ]
    # Scores of the serving model only (other models' rows carry none): never a missing bin.
    for label in labels:
        checks.append(
            numeric_check(
                f"score: {label}",
                [row.scores[label] for row in ref if label in row.scores],
                [row.scores[label] for row in cur if label in row.scores],
                min_count=min_count,
            )
        )
    return checks


def _price(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _iso(window: Window) -> dict[str, str]:
    return {"since": window.since.isoformat(), "until": window.until.isoformat()}


def _check_json(check: DriftCheck) -> dict[str, Any]:
    return {
        "feature": check.feature,
        "n_reference": check.n_reference,
        "n_current": check.n_current,
        "psi": check.psi,
        "threshold": check.threshold,
        "alert": check.alert,
        "bins": None if check.bins is None else vars(check.bins),
    }

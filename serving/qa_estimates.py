"""Live checks of the routing promises from QA verdicts on audited decisions.

For a period, per audit stratum (``auto_allow:US``, ``human:IN``, ...): the decisions it held
(automatic decisions carry their stratum; decided human items theirs), the audited ones with a
verdict, and per label the verdicts finding a violation. From those, with the design's inclusion
probabilities (:mod:`models.audit_estimates`):

- **violations let through** per label, as the promise defines it: violations of the label
  scoring in its allow band over all its violations — a ratio of totals that needs every stratum
  audited (estimated per decision; the card certifies it per seller, a mean over sellers);
- **wrong enforcements** per label: benign among the decisions auto-enforced on that label;
- **violations among auto-allowed** decisions and **prevalence** (violations among all decided
  listings: automatic decisions and decided human items) per label;
- **reviewer accuracy**: human decisions whose action QA confirmed (design-weighted), and the
  agreement figures of :mod:`models.agreement` (raw, positive, Krippendorff's alpha; hidden
  below 30 pairs).

All of it for every market or for one (strata are named ``kind:market:rate``). Audits still
waiting for a verdict are left out (they count as not yet audited; the report says how many
wait), as are decisions made before sampling existed (no stratum) and listings in review that no
human has decided yet.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.agreement import Agreement, agreement
from models.audit_estimates import Estimate, StratumAudit, share_of_total
from models.bundle import ModelCard
from serving.tables import ACTIVE_STATUSES, DecisionRecord, WorkItem

HUMAN_KINDS = ("review", "senior", "appeal")


@dataclass(frozen=True, slots=True)
class LabelCheck:
    label: str
    let_through: Estimate
    let_through_target: float | None
    wrong_enforcements: Estimate
    wrong_enforcements_target: float | None
    violations_among_allowed: Estimate
    prevalence: Estimate

    def breached(self) -> list[str]:
        """The promises whose whole interval lies above their target."""
        checks = [
            ("violations_let_through", self.let_through, self.let_through_target),
            ("wrong_enforcements", self.wrong_enforcements, self.wrong_enforcements_target),
        ]
        return [name for name, found, target in checks if target is not None and found.low > target]


@dataclass(frozen=True, slots=True)
class AuditReport:
    since: datetime
    until: datetime
    market: str | None
    audited: int
    pending: int
    """Audits of the period's decisions still waiting for a verdict."""
    labels: list[LabelCheck]
    reviewer_accuracy: Estimate
    reviewer_agreement: Agreement
    """Reviewer (block or not) against QA on the audited human decisions."""


def promise_targets(card: ModelCard) -> dict[str, tuple[float | None, float | None]]:
    """Per label of the card, its (let-through, wrong-enforcement) promises."""
    return {
        label: (
            edges.let_through.target if edges.let_through else None,
            edges.wrong_enforcements.target if edges.wrong_enforcements else None,
        )
        for label, edges in card.thresholds.items()
    }


def audit_report(
    session_factory: sessionmaker[Session],
    labels: list[str],
    targets: dict[str, tuple[float | None, float | None]],
    *,
    since: datetime,
    until: datetime,
    market: str | None = None,
    confidence: float = 0.95,
) -> AuditReport:
    """The estimates for decisions made in [since, until), in ``market`` or all; ``targets``:
    per label the (let-through, wrong-enforcement) promises."""
    with session_factory() as session:
        population = _in_market(_population(session, since, until), market)
        audits = [a for a in _audits(session, since, until) if a["stratum"] in population]
        enforced = {
            label: _in_market(counts, market)
            for label, counts in _enforced_per_label(session, labels, since, until).items()
        }
        pending = _pending(session, since, until, market)
    checks = [
        LabelCheck(
            label,
            _let_through(label, population, audits, confidence),
            targets.get(label, (None, None))[0],
            _wrong_enforcements(label, enforced, audits, confidence),
            targets.get(label, (None, None))[1],
            _violated_share(label, population, audits, confidence, prefix="auto_allow:"),
            _violated_share(label, population, audits, confidence),
        )
        for label in labels
    ]
    human = [a for a in audits if a["stratum"].startswith("human:")]

    def confirmed(audit: dict[str, Any]) -> bool:
        return bool(audit["qa_action"] == audit["audited_action"])

    # Design-weighted over the human strata: markets audited at different rates count as the
    # share of human decisions they hold, not as the share of audits.
    accuracy = share_of_total(
        _strata(population, human, confirmed, prefix="human:"),
        _strata(population, human, lambda a: not confirmed(a), prefix="human:"),
        confidence=confidence,
    )
    pairs = [(a["audited_action"] == "block", a["qa_action"] == "block") for a in human]
    return AuditReport(
        since, until, market, len(audits), pending, checks, accuracy, agreement(pairs)
    )


def _in_market(counts: Counter[str], market: str | None) -> Counter[str]:
    if market is None:
        return counts
    return Counter({name: n for name, n in counts.items() if name.split(":")[1:2] == [market]})


def _pending(session: Session, since: datetime, until: datetime, market: str | None) -> int:
    query = (
        select(func.count())
        .select_from(WorkItem)
        .join(DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
        .where(WorkItem.kind == "qa", WorkItem.status.in_(ACTIVE_STATUSES))
        .where(WorkItem.created_at >= since, WorkItem.created_at < until)
    )
    if market is not None:
        query = query.where(DecisionRecord.market == market)
    return int(session.scalar(query) or 0)


def _population(session: Session, since: datetime, until: datetime) -> Counter[str]:
    automatic = session.execute(
        select(DecisionRecord.audit_stratum, func.count())
        .where(DecisionRecord.audit_stratum.is_not(None))
        .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
        .group_by(DecisionRecord.audit_stratum)
    ).all()
    human = session.execute(
        select(WorkItem.audit_stratum, func.count())
        .where(WorkItem.kind.in_(HUMAN_KINDS), WorkItem.audit_stratum.is_not(None))
        .where(WorkItem.decided_at >= since, WorkItem.decided_at < until)
        .group_by(WorkItem.audit_stratum)
    ).all()
    counts: Counter[str] = Counter()
    for stratum, count in [*automatic, *human]:
        counts[str(stratum)] += int(count)
    return counts


def _audits(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Decided qa items on decisions of the period, with what they audited."""
    rows = session.execute(
        select(WorkItem, DecisionRecord)
        .join(DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
        .where(WorkItem.kind == "qa", WorkItem.status == "decided")
        .where(WorkItem.created_at >= since, WorkItem.created_at < until)
    ).all()
    parents = {item.parent_id for item, _ in rows if item.parent_id is not None}
    audited_actions = dict(
        session.execute(
            select(WorkItem.id, WorkItem.human_action).where(WorkItem.id.in_(parents))
        ).all()
    ) if parents else {}  # fmt: skip
    return [
        {
            "stratum": item.audit_stratum or "",
            "inclusion": item.inclusion_probability or 1.0,
            "violations": dict(item.qa_labels or {}),
            "qa_action": item.human_action,
            "audited_action": audited_actions.get(item.parent_id or "", decision.action),
            "bands": dict(decision.bands),
        }
        for item, decision in rows
    ]


def _enforced_per_label(
    session: Session, labels: list[str], since: datetime, until: datetime
) -> dict[str, Counter[str]]:
    """Per label, per auto_enforce stratum: decisions enforced on that label's band."""
    rows = session.execute(
        select(DecisionRecord.audit_stratum, DecisionRecord.bands)
        .where(DecisionRecord.audit_stratum.like("auto_enforce:%"))
        .where(DecisionRecord.created_at >= since, DecisionRecord.created_at < until)
    ).all()
    enforced: dict[str, Counter[str]] = defaultdict(Counter)
    for stratum, bands in rows:
        for label in labels:
            if bands.get(label) == "enforce":
                enforced[label][str(stratum)] += 1
    return enforced


def _strata(
    population: Counter[str], audits: list[dict[str, Any]], event: Any, *, prefix: str = ""
) -> list[StratumAudit]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for audit in audits:
        grouped[audit["stratum"]].append(audit)
    strata = []
    for name, size in sorted(population.items()):
        if not name.startswith(prefix):
            continue
        found = grouped.get(name, [])
        audited = min(len(found), size)
        events = min(sum(bool(event(a)) for a in found), audited)
        inclusion = max((a["inclusion"] for a in found), default=1.0)
        strata.append(StratumAudit(name, size, audited, events, inclusion))
    return strata


def _let_through(
    label: str, population: Counter[str], audits: list[dict[str, Any]], confidence: float
) -> Estimate:
    """Violations of ``label`` whose score fell in its allow band, over all its violations —
    the promise's own definition, whatever the other labels did to the listing."""

    def violated(audit: dict[str, Any]) -> bool:
        return bool(audit["violations"].get(label))

    def in_allow_band(audit: dict[str, Any]) -> bool:
        return bool(audit["bands"].get(label) == "allow")

    allowed = _strata(population, audits, lambda a: violated(a) and in_allow_band(a))
    caught = _strata(population, audits, lambda a: violated(a) and not in_allow_band(a))
    return share_of_total(allowed, caught, confidence=confidence)


def _violated_share(
    label: str,
    population: Counter[str],
    audits: list[dict[str, Any]],
    confidence: float,
    *,
    prefix: str = "",
) -> Estimate:
    """Decisions violating ``label`` over all decisions of the strata named ``prefix...``."""

    def violated(audit: dict[str, Any]) -> bool:
        return bool(audit["violations"].get(label))

    found = _strata(population, audits, violated, prefix=prefix)
    clean = _strata(population, audits, lambda a: not violated(a), prefix=prefix)
    return share_of_total(found, clean, confidence=confidence)


def _wrong_enforcements(
    label: str, enforced: dict[str, Counter[str]], audits: list[dict[str, Any]], confidence: float
) -> Estimate:
    on_label = [a for a in audits if a["bands"].get(label) == "enforce"]
    population = enforced.get(label, Counter())
    benign = _strata(population, on_label, lambda a: not a["violations"].get(label))
    violating = _strata(population, on_label, lambda a: bool(a["violations"].get(label)))
    return share_of_total(benign, violating, confidence=confidence)

"""The QA workflow end to end on the real tables, against a known truth.

    .venv/bin/python -m benchmarks.qa_workflow [--database-url URL] [--allows 20000]
        [--blocks 1000] [--reviews 600] [--seed 7]

Simulated traffic with a known truth per listing (fraud among automatic allows, blocks and
review items at set rates) is recorded through the decision store with audit sampling on;
simulated reviewers of known accuracy work the review queue through ``claim_next`` / ``decide``
(so gold items and blind second reviews reach them as in production); a perfect QA auditor
judges every drawn audit; some verdicts become gold cases. The script then compares what the
service estimates — the promises per label, prevalence, per-reviewer gold accuracy,
reviewer-reviewer agreement — with the truth, and prints whether each interval holds it.
The default database is a SQLite file in a temporary folder; a URL whose database is ``auto``
gets a throwaway PostgreSQL database.
"""

import argparse
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from benchmarks.live_server import database
from models.review_policy import AuditPolicy, PriorityWeights, ReviewPolicy, Urgency
from serving.db import create_db_engine, make_session_factory, upgrade_database
from serving.decision_store import NewDecision, record_decisions
from serving.gold_set import create_gold_case, gold_accuracy
from serving.qa_estimates import audit_report
from serving.review_actions import claim_next, decide
from serving.second_review import double_review_agreement
from serving.tables import utc_now

LABELS = ("fraud", "counterfeit", "regulated")
FRAUD_RATE = {"allow": 0.005, "block": 0.9, "review": 0.35}
REVIEWERS = {"r95": 0.95, "r90": 0.90, "r80": 0.80, "r70": 0.70}
AUDIT = AuditPolicy(
    rates={"auto_allow": 0.05, "auto_enforce": 0.1, "human": 0.2},
    gold_rate=0.05,
    second_review_rate=0.2,
)
POLICY = ReviewPolicy(audit=AUDIT)
BAND = {"allow": "allow", "review": "review", "block": "enforce"}


def _decision(action: str, n: int) -> NewDecision:
    listing_id = f"qa-{action}-{n}-{uuid.uuid4().hex[:8]}"
    fraud = {"allow": 0.01, "review": 0.5, "block": 0.97}[action]
    return NewDecision(
        idempotency_key=uuid.uuid4().hex,
        listing_id=listing_id,
        content_hash=uuid.uuid4().hex,
        request_id="qa-bench",
        market="US",
        listing={"listing_id": listing_id, "title": f"listing {n}", "seller_id": f"s-{n % 700}"},
        scores={"fraud": fraud, "counterfeit": 0.01, "regulated": 0.01},
        bands={"fraud": BAND[action], "counterfeit": "allow", "regulated": "allow"},
        regulated_category=None,
        category_scores={},
        action=action,
        explanation={"reasons": {}, "thresholds": {}, "rules": [], "clause": f"bands.{action}"},
        model_version="qa-bench",
        threshold_set_id="qa-bench",
        policy_version="qa-bench",
        urgency=Urgency({"risk": fraud}, PriorityWeights().as_hours(), sla_hours=24),
        audit=AUDIT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--allows", type=int, default=20_000)
    parser.add_argument("--blocks", type=int, default=1_000)
    parser.add_argument("--reviews", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.database_url, Path(folder)) as url,
    ):
        upgrade_database(url)
        engine = create_db_engine(url)
        factory = make_session_factory(engine)
        started = utc_now() - timedelta(seconds=1)
        clock = time.perf_counter()
        truth: dict[str, bool] = {}
        counts = {"allow": args.allows, "block": args.blocks, "review": args.reviews}
        for action, total in counts.items():
            batch = [_decision(action, n) for n in range(total)]
            for decision in batch:
                truth[decision.listing_id] = rng.random() < FRAUD_RATE[action]
            for start in range(0, total, 500):
                record_decisions(factory, batch[start : start + 500])
        print(f"recorded {sum(counts.values())} decisions in {time.perf_counter() - clock:.0f} s")
        gold = _work(factory, truth, rng)
        until = utc_now() + timedelta(seconds=1)
        _report(factory, truth, counts, gold, started, until)
        engine.dispose()


def _work(factory: sessionmaker[Session], truth: dict[str, bool], rng: random.Random) -> int:
    """Reviewers and QA work until their queues are empty; returns the gold cases made."""
    gold_made = 0
    while True:
        progressed = False
        qa = claim_next(factory, "qa-lead", kind="qa")
        if qa is not None:
            violated = truth[qa.listing_id]
            decide(
                factory, qa.id, "qa-lead", action="block" if violated else "allow",
                reason_code="scam-or-fraud" if violated else "no-violation", review=POLICY,
                violations={label: label == "fraud" and violated for label in LABELS},
            )  # fmt: skip
            if gold_made < 40 and rng.random() < 0.3:
                create_gold_case(factory, qa.id, rationale="bench", created_by="qa-lead",
                                 review=POLICY)  # fmt: skip
                gold_made += 1
            progressed = True
        for reviewer, accuracy in REVIEWERS.items():
            item = claim_next(factory, reviewer, review=POLICY)
            if item is None:
                continue
            right = truth[item.listing_id]
            says_block = right if rng.random() < accuracy else not right
            decide(
                factory, item.id, reviewer, action="block" if says_block else "allow",
                reason_code="scam-or-fraud" if says_block else "no-violation", review=POLICY,
            )  # fmt: skip
            progressed = True
        if not progressed:
            return gold_made


def _report(
    factory: sessionmaker[Session],
    truth: dict[str, bool],
    counts: dict[str, int],
    gold_made: int,
    since: datetime,
    until: datetime,
) -> None:
    report = audit_report(factory, list(LABELS), {"fraud": (0.1, 0.05)}, since=since, until=until)
    fraud = report.labels[0]
    by_action = {action: [v for k, v in truth.items() if f"-{action}-" in k] for action in counts}
    violations = sum(sum(v) for v in by_action.values())
    actual = {
        "violations let through": sum(by_action["allow"]) / violations,
        "wrong enforcements": 1 - sum(by_action["block"]) / len(by_action["block"]),
        "violations among automatic allows": sum(by_action["allow"]) / len(by_action["allow"]),
        "prevalence": violations / len(truth),
    }
    found = {
        "violations let through": fraud.let_through,
        "wrong enforcements": fraud.wrong_enforcements,
        "violations among automatic allows": fraud.violations_among_allowed,
        "prevalence": fraud.prevalence,
    }
    print(f"audited {report.audited} decisions ({report.pending} pending); {gold_made} gold cases")
    print("| fraud | truth | estimate | 95% interval | audited | holds |")
    print("|---|---|---|---|---|---|")
    for name, estimate in found.items():
        value = "-" if estimate.value is None else f"{estimate.value:.4f}"
        low, high = estimate.low, estimate.high
        cells = [name, f"{actual[name]:.4f}", value, _interval(low, high, 4),
                 str(estimate.audited), _holds(low, actual[name], high)]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    print("| reviewer | true accuracy | gold answered | gold accuracy | 95% interval | holds |")
    print("|---|---|---|---|---|---|")
    for entry in gold_accuracy(factory, since=since, until=until):
        truly, got = REVIEWERS[entry.reviewer], entry.accuracy
        cells = [entry.reviewer, f"{truly:.2f}", str(entry.answered), f"{got.value:.3f}",
                 _interval(got.low, got.high, 3), _holds(got.low, truly, got.high)]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    pairs = double_review_agreement(factory, since=since, until=until)
    rates = list(REVIEWERS.values())
    mean = sum(rates) / len(rates)
    # Two independent reviewers agree when both are right or both wrong: the mean over pairs.
    both = [a * b + (1 - a) * (1 - b) for i, a in enumerate(rates) for b in rates[i + 1 :]]
    expected = sum(both) / len(both)
    raw, alpha = pairs.raw, pairs.alpha.value
    shown = "hidden (< 30 pairs)" if raw.value is None else f"{raw.value:.3f} "
    if raw.value is not None and raw.low is not None and raw.high is not None:
        shown += f"({_interval(raw.low, raw.high, 3)})"
    print(
        f"second reviews: {raw.units} pairs, raw agreement {shown}; {expected:.3f} expected for "
        f"a random pair of these reviewers (mean accuracy {mean:.3f}); Krippendorff's alpha "
        f"{'hidden' if alpha is None else f'{alpha:.3f}'}"
    )


def _interval(low: float, high: float, digits: int) -> str:
    return f"{low:.{digits}f} to {high:.{digits}f}"


def _holds(low: float, value: float, high: float) -> str:
    return "yes" if low <= value <= high else "NO"


if __name__ == "__main__":
    main()

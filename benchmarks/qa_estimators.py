"""The QA estimators on simulated traffic with a known truth: bias and interval coverage.

    .venv/bin/python -m benchmarks.qa_estimators [--periods 2000] [--seed 7]

Each period has 40,000 automatic allows (0.4% violating, audited at 0.5%), 2,000 human
decisions (35% violating, 5%) and 3,000 automatic blocks (90% violating, 2%) — the default
audit rates. Prints, for the let-through share (violations auto-allowed over all violations)
and the wrong-enforcement share (benign among blocks): the mean error of the estimate with its
Monte Carlo standard error, the coverage of the 95% interval, and its median width.
"""

import argparse
import statistics

import numpy as np

from models.audit_estimates import StratumAudit, share_of_total

TRAFFIC = [
    ("auto_allow", 40_000, 0.004, 0.005),
    ("human", 2_000, 0.35, 0.05),
    ("auto_enforce", 3_000, 0.9, 0.02),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--periods", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    expected = {name: size * share for name, size, share, _ in TRAFFIC}
    truths = {
        "let_through": expected["auto_allow"] / sum(expected.values()),
        "wrong_enforcements": 1 - TRAFFIC[2][2],
    }
    found: dict[str, list[tuple[float, float, float]]] = {name: [] for name in truths}
    for _ in range(args.periods):
        strata = {}
        for name, size, share, inclusion in TRAFFIC:
            violating = rng.random(size) < share
            audited = rng.random(size) < inclusion
            events = int((violating & audited).sum())
            strata[name] = StratumAudit(name, size, int(audited.sum()), events, inclusion)
        let = share_of_total([strata["auto_allow"]], [strata["human"], strata["auto_enforce"]])
        blocks = strata["auto_enforce"]
        benign = StratumAudit("benign", blocks.population, blocks.audited,
                              blocks.audited - blocks.events, blocks.inclusion)  # fmt: skip
        wrong = share_of_total([benign], [blocks])
        for name, estimate in (("let_through", let), ("wrong_enforcements", wrong)):
            if estimate.value is not None:
                found[name].append((estimate.value, estimate.low, estimate.high))
    print(f"{args.periods} simulated periods, seed {args.seed}")
    print(f"{'share':<20} {'truth':>7} {'mean error (MC SE)':>22} {'coverage':>9} {'width':>7}")
    for name, truth in truths.items():
        rows = found[name]
        errors = [value - truth for value, _, _ in rows]
        se = statistics.stdev(errors) / len(errors) ** 0.5
        covered = sum(low <= truth <= high for _, low, high in rows) / len(rows)
        width = statistics.median(high - low for _, low, high in rows)
        mean = statistics.mean(errors)
        print(f"{name:<20} {truth:7.4f} {mean:+11.5f} ({se:.5f}) {covered:9.3f} {width:7.3f}")


if __name__ == "__main__":
    main()

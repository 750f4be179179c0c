"""The promotion gate's false-refusal rate on equal models, and how often it refuses worse ones.

    .venv/bin/python -m benchmarks.promotion_gate [--trials 200] [--resamples 500]

Simulated champion/challenger pairs (:mod:`evaluation.gate_simulation`: 300 sellers of 1-12
listings, one label, a two-value slice column, seller-correlated scores). The champion's
separation is 1.5; the challenger's is 1.5 (equally good: every refusal is false), then lower
(worse by a known amount). Each trial is a new world; the gate runs with its defaults (margin
0.02, alpha 0.05, Bonferroni over its checks). Promises are set loose so only the AP checks
decide (a promise check fires on the challenger's own edges, not on the comparison). Prints the
refusal rate per separation with a Wilson 95% interval, and the AP difference the worse
challengers have on average.
"""

import argparse
import math
import time

import numpy as np

from evaluation.gate_simulation import LABEL, GateWorld, simulated_pair
from evaluation.promotion_gate import DEFAULT_ALPHA, DEFAULT_MARGIN, gate
from evaluation.slices import standard_slices
from models.thresholds import LabelThresholds, ThresholdTargets

CHAMPION_SEPARATION = 1.5
EDGES = {LABEL: LabelThresholds(allow=0.2, enforce=0.9)}
LOOSE = {LABEL: ThresholdTargets(max_violations_let_through=1.0, max_wrong_enforcements=1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--separations", type=float, nargs="+", default=[1.5, 1.3, 1.1, 0.9])
    args = parser.parse_args()
    world = GateWorld()
    print(
        f"{args.trials} trials per separation; champion separation {CHAMPION_SEPARATION}; "
        f"{world.sellers} sellers; margin {DEFAULT_MARGIN}, alpha {DEFAULT_ALPHA}; "
        f"{args.resamples} resamples"
    )
    print(f"{'challenger':>10} {'refused':>8} {'rate [95% CI]':<24} {'mean AP diff':>12} {'s':>6}")
    for separation in args.separations:
        started = time.perf_counter()
        refused, differences = 0, []
        for trial in range(args.trials):
            challenger, champion = simulated_pair(
                world,
                separation_challenger=separation,
                separation_champion=CHAMPION_SEPARATION,
                seed=10_000 + trial,
            )
            result = gate(
                challenger,
                champion,
                thresholds=EDGES,
                targets=LOOSE,
                slices=standard_slices(challenger.rows).slices,
                n_resamples=args.resamples,
                seed=trial,
            )
            refused += result.refused
            label = next(check for check in result.checks if check.kind == "label")
            assert label.champion is not None
            differences.append(label.challenger - label.champion)
        low, high = _wilson(refused, args.trials)
        print(
            f"{separation:>10.2f} {refused:>8} {refused / args.trials:.3f} [{low:.3f}, {high:.3f}]"
            f"{'':<6} {np.mean(differences):>+12.3f} {time.perf_counter() - started:>6.0f}",
            flush=True,
        )


def _wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


if __name__ == "__main__":
    main()

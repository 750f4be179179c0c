"""Do the routing promises hold on sellers never seen? Simulation, then marketplace-risk-v1.

    .venv/bin/python -m benchmarks.guarantees [--repeats 200] [--real-repeats 50] [--seed 0]

1. Simulation with a known truth (:mod:`evaluation.guarantee_simulation`): the share of repeats
   in which a certified promise is broken on new sellers, for the seller-level procedure that
   ships and for the listing-level one, at several strengths of the seller effect.
2. marketplace-risk-v1 (``$LISTINGGUARD_SHARED_DIR/data``, default ``../shared``; skipped when
   absent): the default config trained and certified on train only; on validation (sellers never
   seen), per label the promise, whether it was certified, and the measured rate of both errors
   (seller-weighted, as promised, and listing-weighted) with seller-bootstrap 95% intervals,
   beside the point-estimate edges on the same calibration scores; the share auto-decided.
3. Real-data repeats within train: the calibration sellers split in halves at random, edges
   certified on one half and measured on the other; how often a certified promise breaks there.

Aggregate figures only: no row or title is printed.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from data.splits import split_by_seller, stratify_labels_of
from evaluation.guarantee_simulation import SellerWorld, run_coverage
from evaluation.scored import ScoredRows, score_rows
from models.bundle import ModelCard
from models.certified_thresholds import (
    GuaranteeSettings,
    certify_label,
    enforce_start_index,
    unit_codes,
)
from models.policy import default_policy
from models.routing import route_listing
from models.scorer import BundleScorer
from models.thresholds import LabelThresholds, ThresholdTargets, fit_label_thresholds
from training.config import load_config
from training.pipeline import train_bundle

DATASET = "marketplace-risk-v1"
PROMISES = ("violations_let_through", "wrong_enforcements")


def main() -> None:
    args = _arguments()
    simulation(args.repeats, args.seed)
    folder = Path(os.environ.get("LISTINGGUARD_SHARED_DIR", "../shared")) / "data" / DATASET
    if not (folder / "train.jsonl").is_file():
        print(f"\n{folder}: absent, the real-data part is skipped")
        return
    marketplace(folder, args.real_repeats, args.seed, args.resamples)


def simulation(repeats: int, seed: int) -> None:
    targets = ThresholdTargets(
        max_violations_let_through=0.10,
        max_wrong_enforcements=0.10,
        max_auto_allow_probability=0.9,
    )
    print(
        f"simulation: {repeats} repeats, 60 calibration sellers of ~40 listings, promises "
        "10% / 10% at 95% (delta 0.05); broken = certified but above the promise on 20k new sellers"
    )
    print(
        f"{'seller effect':>13} {'procedure':>9}  {'let-through broken':>22}  "
        f"{'wrong-enf broken':>22}"
    )
    for effect in (0.0, 1.5, 3.0):
        world = SellerWorld(seller_effect=effect, mean_listings=40, base_log_odds=-1.0)
        for unit in ("seller", "listing"):
            started = time.perf_counter()
            result = run_coverage(
                world,
                repeats=repeats,
                calibration_sellers=60,
                settings=GuaranteeSettings(unit=unit),  # type: ignore[arg-type]
                targets=targets,
                seed=seed,
            )
            cells = [
                f"{result.broken[p]}/{result.certified[p]} cert. ({result.broken_share(p):.3f})"
                for p in PROMISES
            ]
            print(
                f"{effect:>13.1f} {unit:>9}  {cells[0]:>22}  {cells[1]:>22}"
                f"  [{time.perf_counter() - started:.0f}s]"
            )


def marketplace(folder: Path, real_repeats: int, seed: int, resamples: int) -> None:
    mapping = load_mapping(resolve_mapping_path(DATASET))
    train = load_labeled(folder / "train.jsonl", mapping).rows
    validation = load_labeled(folder / "validation.jsonl", mapping).rows
    config = load_config()
    print(f"\n{DATASET}: {len(train)} train rows, {len(validation)} validation rows")
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        trained = train_bundle(
            train,
            config=config,
            data_fingerprint="benchmark",
            bundle_dir=Path(scratch) / "bundle",
            taxonomy=mapping.taxonomy,
            progress=lambda message: print(f"  {message}"),
        )
        print(f"trained and certified in {time.perf_counter() - started:.0f}s")
        scorer = BundleScorer(trained.bundle_dir)
        card = trained.card
        splits = split_by_seller(
            train,
            fractions={
                "fit": 1 - config.calibration_fraction,
                "calibration": config.calibration_fraction,
            },
            seed=config.seed,
            stratify_labels=[
                label
                for label in stratify_labels_of(mapping.taxonomy)
                if label in {name for row in train for name in row.labels.values}
            ],
        )
        calibration = score_rows(scorer, splits["calibration"])
        point = {
            label: fit_label_thresholds(
                *_known(calibration, label), targets=card.threshold_targets[label]
            )
            for label in card.labels
        }
        held_out = score_rows(scorer, validation)
        report_validation(card, held_out, point, resamples, seed)
        fit_scored = score_rows(scorer, splits["fit"])
        real_repeats_within_train(card, fit_scored, calibration, real_repeats, seed)


def report_validation(
    card: ModelCard,
    held_out: ScoredRows,
    point: dict[str, LabelThresholds],
    resamples: int,
    seed: int,
) -> None:
    print(
        f"\nvalidation ({held_out.n} listings, sellers unseen in train): measured rate "
        f"[seller-bootstrap 95%], {resamples} resamples"
    )
    print(
        f"{'label':<12} {'edges':<10} {'promise':<22} {'certified':<10} "
        f"{'seller-weighted':<24} {'listing-weighted':<24} {'auto':>6}"
    )
    for label in card.labels:
        y_true, scores, groups = _known(held_out, label, with_groups=True)
        for name, edges in (("certified", card.thresholds[label]), ("point", point[label])):
            certificates = (edges.let_through, edges.wrong_enforcements)
            auto = float(np.mean((scores < edges.allow) | _enforced(scores, edges)))
            for promise, certificate in zip(PROMISES, certificates, strict=True):
                target = card.threshold_targets[label]
                alpha = (
                    target.max_violations_let_through
                    if promise == PROMISES[0]
                    else target.max_wrong_enforcements
                )
                event, at_risk = _promise_arrays(promise, y_true, scores, edges)
                seller = _bootstrap(event, at_risk, groups, "seller", resamples, seed)
                listing = _bootstrap(event, at_risk, groups, "listing", resamples, seed)
                certified = "n/a" if certificate is None else str(certificate.certified).lower()
                print(
                    f"{label:<12} {name:<10} {promise.replace('_', ' ') + f' <= {alpha:g}':<22} "
                    f"{certified:<10} {seller:<24} {listing:<24} {auto:>6.3f}"
                )
    for name, edges_of in (
        ("certified", card.thresholds),
        ("point", point),
    ):
        print(
            f"share of validation listings decided without a human ({name} edges): "
            f"{_automation(held_out, edges_of, card):.3f}"
        )


def real_repeats_within_train(
    card: ModelCard, fit_scored: ScoredRows, calibration: ScoredRows, repeats: int, seed: int
) -> None:
    settings = card.guarantee or GuaranteeSettings()
    delta = settings.delta_per_promise(len(card.labels))
    rng = np.random.default_rng(seed)
    print(
        f"\nreal-data repeats: {repeats} random halvings of the {calibration.n} calibration "
        "listings by seller; certify on one half, measure (seller-weighted) on the other"
    )
    print(f"{'label':<12} {'promise':<24} {'certified':>9} {'broken':>7}")
    for label in card.labels:
        y_fit, s_fit, g_fit = _known(fit_scored, label, with_groups=True)
        platt = card.calibration[label]
        start = enforce_start_index(
            platt.inverse(s_fit), y_fit, unit_codes(g_fit),
            alpha=card.threshold_targets[label].max_wrong_enforcements, delta=delta,
        )  # fmt: skip
        y_true, scores, groups = _known(calibration, label, with_groups=True)
        codes = unit_codes(groups)
        counts = {promise: [0, 0] for promise in PROMISES}
        for _ in range(repeats):
            half = rng.random(codes.max() + 1) < 0.5
            a, b = half[codes], ~half[codes]
            edges = certify_label(
                y_true[a], scores[a], codes[a], platt=platt,
                targets=card.threshold_targets[label], settings=settings, delta=delta,
                enforce_start=start,
            )  # fmt: skip
            for promise, certificate in zip(
                PROMISES, (edges.let_through, edges.wrong_enforcements), strict=True
            ):
                if certificate is None or not certificate.certified:
                    continue
                event, at_risk = _promise_arrays(promise, y_true[b], scores[b], edges)
                measured = _rate(event, at_risk, codes[b], "seller")
                counts[promise][0] += 1
                counts[promise][1] += int(measured > certificate.target)
        for promise in PROMISES:
            certified, broken = counts[promise]
            print(f"{label:<12} {promise.replace('_', ' '):<24} {certified:>9} {broken:>7}")


def _known(scored: ScoredRows, label: str, *, with_groups: bool = False) -> tuple[np.ndarray, ...]:
    column = scored.labels.index(label)
    mask = scored.known[:, column]
    arrays = (scored.y_true[mask, column], scored.probabilities[mask, column])
    return (*arrays, scored.groups[mask]) if with_groups else arrays


def _enforced(scores: np.ndarray, edges: LabelThresholds) -> np.ndarray:
    return scores >= edges.enforce if edges.enforce is not None else np.zeros(scores.size, bool)


def _promise_arrays(
    promise: str, y_true: np.ndarray, scores: np.ndarray, edges: LabelThresholds
) -> tuple[np.ndarray, np.ndarray]:
    if promise == PROMISES[0]:
        return scores < edges.allow, y_true == 1
    return y_true == 0, _enforced(scores, edges)


def _rate(event: np.ndarray, at_risk: np.ndarray, groups: np.ndarray, unit: str) -> float:
    if unit == "listing":
        total = at_risk.sum()
        return float((event & at_risk).sum() / total) if total else float("nan")
    codes = groups if groups.dtype.kind == "i" else unit_codes(groups)
    numerators = np.bincount(codes, weights=event & at_risk)
    denominators = np.bincount(codes, weights=at_risk)
    counted = denominators > 0
    return (
        float((numerators[counted] / denominators[counted]).mean())
        if counted.any()
        else float("nan")
    )


def _bootstrap(
    event: np.ndarray, at_risk: np.ndarray, groups: np.ndarray, unit: str, resamples: int, seed: int
) -> str:
    """The rate and its percentile interval, resampling sellers (each draw a unit of its own)."""
    codes = unit_codes(groups)
    numerators = np.bincount(codes, weights=event & at_risk).astype(np.float64)
    denominators = np.bincount(codes, weights=at_risk).astype(np.float64)
    counted = denominators > 0
    if not counted.any():
        return "n/a (nothing at risk)"
    shares = np.divide(numerators, denominators, out=np.zeros_like(numerators), where=counted)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, codes.max() + 1, size=(resamples, codes.max() + 1))
    if unit == "seller":
        estimate = float(shares[counted].mean())
        values = (shares[draws] * counted[draws]).sum(axis=1) / np.maximum(
            counted[draws].sum(axis=1), 1
        )
    else:
        estimate = float(numerators.sum() / denominators.sum())
        values = numerators[draws].sum(axis=1) / np.maximum(denominators[draws].sum(axis=1), 1)
    low, high = np.percentile(values, [2.5, 97.5])
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def _automation(scored: ScoredRows, edges: dict[str, LabelThresholds], card: ModelCard) -> float:
    policy = default_policy(card.taxonomy)
    actions = [
        route_listing(
            probabilities, category, thresholds=edges, policy=policy, listing=row.listing
        ).action
        for row, probabilities, category in zip(
            scored.rows, scored.probability_dicts(), scored.predicted_category, strict=True
        )
    ]
    return float(np.mean([action != "review" for action in actions]))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--real-repeats", type=int, default=50)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


if __name__ == "__main__":
    main()

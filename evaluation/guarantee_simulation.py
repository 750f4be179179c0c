"""Does a certified promise hold on new sellers? A simulation with a known truth.

Sellers are drawn with a seller effect ``u ~ N(0, seller_effect^2)`` that moves both how often
their listings violate and how they score, so one seller's listings are alike. Each repeat draws
an independent fit sample (it only orders the enforce candidates), a calibration sample to
certify on, and measures the true risk of the certified edges on a large sample of new sellers.
The share of repeats in which a *certified* promise is broken estimates the procedure's error
rate, which must stay at or below ``1 - confidence``. Running the listing-level procedure
through the same test shows the test can fail: it treats a seller's alike listings as
independent evidence.
"""

from dataclasses import dataclass

import numpy as np

from models.calibration import PlattMap
from models.certified_thresholds import (
    GuaranteeSettings,
    certify_label,
    enforce_start_index,
)
from models.thresholds import LabelThresholds, ThresholdTargets

IDENTITY = PlattMap(slope=1.0, intercept=0.0)


@dataclass(frozen=True)
class SellerWorld:
    """How synthetic sellers and their listings are drawn."""

    seller_effect: float = 1.5
    """Standard deviation of the seller effect on log-odds of violating and on the score."""
    base_log_odds: float = -2.0
    separation: float = 3.0
    """Score logit distance between violating and benign listings."""
    mean_listings: float = 8.0

    def draw(
        self, rng: np.random.Generator, n_sellers: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(y_true, score logits, seller codes) of ``n_sellers`` new sellers."""
        effects = rng.normal(0.0, self.seller_effect, n_sellers)
        sizes = rng.geometric(1.0 / self.mean_listings, n_sellers)
        sellers = np.repeat(np.arange(n_sellers), sizes)
        effect = effects[sellers]
        y_true = rng.random(sellers.size) < 1 / (1 + np.exp(-(self.base_log_odds + effect)))
        logits = (
            self.separation * (y_true - 0.5) + 0.8 * effect + rng.normal(0.0, 1.0, sellers.size)
        )
        return y_true.astype(np.int64), logits, sellers


@dataclass(frozen=True)
class CoverageResult:
    repeats: int
    certified: dict[str, int]
    """How many repeats certified each promise."""
    broken: dict[str, int]
    """How many of those broke it on new sellers."""

    def broken_share(self, promise: str) -> float:
        return self.broken[promise] / self.repeats


def true_risks(
    edges: LabelThresholds, y_true: np.ndarray, logits: np.ndarray, sellers: np.ndarray, unit: str
) -> dict[str, float]:
    """The risks of ``edges`` on a large sample, weighted as ``unit`` says."""
    scores = IDENTITY.apply(logits)
    results = {}
    allowed = scores < edges.allow
    results["violations_let_through"] = _weighted(allowed, y_true == 1, sellers, unit)
    if edges.enforce is not None:
        enforced = scores >= edges.enforce
        results["wrong_enforcements"] = _weighted(y_true == 0, enforced, sellers, unit)
    return results


def run_coverage(
    world: SellerWorld,
    *,
    repeats: int,
    calibration_sellers: int,
    settings: GuaranteeSettings,
    targets: ThresholdTargets,
    seed: int,
    truth_sellers: int = 20_000,
) -> CoverageResult:
    """Certify ``repeats`` times on fresh calibration sellers; count promises broken."""
    rng = np.random.default_rng(seed)
    truth = world.draw(rng, truth_sellers)
    delta = settings.delta_per_promise(1)
    promises = ("violations_let_through", "wrong_enforcements")
    certified = dict.fromkeys(promises, 0)
    broken = dict.fromkeys(promises, 0)
    for _ in range(repeats):
        fit_y, fit_logits, fit_sellers = world.draw(rng, calibration_sellers)
        y_true, logits, sellers = world.draw(rng, calibration_sellers)
        units = sellers if settings.unit == "seller" else np.arange(sellers.size)
        fit_units = fit_sellers if settings.unit == "seller" else np.arange(fit_sellers.size)
        start = enforce_start_index(
            fit_logits, fit_y, fit_units, alpha=targets.max_wrong_enforcements, delta=delta
        )
        edges = certify_label(
            y_true,
            IDENTITY.apply(logits),
            units,
            platt=IDENTITY,
            targets=targets,
            settings=settings,
            delta=delta,
            enforce_start=start,
        )
        risks = true_risks(edges, *truth, settings.unit)
        for promise, certificate, alpha in (
            ("violations_let_through", edges.let_through, targets.max_violations_let_through),
            ("wrong_enforcements", edges.wrong_enforcements, targets.max_wrong_enforcements),
        ):
            if certificate is not None and certificate.certified:
                certified[promise] += 1
                broken[promise] += int(risks.get(promise, 0.0) > alpha)
    return CoverageResult(repeats=repeats, certified=certified, broken=broken)


def _weighted(event: np.ndarray, at_risk: np.ndarray, sellers: np.ndarray, unit: str) -> float:
    """Share of ``event`` among ``at_risk`` rows: pooled (listing) or averaged over sellers."""
    if unit == "listing":
        total = int(at_risk.sum())
        return float((event & at_risk).sum()) / total if total else 0.0
    n_sellers = int(sellers.max()) + 1
    numerators = np.bincount(sellers, weights=(event & at_risk), minlength=n_sellers)
    denominators = np.bincount(sellers, weights=at_risk, minlength=n_sellers)
    counted = denominators > 0
    return float((numerators[counted] / denominators[counted]).mean()) if counted.any() else 0.0

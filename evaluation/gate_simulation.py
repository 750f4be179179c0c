"""Simulated champion/challenger pairs with a known truth, for the promotion gate's error rates.

A world of sellers (each with its own violation rate and its own score shift, so one seller's
listings are alike), one label, a two-value ``source`` slice column. Each model's logit is
``separation * (2y - 1) + seller shift + noise``; the two models share part of their noise (two
models of one team read the same listings), and their separations say how good each is: equal
separations are equally good models, the case whose refusals are false.
"""

from dataclasses import dataclass

import numpy as np

from data.schema import LabeledListing, Labels, Listing
from evaluation.scored import ScoredRows, scored_from_arrays

LABEL = "fraud"


@dataclass(frozen=True)
class GateWorld:
    sellers: int = 300
    max_listings_per_seller: int = 12
    prevalence: float = 0.15
    """Mean of the sellers' violation rates (Beta with concentration 2)."""
    seller_shift: float = 0.5
    """Standard deviation of a seller's shift of both models' logits."""
    shared_noise: float = 0.6
    """Share of each model's noise that the two models have in common."""


def simulated_pair(
    world: GateWorld,
    *,
    separation_challenger: float,
    separation_champion: float,
    seed: int,
) -> tuple[ScoredRows, ScoredRows]:
    """(challenger, champion) scored on the same simulated rows."""
    rng = np.random.default_rng(seed)
    concentration = 2.0
    rates = rng.beta(
        world.prevalence * concentration, (1 - world.prevalence) * concentration, world.sellers
    )
    sizes = rng.integers(1, world.max_listings_per_seller + 1, world.sellers)
    seller = np.repeat(np.arange(world.sellers), sizes)
    y = (rng.random(seller.size) < rates[seller]).astype(np.int64)
    shift = rng.normal(0.0, world.seller_shift, world.sellers)[seller]
    common = rng.normal(size=seller.size)
    rows = [
        LabeledListing(
            listing=Listing(
                listing_id=f"sim-{index}", title="simulated listing", seller_id=f"s{owner}"
            ),
            labels=Labels(values={LABEL: int(truth)}),
            slices={"source": "a" if owner % 2 else "b"},
        )
        for index, (owner, truth) in enumerate(zip(seller.tolist(), y.tolist(), strict=True))
    ]
    scored = []
    for separation in (separation_challenger, separation_champion):
        own = rng.normal(size=seller.size)
        noise = np.sqrt(world.shared_noise) * common + np.sqrt(1 - world.shared_noise) * own
        logits = separation * (2 * y - 1) + shift + noise
        probabilities = (1.0 / (1.0 + np.exp(-logits)))[:, None]
        scored.append(scored_from_arrays(rows, [LABEL], probabilities, [None] * len(rows)))
    return scored[0], scored[1]

"""Synthetic demo listings, so that a new user can run the whole pipeline in minutes.

Demo data only: templates and vocabulary filled by a seeded :class:`random.Random`. Sellers follow
profiles (most are ordinary shops; a few mostly list scams, replicas or darknet goods; some are
legitimate sellers of regulated goods), live in one of several markets and price in its currency.
Some labels are deliberately flipped (``slices["label_noise"]``) as real labels are never clean:
mostly missed violations (a positive recorded as 0), rarely a false report (0 recorded as 1).
Written with :func:`write_demo_dataset` and read back with the ``demo`` mapping.
"""

import json
import math
import random
import shutil
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.demo_benign import EVERYDAY, HARD_NEGATIVES
from data.demo_risky import COUNTERFEIT, FRAUD, REGULATED
from data.demo_vocab import MARKET_WEIGHTS, MARKETS, VOCABULARY, Market, Scenario
from data.mapping import BUILTIN_MAPPINGS_DIR
from data.schema import LabeledListing, Labels, Listing
from data.taxonomy import default_taxonomy

DEMO_TAXONOMY = default_taxonomy()
"""The demo's scenarios are written for the default taxonomy's three labels."""
DEMO_FILE_NAME = "demo-listings.jsonl"
DEMO_MAPPING_NAME = "demo"
MISSED_VIOLATION_RATE = 0.05
FALSE_REPORT_RATE = 0.001
MISSING_PRICE_RATE = 0.04
CROSS_BORDER_USD_RATE = 0.08
LISTINGS_PER_SELLER = 4

SCENARIOS: Mapping[str, Scenario] = {
    scenario.name: scenario
    for scenario in (*EVERYDAY, *HARD_NEGATIVES, *FRAUD, *COUNTERFEIT, *REGULATED)
}


def _even(names: list[str], total: float) -> dict[str, float]:
    return {name: total / len(names) for name in names}


SELLER_PROFILES: Mapping[str, tuple[float, dict[str, float]]] = {
    # profile: (share of sellers, relative weight of each scenario in its listings)
    "shop": (
        0.62,
        {
            **_even([s.name for s in EVERYDAY], 86),
            **_even([s.name for s in HARD_NEGATIVES], 9),
            "regulated/supplements": 1.5,
            "regulated/otc_medicine": 1,
            "regulated/alcohol": 1.5,
            "fraud/too_good_to_be_true": 0.5,
            "counterfeit/fake_sneakers": 0.5,
        },
    ),
    "pharmacy": (
        0.05,
        {
            "regulated/otc_medicine": 40,
            "regulated/supplements": 35,
            "benign/beauty": 20,
            "regulated/prescription_drugs": 5,
        },
    ),
    "drinks_and_tobacco": (
        0.05,
        {
            "regulated/alcohol": 55,
            "regulated/tobacco": 30,
            "hard_negative/lookalike_gear": 10,
            "benign/kitchen": 5,
        },
    ),
    "outdoor": (
        0.04,
        {"regulated/weapons": 35, "hard_negative/kitchen_knives": 25, "benign/sports": 40},
    ),
    "headshop": (
        0.03,
        {
            "regulated/drug_paraphernalia": 60,
            "regulated/tobacco": 30,
            "hard_negative/lookalike_gear": 10,
        },
    ),
    "luxury_reseller": (
        0.04,
        {
            "hard_negative/genuine_watch": 45,
            "hard_negative/genuine_bag": 40,
            "counterfeit/replica_watch": 7,
            "counterfeit/replica_bag": 8,
        },
    ),
    "software_store": (
        0.03,
        {
            "hard_negative/software_licence": 70,
            "benign/computer": 20,
            "counterfeit/pirated_software": 10,
        },
    ),
    "scammer": (
        0.07,
        {
            "fraud/gift_card_scam": 25,
            "fraud/account_sale": 25,
            "fraud/carding": 15,
            "fraud/too_good_to_be_true": 20,
            "fraud/fake_documents": 5,
            "benign/phone_accessory": 10,
        },
    ),
    "counterfeiter": (
        0.04,
        {
            "counterfeit/replica_watch": 25,
            "counterfeit/replica_bag": 25,
            "counterfeit/fake_sneakers": 20,
            "counterfeit/pirated_software": 20,
            "benign/fashion": 10,
        },
    ),
    "darknet_vendor": (
        0.03,
        {
            "regulated/illicit_drugs": 60,
            "regulated/prescription_drugs": 25,
            "fraud/fake_documents": 5,
            "fraud/counterfeit_money": 5,
            "fraud/carding": 5,
        },
    ),
}

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class _Seller:
    seller_id: str
    profile: str
    market: Market
    handle: str
    activity: float


def generate_demo_listings(n: int = 3000, seed: int = 0) -> list[LabeledListing]:
    """``n`` labeled demo listings; the same ``n`` and ``seed`` always give the same rows."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = random.Random(seed)
    sellers = _make_sellers(rng, max(5, n // LISTINGS_PER_SELLER))
    weights = [seller.activity for seller in sellers]
    return [
        _make_listing(rng, index, rng.choices(sellers, weights=weights)[0])
        for index in range(1, n + 1)
    ]


def write_demo_dataset(directory: str | Path, n: int = 3000, seed: int = 0) -> Path:
    """Write demo listings as JSON lines plus a copy of their mapping; returns the data file."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    path = target / DEMO_FILE_NAME
    with path.open("w", encoding="utf-8") as handle:
        for row in generate_demo_listings(n, seed):
            handle.write(json.dumps(demo_record(row), ensure_ascii=False) + "\n")
    shutil.copyfile(BUILTIN_MAPPINGS_DIR / f"{DEMO_MAPPING_NAME}.yaml", target / "mapping.yaml")
    return path


def demo_record(row: LabeledListing) -> dict[str, Any]:
    """One row in the shape the ``demo`` mapping reads."""
    listing = row.listing.model_dump(mode="json")
    labels: dict[str, Any] = {**row.labels.values, "regulated_category": row.labels.category}
    return {**listing, "labels": labels, **row.slices}


def _make_sellers(rng: random.Random, count: int) -> list[_Seller]:
    profiles = list(SELLER_PROFILES)
    shares = [SELLER_PROFILES[name][0] for name in profiles]
    return [
        _Seller(
            seller_id=f"seller-{number:04d}",
            profile=rng.choices(profiles, weights=shares)[0],
            market=rng.choices(MARKETS, weights=MARKET_WEIGHTS)[0],
            handle=rng.choice(VOCABULARY["handle"]) + str(rng.randint(1, 99)),
            activity=min(rng.paretovariate(1.4), 40.0),
        )
        for number in range(1, count + 1)
    ]


def _make_listing(rng: random.Random, index: int, seller: _Seller) -> LabeledListing:
    scenario_weights = SELLER_PROFILES[seller.profile][1]
    scenario = SCENARIOS[
        rng.choices(list(scenario_weights), weights=list(scenario_weights.values()))[0]
    ]
    slots = {"city": rng.choice(seller.market.cities), "handle": seller.handle}
    price, currency = _price(rng, scenario, seller.market)
    listing = Listing(
        listing_id=f"demo-{index:06d}",
        title=_decorate_title(rng, _fill(rng, rng.choice(scenario.titles), scenario, slots)),
        description=_fill(rng, rng.choice(scenario.descriptions), scenario, slots),
        price=price,
        currency=currency,
        category=scenario.category,
        seller_id=seller.seller_id,
        market=seller.market.code,
        attributes={"condition": rng.choice(scenario.conditions)},
    )
    labels, noise = _noisy_labels(rng, scenario)
    return LabeledListing(
        listing=listing, labels=labels, slices={"scenario": scenario.name, "label_noise": noise}
    )


def _fill(rng: random.Random, template: str, scenario: Scenario, slots: dict[str, str]) -> str:
    """Fill ``{slot}`` placeholders; ``slots`` remembers choices so title and text agree."""
    parts = []
    for literal, name, _, _ in _FORMATTER.parse(template):
        parts.append(literal)
        if name is None:
            continue
        if name not in slots:
            value = rng.choice(scenario.slots.get(name) or VOCABULARY[name])
            slots[name] = _fill(rng, value, scenario, slots) if "{" in value else value
        parts.append(slots[name])
    return "".join(parts)


def _decorate_title(rng: random.Random, title: str) -> str:
    """Sellers' habits: a few shout, a few add a sales prefix."""
    roll = rng.random()
    if roll < 0.04:
        return title.upper()
    if roll < 0.09:
        return f"{rng.choice(('NEW', 'SALE', 'HOT', 'Bargain'))}: {title}"
    return title


def _price(rng: random.Random, scenario: Scenario, market: Market) -> tuple[float | None, str]:
    """A log-uniform price in the scenario's range, in the market's currency (sometimes USD)."""
    currency, per_usd = market.currency, market.per_usd
    if rng.random() < CROSS_BORDER_USD_RATE:
        currency, per_usd = "USD", 1.0
    low, high = scenario.price_usd
    usd = math.exp(rng.uniform(math.log(low), math.log(high)))
    if rng.random() < MISSING_PRICE_RATE:
        return None, currency
    amount = usd * per_usd
    if currency == "INR":
        return float(round(amount, -1)), currency
    return (math.floor(amount) + 0.99 if amount >= 5 else round(amount, 2)), currency


def _noisy_labels(rng: random.Random, scenario: Scenario) -> tuple[Labels, str]:
    """The scenario's labels; a positive is missed at :data:`MISSED_VIOLATION_RATE`, a negative
    falsely reported at :data:`FALSE_REPORT_RATE` (one label per row at most)."""
    labels = DEMO_TAXONOMY.label_names
    values: dict[str, int | None] = {
        "fraud": scenario.fraud,
        "counterfeit": scenario.counterfeit,
        "regulated": scenario.regulated,
    }
    category = scenario.regulated_category
    positives = [label for label in labels if values[label] == 1]
    if positives and rng.random() < MISSED_VIOLATION_RATE:
        label = rng.choice(positives)
    elif rng.random() < FALSE_REPORT_RATE:
        label = rng.choice([label for label in labels if values[label] == 0] or list(labels))
    else:
        return Labels(values=values, category=category), "none"
    values[label] = 1 - (values[label] or 0)
    if label == "regulated":
        category = rng.choice(DEMO_TAXONOMY.categories) if values[label] else None
    return Labels(values=values, category=category), f"flipped_{label}"

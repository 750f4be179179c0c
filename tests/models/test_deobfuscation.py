"""Evasions are undone before hashing: idempotent, dosage-safe, and scored like the plain text."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.schema import Listing
from models.deobfuscation import deobfuscate
from models.routing import band_of
from models.scorer import BundleScorer
from models.text_features import FeatureHasher, FeatureSpec, normalize_text

ZWSP = "\u200b"


def zero_width_everywhere(text: str) -> str:
    return " ".join(ZWSP.join(word) for word in text.split())


def spaced(text: str) -> str:
    first, *rest = text.split()
    return " ".join([" ".join(first), *rest])


def look_alikes(text: str) -> str:
    return text.replace("e", "\u0435").replace("o", "\u03bf")  # Cyrillic e, Greek omicron


def leet(text: str) -> str:
    return " ".join(
        w[0] + w[1:-1].replace("o", "0").replace("a", "4") + w[-1] for w in text.split()
    )


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (f"re{ZWSP}pli{ZWSP}ca rolex", "replica rolex"),
        ("r e p l i c a rolex", "replica rolex"),
        ("r.e.p.l.i.c.a watch", "replica watch"),
        ("r\u0435plica", "replica"),
        ("r0lex c4rd v1agra", "rolex card viagra"),
        ("ibuprofen 2.5mg iphone13 500ml", "ibuprofen 2.5mg iphone13 500ml"),
        (
            "\u0440\u0435\u043f\u043b\u0438\u043a\u0430",
            "\u0440\u0435\u043f\u043b\u0438\u043a\u0430",
        ),
    ],
)
def test_evasions_are_read_as_the_plain_words(written: str, read: str) -> None:
    assert deobfuscate(normalize_text(written)) == read


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_deobfuscation_is_idempotent(text: str) -> None:
    once = deobfuscate(normalize_text(text))
    assert deobfuscate(once) == once


def test_plain_text_hashes_exactly_as_version_1_did() -> None:
    listing = Listing(listing_id="x", title="Blue kettle 1.7l", description="steel, 2200w")
    old = FeatureHasher(FeatureSpec(version=1)).transform_one(listing)
    new = FeatureHasher(FeatureSpec(version=2)).transform_one(listing)
    assert sorted(old.ids.tolist()) == sorted(new.ids.tolist())


TITLES = [
    "replica rolex submariner watch",
    "cheap cigarettes carton wholesale",
    "gift card generator unlimited balance",
    "blue ceramic coffee mug",
]


@pytest.mark.parametrize("evade", [zero_width_everywhere, spaced, look_alikes, leet])
def test_an_evasive_variant_scores_like_the_plain_listing(demo_bundle: Path, evade: object) -> None:
    scorer = BundleScorer(demo_bundle)
    plain = scorer.score([Listing(listing_id=f"p{i}", title=t) for i, t in enumerate(TITLES)])
    variants = scorer.score(
        [Listing(listing_id=f"v{i}", title=evade(t)) for i, t in enumerate(TITLES)]  # type: ignore[operator]
    )
    for title, a, b in zip(TITLES, plain, variants, strict=True):
        for label, p in a.probabilities.items():
            q = b.probabilities[label]
            edges = scorer.card.thresholds[label]
            assert abs(p - q) <= 0.05, (title, label, p, q)
            assert band_of(p, edges) == band_of(q, edges), (title, label, p, q)

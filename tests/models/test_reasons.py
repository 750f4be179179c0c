"""Reasons and calibration: the vectorized forms against their plain definitions."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from data.schema import Listing
from models.calibration import PlattMap, calibrate_logits
from models.score_types import Reason, top_reasons
from models.text_features import FeatureHasher, FeatureSpec

LABELS = ["fraud", "counterfeit", "regulated"]


def reference_reasons(
    contributions: np.ndarray, sources: list[str], limit: int = 3
) -> list[Reason]:
    """The definition: sum each phrase's contributions in feature order, rank by total (ties
    in order of first appearance), keep the top ``limit`` that pushed the logit up."""
    totals: dict[str, float] = {}
    for phrase, weight in zip(sources, contributions.tolist(), strict=True):
        totals[phrase] = totals.get(phrase, 0.0) + weight
    ranked = sorted(totals.items(), key=lambda item: item[1], reverse=True)
    return [Reason(phrase, round(weight, 4)) for phrase, weight in ranked[:limit] if weight > 0]


def test_features_name_each_phrase_once_in_order_of_first_appearance() -> None:
    listing = Listing(listing_id="l-1", title="replica rolex rolex watch", price=120.0)
    features = FeatureHasher(FeatureSpec()).transform_one(listing)
    assert len(features.phrases) == len(set(features.phrases))
    sources = [features.phrases[i] for i in features.phrase_of.tolist()]
    assert list(dict.fromkeys(sources)) == features.phrases
    assert {"replica", "rolex", "watch", "replica rolex"} <= set(features.phrases)
    assert len(features.phrase_of) == len(features.ids)


@settings(deadline=None, max_examples=150)
@given(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=0, max_size=30),
    st.data(),
)
def test_reasons_match_their_definition(sources: list[str], data: st.DataObject) -> None:
    # Few distinct weights, so equal totals (ties) and zeros are common.
    weights = st.sampled_from([-1.5, -0.25, 0.0, 0.125, 0.25, 0.5, 1.0])
    contributions = np.array(
        [[data.draw(weights) for _ in LABELS] for _ in sources], dtype=np.float32
    ).reshape(len(sources), len(LABELS))
    phrases = list(dict.fromkeys(sources))
    phrase_of = np.array([phrases.index(s) for s in sources], dtype=np.intp)
    found = top_reasons(contributions, phrase_of, phrases, LABELS)
    for column, label in enumerate(LABELS):
        assert found[label] == reference_reasons(contributions[:, column], sources)


def test_reasons_of_a_hashed_listing_match_their_definition() -> None:
    hasher = FeatureHasher(FeatureSpec())
    listing = Listing(
        listing_id="l-2",
        title="Genuine replica Rolex watch, rolex box and papers",
        description="ships fast, no questions, replica of the original",
        price=89.0,
    )
    features = hasher.transform_one(listing)
    rng = np.random.default_rng(7)
    contributions = rng.normal(size=(len(features.ids), len(LABELS))).astype(np.float32)
    sources = [features.phrases[i] for i in features.phrase_of.tolist()]
    found = top_reasons(contributions, features.phrase_of, features.phrases, LABELS)
    for column, label in enumerate(LABELS):
        assert found[label] == reference_reasons(contributions[:, column], sources)
        assert found[label]  # random pushes: some phrase pushed each label up


def test_calibration_applies_each_labels_map_to_its_column() -> None:
    maps = [PlattMap(slope=1.3, intercept=-0.4), PlattMap(slope=0.7, intercept=2.0)]
    logits = np.array([[-800.0, 3.0], [0.0, -2.5], [40.0, 800.0]])
    calibrated = calibrate_logits(logits, maps)
    for row in range(logits.shape[0]):
        for column, platt in enumerate(maps):
            z = platt.slope * logits[row, column] + platt.intercept
            expected = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
            assert math.isclose(calibrated[row, column], expected, rel_tol=1e-12, abs_tol=1e-300)
    assert np.isfinite(calibrated).all()

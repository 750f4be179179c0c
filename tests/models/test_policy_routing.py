import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from data.taxonomy import default_taxonomy
from models.calibration import PlattMap, calibrate_logits, sigmoid
from models.policy import Policy, decide_action, default_policy
from models.routing import band_of, route_listing
from models.thresholds import LabelThresholds

TAXONOMY = default_taxonomy()
POLICY = default_policy(TAXONOMY)

EDGES = {
    "fraud": LabelThresholds(allow=0.2, enforce=0.9),
    "counterfeit": LabelThresholds(allow=0.2, enforce=0.9),
    "regulated": LabelThresholds(allow=0.3, enforce=0.8),
}


def route(fraud: float, counterfeit: float, regulated: float, category: str | None = None) -> str:
    scores = {"fraud": fraud, "counterfeit": counterfeit, "regulated": regulated}
    return route_listing(scores, category, thresholds=EDGES, policy=POLICY).action


@pytest.mark.parametrize(
    ("category", "action"),
    [
        ("illicit_drugs", "block"),
        ("prescription_drugs", "block"),
        ("weapons", "block"),
        ("tobacco", "review"),
        ("drug_paraphernalia", "review"),
        ("alcohol", "allow"),
        ("supplements", "allow"),
        ("otc_medicine", "allow"),
        (None, "review"),
    ],
)
def test_default_policy_for_enforced_regulated_items(category: str | None, action: str) -> None:
    assert route(0.01, 0.01, 0.95, category) == action


def test_fraud_or_counterfeit_enforce_blocks() -> None:
    assert route(0.95, 0.01, 0.01) == "block"
    assert route(0.01, 0.95, 0.01) == "block"


def test_any_review_band_reviews_unless_something_blocks() -> None:
    assert route(0.5, 0.01, 0.01) == "review"
    assert route(0.5, 0.01, 0.95, "alcohol") == "review"
    assert route(0.5, 0.95, 0.01) == "block"
    assert route(0.01, 0.01, 0.01) == "allow"


def test_rules_explain_the_action() -> None:
    outcome = decide_action({"fraud": "enforce", "regulated": "allow"}, None, POLICY)
    assert outcome.rules == ["fraud enforce -> block [labels.fraud]"]
    assert outcome.clause == "labels.fraud"


def test_band_edges_are_inclusive_at_enforce_exclusive_at_allow() -> None:
    edges = LabelThresholds(allow=0.2, enforce=0.9)
    assert band_of(0.2, edges) == "review"
    assert band_of(0.9, edges) == "enforce"
    assert band_of(0.1999, edges) == "allow"


def test_policy_refuses_names_outside_its_taxonomy() -> None:
    with pytest.raises(ValueError, match=r"labels.spam: unknown label\(s\) \['spam'\].*has labels"):
        Policy(version="x", category_label="regulated", labels={"spam": "block"}).check_against(
            TAXONOMY
        )
    wrong_category = Policy(
        version="y",
        labels={"regulated": "review"},
        category_label="regulated",
        markets={"US": {"categories": {"fireworks": "prohibited"}}},  # type: ignore[dict-item]
    )
    with pytest.raises(
        ValueError, match=r"markets\.US\.categories\.fireworks: unknown category 'fireworks'"
    ):
        wrong_category.check_against(TAXONOMY)
    with pytest.raises(ValidationError, match="categories are set but category_label is not"):
        Policy(version="z", labels={}, categories={"alcohol": "allowed"})  # type: ignore[dict-item]


@settings(deadline=None, max_examples=100)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=30), st.floats(0.01, 5), st.floats(-5, 5))
def test_calibrated_probabilities_are_in_unit_interval_and_monotonic(
    logits: list[float], slope: float, intercept: float
) -> None:
    values = np.sort(np.array(logits))
    calibrated = PlattMap(slope=slope, intercept=intercept).apply(values)
    assert ((calibrated >= 0) & (calibrated <= 1)).all()
    assert (np.diff(calibrated) >= 0).all()


def test_sigmoid_is_stable_for_large_inputs() -> None:
    assert sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]


def test_calibrate_logits_checks_shape() -> None:
    with pytest.raises(ValueError, match="do not match"):
        calibrate_logits(np.zeros((2, 3)), [PlattMap(slope=1, intercept=0)])

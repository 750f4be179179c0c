"""The review section of a policy: reason codes, SLAs, urgency factors and their checks."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from data.taxonomy import default_taxonomy
from models.errors import PolicyError
from models.policy_file import load_policy
from models.review_policy import ReviewPolicy, SlaHours, parse_reach, review_urgency

EDGES = {"fraud": (0.2, 0.8), "counterfeit": (0.3, None)}


def _urgency(p_fraud: float, **kwargs: object) -> dict[str, float]:
    options: dict[str, object] = {"market": "US", "price": None, "reach": None} | kwargs
    return review_urgency(
        {"fraud": p_fraud, "counterfeit": 0.1},
        {"fraud": "review", "counterfeit": "allow"},
        EDGES,
        review=ReviewPolicy(),
        **options,  # type: ignore[arg-type]
    ).factors


def test_uncertainty_peaks_in_the_middle_of_the_review_band() -> None:
    assert _urgency(0.5)["uncertainty"] == pytest.approx(1.0)
    assert _urgency(0.2)["uncertainty"] == pytest.approx(0.0)
    assert _urgency(0.35)["uncertainty"] == pytest.approx(0.5)


def test_reach_replaces_price_as_exposure() -> None:
    assert _urgency(0.5, price=200.0)["exposure"] == pytest.approx(0.5)
    assert _urgency(0.5, price=200.0, reach=30_000.0)["exposure"] == pytest.approx(0.75)
    assert _urgency(0.5)["exposure"] == 0.0


@settings(deadline=None, max_examples=60)
@given(
    p=st.floats(0, 1),
    price=st.none() | st.floats(0, 1e9),
    reach=st.none() | st.floats(0, 1e12),
)
def test_every_factor_stays_in_the_unit_interval(
    p: float, price: float | None, reach: float | None
) -> None:
    factors = _urgency(p, price=price, reach=reach)
    assert all(0.0 <= value <= 1.0 for value in factors.values()), factors


def test_sla_market_overrides_label_overrides_default() -> None:
    sla = SlaHours(default=24, labels={"fraud": 4}, markets={"IN": {"fraud": 2, "default": 12}})
    assert (sla.hours("fraud", "US"), sla.hours("counterfeit", "US")) == (4, 24)
    assert (sla.hours("fraud", "IN"), sla.hours("counterfeit", "IN")) == (2, 12)
    assert sla.hours(None, "GB") == 24


def test_seller_history_share_grows_with_violations() -> None:
    base = review_urgency(
        {"fraud": 0.5}, {"fraud": "review"}, EDGES, market="US", price=None, reach=None,
        review=ReviewPolicy(),
    )  # fmt: skip
    shares = [base.with_seller_history(n).factors["seller_history"] for n in (0, 2, 20)]
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[1] == pytest.approx(0.5)
    assert base.with_seller_history(2).advance_hours > base.advance_hours


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [({"reach": "1200"}, 1200.0), ({"reach": "lots"}, None), ({"reach": "-5"}, None), ({}, None)],
)
def test_reach_is_read_from_the_listing_attributes(
    attributes: dict[str, str], expected: float | None
) -> None:
    assert parse_reach(attributes) == expected


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ({"reason_codes": {"x": {"action": "block", "description": "d"}}}, "one allow and one"),
        (
            {"reason_codes": {"ok": {"action": "allow", "description": "d", "severity": 2}}},
            "confirms no violation",
        ),
        ({"sla_hours": {"labels": {"fraud": 0}}}, "is not in"),
    ],
)
def test_bad_review_sections_are_refused(review: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReviewPolicy.model_validate(review)


def test_a_policy_file_naming_an_unknown_label_in_review_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: v1\ncategory_label: regulated\nlabels: {fraud: block}\n"
        "review:\n  sla_hours:\n    labels: {frauds: 2}\n"
    )
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+: review.sla_hours.labels.frauds"):
        load_policy(path, default_taxonomy())


def test_the_example_policy_has_a_review_section_that_loads() -> None:
    policy = load_policy("marketplace-example", default_taxonomy())
    codes = policy.review.reason_codes
    assert {code.action for code in codes.values()} == {"allow", "block"}

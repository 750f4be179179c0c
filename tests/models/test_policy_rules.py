"""Declarative rules: they force a band or an action, name themselves, and read evasions."""

from pathlib import Path

import pytest

from data.schema import Listing
from data.taxonomy import default_taxonomy
from models.errors import PolicyError
from models.policy import Policy
from models.policy_file import load_policy
from models.policy_rules import Rule
from models.routing import route_listing
from models.thresholds import LabelThresholds

TAXONOMY = default_taxonomy()
EDGES = {label: LabelThresholds(allow=0.3, enforce=0.9) for label in TAXONOMY.label_names}
LOW = {"fraud": 0.01, "counterfeit": 0.01, "regulated": 0.01}
EXAMPLE = load_policy("marketplace-example", TAXONOMY)


def listing(title: str, **fields: object) -> Listing:
    return Listing(listing_id="x", title=title, **fields)  # type: ignore[arg-type]


def test_a_keyword_rule_forces_the_band_and_names_itself() -> None:
    routed = route_listing(
        LOW, None, thresholds=EDGES, policy=EXAMPLE, listing=listing("Gift card generator v2")
    )
    assert routed.bands["fraud"] == "enforce"
    assert (routed.action, routed.clause) == ("block", "rules.gift-card-generator")
    assert "rule gift-card-generator: fraud -> enforce" in routed.rules
    assert [rule.id for rule in routed.fired_rules] == ["gift-card-generator"]


def test_a_rule_reads_through_evasions() -> None:
    evasive = listing("g i f t card gen\u200berator")
    routed = route_listing(LOW, None, thresholds=EDGES, policy=EXAMPLE, listing=evasive)
    assert routed.bands["fraud"] == "enforce"


def test_a_brand_far_below_its_price_goes_to_review_only_in_its_currency() -> None:
    cheap = listing("Rolex Submariner", price=120.0, currency="USD")
    routed = route_listing(LOW, None, thresholds=EDGES, policy=EXAMPLE, listing=cheap)
    assert (routed.action, routed.clause) == ("review", "rules.rolex-far-below-retail")
    for other in (
        listing("Rolex Submariner", price=9000.0, currency="USD"),
        listing("Rolex Submariner", price=120.0, currency="GBP"),
        listing("Rolex Submariner"),
    ):
        assert route_listing(LOW, None, thresholds=EDGES, policy=EXAMPLE, listing=other).action == (
            "allow"
        )


def test_markets_attributes_and_actions() -> None:
    rule = Rule(
        id="de-no-permit",
        label="regulated",
        markets=("DE",),
        words=("fireworks",),
        attribute_absent="explosives_permit",
        action="block",
    )
    policy = Policy(version="p", category_label="regulated", labels={}, rules=(rule,))
    assert policy.attributes_read() == ("explosives_permit",)

    def action(**fields: object) -> str:
        target = listing("Fireworks rockets", **fields)
        return route_listing(LOW, None, thresholds=EDGES, policy=policy, listing=target).action

    assert action(market="DE") == "block"
    assert action(market="FR") == "allow"
    assert action(market="DE", attributes={"explosives_permit": "P-77"}) == "allow"


@pytest.mark.parametrize(
    ("rule", "where", "message"),
    [
        ("{id: r1, label: fraud, words: [x], band: enforce, action: block}", ":7:", "exactly one"),
        ("{id: r1, label: fraud, band: enforce}", ":7:", "needs a condition"),
        ("{id: r1, label: fraud, pattern: '(', band: review}", ":7:", "does not compile"),
        ("{id: r1, label: scam, words: [x], band: review}", ":7: rules.0.label:", "['scam']"),
    ],
)
def test_a_bad_rule_is_refused_with_its_line(
    tmp_path: Path, rule: str, where: str, message: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: v\ncategory_label: regulated\nlabels:\n  fraud: block\n"
        f"# rules\nrules:\n  - {rule}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as raised:
        load_policy(path, TAXONOMY)
    assert where in str(raised.value) and message in str(raised.value), raised.value


def test_only_the_rule_behind_the_deciding_band_is_credited() -> None:
    whitelist = Rule(id="whitelist", label="fraud", words=("mug",), band="allow")
    policy = Policy(version="p", category_label="regulated", labels={}, rules=(whitelist,))
    probabilities = {"fraud": 0.5, "counterfeit": 0.5, "regulated": 0.01}
    routed = route_listing(
        probabilities, None, thresholds=EDGES, policy=policy, listing=listing("blue mug")
    )
    assert routed.bands["fraud"] == "allow" and routed.action == "review"
    assert routed.clause == "bands.review", "counterfeit's own band decided, not the whitelist"


def test_a_rule_forcing_the_category_label_is_credited() -> None:
    weapons = Rule(id="rifles", label="regulated", words=("rifle",), band="enforce")
    policy = EXAMPLE.model_copy(update={"rules": (weapons,)})
    routed = route_listing(
        LOW, "weapons", thresholds=EDGES, policy=policy, listing=listing("hunting rifle")
    )
    assert (routed.action, routed.clause) == ("block", "rules.rifles")

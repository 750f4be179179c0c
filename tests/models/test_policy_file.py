"""Policy files: per-market clauses, licences, the deciding clause, and errors with line numbers."""

from pathlib import Path

import pytest

from data.taxonomy import default_taxonomy
from models.errors import PolicyError
from models.policy import decide_action
from models.policy_file import load_policy

TAXONOMY = default_taxonomy()
EXAMPLE = load_policy("marketplace-example", TAXONOMY)
REGULATED = {"fraud": "allow", "counterfeit": "allow", "regulated": "enforce"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("category", "market", "attributes", "action", "clause"),
    [
        ("weapons", "US", {}, "block", "categories.weapons"),
        ("weapons", "IN", {}, "block", "categories.weapons"),
        ("alcohol", "DE", {}, "allow", "categories.alcohol"),
        ("alcohol", "IN", {}, "block", "markets.IN.categories.alcohol"),
        ("alcohol", "US", {}, "review", "markets.US.categories.alcohol"),
        ("alcohol", "US", {"alcohol_licence": "TX-1234"}, "allow", "markets.US.categories.alcohol"),
        ("alcohol", "US", {"alcohol_licence": "  "}, "review", "markets.US.categories.alcohol"),
        (None, "US", {}, "review", "labels.regulated"),
    ],
)
def test_the_example_policy_decides_per_market(
    category: str | None, market: str, attributes: dict[str, str], action: str, clause: str
) -> None:
    outcome = decide_action(REGULATED, category, EXAMPLE, market=market, attributes=attributes)
    assert (outcome.action, outcome.clause) == (action, clause)
    assert outcome.rules[0].endswith(f"-> {action} [{clause}]")


def test_a_review_band_and_an_allow_name_their_clauses() -> None:
    outcome = decide_action({"fraud": "review", "regulated": "allow"}, None, EXAMPLE)
    assert (outcome.action, outcome.clause) == ("review", "bands.review")
    assert decide_action({"fraud": "allow"}, None, EXAMPLE).clause == "default"


def test_the_attributes_a_policy_reads_are_listed() -> None:
    assert EXAMPLE.attributes_read() == ("alcohol_licence", "pharmacy_registration")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "version: v\ncategory_label: regulated\nlabels:\n  fraud: ban\n",
            ":4: labels.fraud:",
            "'allow', 'review' or 'block'",
        ),
        (
            "version: v\ncategory_label: regulated\nlabels: {}\nmarkets:\n  US:\n"
            "    categories:\n      alcohol: {status: allowed, allowed_with: [licence]}\n",
            ":7: markets.US.categories.alcohol:",
            "allowed_with applies to restricted",
        ),
        (
            "version: v\ncategory_label: regulated\nlabels: {}\nmarkets:\n  usa: {}\n",
            ":5: markets.usa:",
            "two capital letters",
        ),
        (
            "version: v\ncategory_label: regulated\nlabels:\n  fraud: block\n  scam: block\n",
            ":5: labels.scam:",
            "unknown label(s) ['scam']",
        ),
        (
            "version: v\ncategory_label: regulated\nlabels: {}\nmarkets:\n  DE:\n"
            "    categories:\n      fireworks: prohibited\n",
            ":7: markets.DE.categories.fireworks:",
            "unknown category 'fireworks'",
        ),
        ("version: v\nlabels: [\n", ":3:1: invalid YAML", "expected"),
    ],
)
def test_a_bad_policy_is_one_line_naming_file_line_and_clause(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    with pytest.raises(PolicyError) as raised:
        load_policy(write(tmp_path, text), TAXONOMY)
    line = str(raised.value)
    assert "\n" not in line and where in line and message in line, line


def test_unreadable_bytes_and_control_characters_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"version: v\nlabels: {fraud: block}\n# \xff\xfe\n")
    with pytest.raises(PolicyError, match="not UTF-8 text"):
        load_policy(path, TAXONOMY)
    path.write_text("version: v\x07\nlabels: {}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="invalid YAML"):
        load_policy(path, TAXONOMY)


def test_an_edit_under_the_same_version_changes_the_content_id() -> None:
    edited = EXAMPLE.model_copy(update={"labels": {**EXAMPLE.labels, "fraud": "review"}})
    assert edited.version == EXAMPLE.version
    assert edited.content_id() != EXAMPLE.content_id()
    assert EXAMPLE.content_id().startswith(EXAMPLE.version + "#")


def test_rule_markets_are_two_capital_letters(tmp_path: Path) -> None:
    text = (
        "version: v\ncategory_label: regulated\nlabels: {}\nrules:\n"
        "  - {id: r, label: fraud, words: [x], band: review, markets: [us]}\n"
    )
    with pytest.raises(PolicyError, match=r"rules\.0\.markets\.0"):
        load_policy(write(tmp_path, text), TAXONOMY)

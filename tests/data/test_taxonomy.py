"""Taxonomy files: the default, custom ones, and the errors a team sees for a bad one."""

from pathlib import Path

import pytest

from data.errors import MappingError
from data.mapping import load_mapping
from data.taxonomy import TaxonomyError, default_taxonomy, load_taxonomy
from models.policy import decide_action, default_policy


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_is_the_three_labels_with_regulated_categories() -> None:
    taxonomy = default_taxonomy()
    assert taxonomy.label_names == ("fraud", "counterfeit", "regulated")
    assert taxonomy.category_label == "regulated"
    assert taxonomy.category_target == "regulated_category"
    assert "illicit_drugs" in taxonomy.categories and "alcohol" in taxonomy.categories


def test_the_default_policy_follows_the_taxonomy_actions() -> None:
    policy = default_policy(default_taxonomy())
    assert policy.version == "default-v1"
    enforced = {"fraud": "allow", "counterfeit": "allow", "regulated": "enforce"}
    assert decide_action(enforced, "illicit_drugs", policy).action == "block"
    assert decide_action(enforced, "alcohol", policy).action == "allow"
    assert decide_action(enforced, None, policy).action == "review"  # unknown category
    assert decide_action({"fraud": "enforce"}, None, policy).action == "block"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("name: t\nlabels: [{name: a}, {name: a}]\n", None, "['a'] listed more than once"),
        (
            "name: t\nlabels:\n  - {name: a, categories: {x: {}, y: {}}}\n"
            "  - {name: b, categories: {x: {}, y: {}}}\n",
            None,
            "only one label may carry categories",
        ),
        ("name: t\nlabels: [{name: Fraud}]\n", "labels.0.name", "should match pattern"),
        ("name: t\nlabels: [{name: a, enforce_action: ban}]\n", "labels.0.enforce_action", "block"),
        ("name: t\nlabels: [{name: a, categories: {x: {}}}]\n", "labels.0", "at least two"),
        ("name: t\nlabels: []\n", "labels", "at least 1"),
    ],
)
def test_a_bad_taxonomy_names_file_and_field(
    tmp_path: Path, text: str, field: str | None, message: str
) -> None:
    path = write(tmp_path, "taxonomy.yaml", text)
    with pytest.raises(TaxonomyError) as raised:
        load_taxonomy(path)
    assert raised.value.file.endswith("taxonomy.yaml")
    assert raised.value.field == field
    assert message in raised.value.message


def test_a_mapping_reads_its_taxonomy_relative_to_itself(tmp_path: Path) -> None:
    write(tmp_path, "risks.yaml", "name: risks\nlabels: [{name: spam}, {name: abuse}]\n")
    mapping = load_mapping(
        write(
            tmp_path,
            "m.yaml",
            "name: m\ntaxonomy: risks.yaml\nlisting: {title: t}\nlabels: {abuse: a}\n",
        )
    )
    assert mapping.taxonomy.name == "risks"
    assert mapping.known_labels == ("abuse",)
    assert mapping.label_targets == ("spam", "abuse")


def test_a_mapping_naming_a_label_outside_its_taxonomy_lists_the_valid_ones(
    tmp_path: Path,
) -> None:
    write(tmp_path, "risks.yaml", "name: risks\nlabels: [{name: spam}, {name: abuse}]\n")
    path = write(
        tmp_path,
        "m.yaml",
        "name: m\ntaxonomy: risks.yaml\nlisting: {title: t}\nlabels: {fraud: f}\n",
    )
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert raised.value.field == "labels.fraud"
    assert "expected one of ['spam', 'abuse']" in raised.value.message


def test_a_missing_taxonomy_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "name: m\ntaxonomy: nowhere.yaml\nlisting: {title: t}\n")
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert raised.value.field == "taxonomy"
    assert "nowhere.yaml" in raised.value.message and "built-in taxonomy (default)" in str(
        raised.value
    )

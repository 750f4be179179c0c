"""Bundles that cannot lie: every way a card and its graph can disagree is refused in one line."""

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest

from data.schema import Listing
from models.bundle import BUNDLE_FORMAT_VERSION, read_card, write_card
from models.bundle_binding import FINGERPRINT_KEY, file_sha256
from models.errors import BundleError
from models.scorer import BundleScorer
from tests.models.bundle_edits import Edit, edit_card, refusal
from training.bundle_upgrade import upgrade_bundle
from training.onnx_export import save_bound_onnx


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    return copy


def record_model_hash(bundle: Path) -> None:
    edit_card(bundle, lambda card: card.update(model_sha256=file_sha256(bundle / "model.onnx")))


def swap_labels(card: dict[str, Any]) -> None:
    card["labels"] = [card["labels"][1], card["labels"][0], *card["labels"][2:]]


def halve_word_buckets(card: dict[str, Any]) -> None:
    card["feature_spec"]["title_word_buckets"] //= 2


def reorder_categories(card: dict[str, Any]) -> None:
    card["regulated_categories"] = card["regulated_categories"][::-1]


def change_ngrams(card: dict[str, Any]) -> None:
    card["feature_spec"]["char_ngrams"] = [2, 4]


def empty_term_groups(card: dict[str, Any]) -> None:
    card["feature_spec"]["term_groups"] = {}


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (swap_labels, "labels"),
        (halve_word_buckets, "feature_spec.title_word_buckets"),
        (reorder_categories, "regulated_categories"),
        (change_ngrams, "feature_spec.char_ngrams"),
        (empty_term_groups, "feature_spec.term_groups"),
    ],
)
def test_an_edited_card_beside_its_graph_is_refused_naming_the_field(
    bundle: Path, edit: Edit, field: str
) -> None:
    edit_card(bundle, edit)
    assert f"field {field} differs" in refusal(bundle)


def test_inverted_thresholds_are_refused(bundle: Path) -> None:
    def invert(card: dict[str, Any]) -> None:
        card["thresholds"]["fraud"].update(allow=0.99, enforce=0.01)

    edit_card(bundle, invert)
    assert "thresholds.fraud: allow 0.99 is above enforce 0.01" in refusal(bundle)


def test_an_allow_edge_above_the_cap_is_refused(bundle: Path) -> None:
    edit_card(bundle, lambda card: card["thresholds"]["fraud"].update(allow=0.9, enforce=None))
    assert "exceeds max_auto_allow_probability 0.5" in refusal(bundle)


def test_thresholds_edited_under_their_old_id_are_refused(bundle: Path) -> None:
    card = read_card(bundle)
    edge = card.thresholds["fraud"]
    lower = edge.model_copy(update={"allow": edge.allow / 2})
    write_card(bundle, card.model_copy(update={"thresholds": {**card.thresholds, "fraud": lower}}))
    assert "threshold_set_id" in refusal(bundle)


def test_missing_files_are_named(bundle: Path) -> None:
    (bundle / "model.onnx").unlink()
    assert "missing model.onnx" in refusal(bundle)


def test_an_empty_card_is_refused(bundle: Path) -> None:
    (bundle / "card.json").write_text("")
    assert "invalid JSON at line 1 column 1" in refusal(bundle)


@pytest.mark.parametrize("keep", [0, 0.5])
def test_an_empty_or_truncated_graph_is_refused_by_its_hash(bundle: Path, keep: float) -> None:
    data = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(data[: int(len(data) * keep)])
    assert "differs from the card's model_sha256" in refusal(bundle)


def test_a_truncated_graph_with_a_matching_hash_fails_to_load_in_one_line(bundle: Path) -> None:
    data = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(data[: len(data) // 2])
    record_model_hash(bundle)
    assert "onnxruntime cannot load the model" in refusal(bundle)


def test_a_flipped_byte_breaks_the_hash(bundle: Path) -> None:
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "model.onnx").write_bytes(bytes(data))
    assert "differs from the card's model_sha256" in refusal(bundle)


def test_a_foreign_graph_without_a_fingerprint_is_refused(bundle: Path) -> None:
    graph = onnx.load(str(bundle / "model.onnx"))
    del graph.metadata_props[:]
    onnx.save(graph, str(bundle / "model.onnx"))
    record_model_hash(bundle)
    assert "carries no ListingGuard card fingerprint" in refusal(bundle)


def test_more_buckets_than_the_graph_stops_in_one_line(bundle: Path) -> None:
    # A card and fingerprint that agree, on a graph too small for them: onnxruntime fails.
    card = read_card(bundle)
    spec = card.feature_spec.model_copy(update={"title_word_buckets": 2**20})
    wider = card.model_copy(update={"feature_spec": spec})
    sha256 = save_bound_onnx(onnx.load(str(bundle / "model.onnx")), wider, bundle / "model.onnx")
    write_card(bundle, wider.model_copy(update={"model_sha256": sha256}))
    assert "the graph does not run on inputs its card describes" in refusal(bundle)


def make_format_1(bundle: Path) -> None:
    graph = onnx.load(str(bundle / "model.onnx"))
    kept = [entry for entry in graph.metadata_props if entry.key != FINGERPRINT_KEY]
    del graph.metadata_props[:]
    graph.metadata_props.extend(kept)
    onnx.save(graph, str(bundle / "model.onnx"))

    def downgrade(card: dict[str, Any]) -> None:
        card["format_version"] = 1
        del card["model_sha256"]

    edit_card(bundle, downgrade)


def test_a_format_1_bundle_names_the_upgrade_command_and_upgrades(bundle: Path) -> None:
    listing = Listing(listing_id="u-1", title="replica rolex submariner aaa")
    before = BundleScorer(bundle).score([listing])[0]
    make_format_1(bundle)
    assert f"listingguard models upgrade {bundle}" in refusal(bundle)
    card = upgrade_bundle(bundle)
    assert card.format_version == BUNDLE_FORMAT_VERSION
    assert BundleScorer(bundle).score([listing])[0] == before


def test_upgrading_a_format_this_build_serves_is_nothing_to_do(bundle: Path) -> None:
    with pytest.raises(BundleError, match=f"already format {BUNDLE_FORMAT_VERSION}, which this"):
        upgrade_bundle(bundle)
    edit_card(bundle, lambda card: card.update(format_version=2))  # served, no reference check
    with pytest.raises(BundleError, match="already format 2, which this build serves"):
        upgrade_bundle(bundle)


def test_serve_reports_a_bad_bundle_in_one_line(bundle: Path, tmp_path: Path) -> None:
    edit_card(bundle, swap_labels)
    completed = subprocess.run(
        [sys.executable, "-m", "serving.cli", "--bundle", str(bundle)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"LISTINGGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": ""},
    )
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "field labels differs" in lines[0], completed.stderr


def rewrite_fingerprint(bundle: Path, change: Callable[[dict[str, str]], object]) -> None:
    """Change the fingerprint stored in the graph, then record the graph's new hash."""
    graph = onnx.load(str(bundle / "model.onnx"))
    entry = next(item for item in graph.metadata_props if item.key == FINGERPRINT_KEY)
    stored = json.loads(entry.value)
    entry.value = json.dumps(change(stored))
    onnx.save(graph, str(bundle / "model.onnx"))
    record_model_hash(bundle)


def test_a_feature_setting_newer_than_the_export_takes_its_default(bundle: Path) -> None:
    def drop_one_setting(stored: dict[str, str]) -> dict[str, str]:
        del stored["feature_spec.term_group_buckets"]
        return stored

    rewrite_fingerprint(bundle, drop_one_setting)
    assert BundleScorer(bundle).card.feature_spec.term_group_buckets > 0


def test_a_fingerprint_without_a_core_field_or_not_an_object_is_refused(bundle: Path) -> None:
    def drop_labels(stored: dict[str, str]) -> dict[str, str]:
        del stored["labels"]
        return stored

    rewrite_fingerprint(bundle, drop_labels)
    assert "fingerprint lacks ['labels']" in refusal(bundle)
    rewrite_fingerprint(bundle, lambda stored: ["not", "an", "object"])
    assert "not a field -> hash object" in refusal(bundle)


def test_a_bundle_whose_parity_check_never_ran_is_refused(bundle: Path) -> None:
    edit_card(bundle, lambda card: card.update(parity=None))
    assert "parity is missing" in refusal(bundle)
    # The training run itself reads its bundle before the check.
    assert BundleScorer(bundle, require_checked=False).card.parity is None


def test_a_bundle_that_failed_its_parity_check_is_refused(bundle: Path) -> None:
    edit_card(bundle, lambda card: card["parity"].update(max_abs_probability_diff=0.3))
    assert "failed its parity check (3.00e-01 > 1e-05)" in refusal(bundle)


def test_a_model_family_this_build_does_not_serve_is_named(bundle: Path) -> None:
    edit_card(bundle, lambda card: card.update(model_family="gradient-boosting"))
    assert "model family 'gradient-boosting' is not served by this build" in refusal(bundle)


def test_a_family_whose_graph_names_are_another_familys_is_refused(bundle: Path) -> None:
    edit_card(bundle, lambda card: card.update(model_family="transformer"))
    assert "differ from the transformer family's ['input_ids', 'attention_mask']" in refusal(bundle)


def test_a_hashed_card_with_an_encoder_section_is_refused(bundle: Path) -> None:
    encoder = {"base_model": "x", "tokenizer_sha256": "0" * 64, "max_length": 64}
    edit_card(bundle, lambda card: card.update(encoder=encoder))
    assert "a card of the hashed-ngram-linear family must not have an encoder section" in refusal(
        bundle
    )

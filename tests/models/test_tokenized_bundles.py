"""Every way a tokenized bundle (transformer, ensemble) can be wrong is refused in one line."""

import json
import shutil
from pathlib import Path
from typing import Any

from tests.models.bundle_edits import edit_card, refusal

JOINT_HEAD = {
    "embedding_scale": 1.0,
    "tune_average_precision": 0.5,
    "blend_tune_average_precision": 0.4,
}


def copy_of(bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "bundle"))


def test_a_missing_tokenizer_is_named(transformer_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    (bundle / "tokenizer.json").unlink()
    assert "is missing tokenizer.json" in refusal(bundle)


def test_a_tokenizer_from_another_export_is_refused(
    transformer_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    tokenizer = json.loads((bundle / "tokenizer.json").read_text())
    tokenizer["truncation"] = None
    (bundle / "tokenizer.json").write_text(json.dumps(tokenizer))
    assert "tokenizer.json: SHA-256" in refusal(bundle)


def test_a_transformer_card_without_its_encoder_section_is_refused(
    transformer_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    edit_card(bundle, lambda card: card.update(encoder=None))
    assert "a card of the transformer family needs an encoder section" in refusal(bundle)


def test_an_edited_token_limit_breaks_the_binding(transformer_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    edit_card(bundle, lambda card: card["encoder"].update(max_length=128))
    assert "field encoder differs from what model.onnx was exported with" in refusal(bundle)


def test_int8_weights_claimed_as_fp32_break_the_binding(
    transformer_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    edit_card(bundle, lambda card: card["encoder"].update(weights="fp32"))
    assert "field encoder differs" in refusal(bundle)


def test_an_unchecked_transformer_bundle_is_refused(
    transformer_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    edit_card(bundle, lambda card: card.update(parity=None))
    assert "parity is missing" in refusal(bundle)


def test_an_ensemble_without_its_blend_is_refused(ensemble_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_of(ensemble_bundle, tmp_path)
    edit_card(bundle, lambda card: card.update(ensemble=None))
    assert "a card of the ensemble family needs ensemble and category_blend" in refusal(bundle)


def test_edited_blend_weights_break_the_binding(ensemble_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_of(ensemble_bundle, tmp_path)

    def double_first(card: dict[str, Any]) -> None:
        first = next(iter(card["ensemble"]))
        card["ensemble"][first]["hashed"] *= 2

    edit_card(bundle, double_first)
    assert "field ensemble differs from what model.onnx was exported with" in refusal(bundle)


def test_an_ensemble_graph_under_a_transformer_card_is_refused(
    ensemble_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy_of(ensemble_bundle, tmp_path)
    edit_card(bundle, lambda card: card.update(model_family="transformer"))
    assert "differ from the transformer family's" in refusal(bundle)


def test_a_label_with_two_ensemble_heads_is_refused(ensemble_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_of(ensemble_bundle, tmp_path)

    def twice(card: dict[str, Any]) -> None:
        label = card["labels"][0]
        card["ensemble"].setdefault(label, {"hashed": 1.0, "transformer": 1.0, "bias": 0.0})
        card["joint_heads"] = {label: JOINT_HEAD}

    edit_card(bundle, twice)
    assert "each of the labels" in refusal(bundle) and "needs exactly one" in refusal(bundle)


def test_joint_heads_on_a_transformer_card_are_refused(
    transformer_bundle: Path, tmp_path: Path
) -> None:
    bundle = copy_of(transformer_bundle, tmp_path)
    edit_card(bundle, lambda card: card.update(joint_heads={card["labels"][0]: JOINT_HEAD}))
    assert "must not have joint_heads" in refusal(bundle)

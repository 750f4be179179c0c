"""The training config: key-by-key overrides, families that switch off, docs that list it all."""

from pathlib import Path

import pytest

from data.schema import Listing
from models.scorer import BundleScorer
from models.text_features import FeatureHasher
from tests.conftest import REPO_ROOT
from training.config import TrainConfig, load_config
from training.errors import TrainingError
from training.pipeline import train_bundle


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_partial_config_overrides_key_by_key(tmp_path: Path) -> None:
    default = load_config()
    config = load_config(write(tmp_path, "targets:\n  max_wrong_enforcements: 0.02\n"))
    assert config.targets.max_wrong_enforcements == 0.02
    assert config.targets.max_violations_let_through == default.targets.max_violations_let_through
    assert config.features.term_groups == default.features.term_groups, "defaults survive"


def test_null_drops_an_inherited_entry_or_switches_a_family_off(tmp_path: Path) -> None:
    text = "features:\n  term_groups: {counterfeit_terms: null}\n  char_ngrams: null\n"
    config = load_config(write(tmp_path, text))
    assert config.features.term_groups == {}
    assert config.features.char_ngrams is None
    assert config.features.word_ngrams == (1, 2)


def test_unknown_keys_and_bad_values_name_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "features:\n  char_grams: [2, 3]\n")
    with pytest.raises(TrainingError, match=rf"{path}: features.char_grams"):
        load_config(path)
    both_off = write(tmp_path, "features: {word_ngrams: null, char_ngrams: null}\n")
    with pytest.raises(TrainingError, match="both off"):
        load_config(both_off)
    with pytest.raises(TrainingError, match="a mapping of settings"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_a_model_without_character_ngrams_or_description_trains_and_serves(
    tmp_path: Path, demo_rows: list, demo_validation_rows: list
) -> None:
    config = load_config(write(tmp_path, "features: {char_ngrams: null, use_description: false}\n"))
    trained = train_bundle(
        demo_rows,
        config=config,
        data_fingerprint="families",
        bundle_dir=tmp_path / "bundle",
        validation_rows=demo_validation_rows[:100],
    )
    assert trained.card.parity is not None and trained.card.parity.max_abs_probability_diff <= 1e-5
    scorer = BundleScorer(trained.bundle_dir)
    listing = Listing(listing_id="f-1", title="replica watch", description="ignored text zzz")
    plain = Listing(listing_id="f-1", title="replica watch")
    assert scorer.score([listing])[0].probabilities == scorer.score([plain])[0].probabilities
    features = FeatureHasher(scorer.card.feature_spec).transform_one(listing)
    chars = next(block for block in config.features.blocks() if block.name == "title_chars")
    assert chars.n_buckets == 1 and not any(
        chars.offset <= feature < chars.offset + 1 for feature in features.ids.tolist()
    )


def _keys(model: type, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = isinstance(annotation, type) and hasattr(annotation, "model_fields")
        keys += _keys(annotation, f"{prefix}{name}.") if nested else [f"{prefix}{name}"]
    return keys


def test_the_configuration_doc_lists_every_setting() -> None:
    doc = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for key in _keys(TrainConfig):
        documented = key if key not in ("label_targets", "features.term_groups") else key + "."
        assert f"`{documented}" in doc, key

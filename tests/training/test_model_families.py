"""The model families: one guarded lifecycle, tokenized bundles, int8, resume, the CLI."""

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from data.demo import write_demo_dataset
from data.schema import LabeledListing, Listing
from data.taxonomy import default_taxonomy
from models.bundle import ModelCard, read_card
from models.runner_tokens import run_inputs
from models.scorer import BundleScorer
from models.text_features import FeatureHasher, pad_batch
from models.token_text import TokenEncoder
from tests.cli_runs import invoke, listingguard_home
from tests.transformer_fixtures import tiny_config
from training.config import load_config
from training.errors import ParityError
from training.families import family_for
from training.families.hashed import HashedLinearFamily
from training.families.lifecycle import LifecycleError
from training.pipeline import train_bundle

REPLICA = Listing(listing_id="t-1", title="replica rolex watch aaa quality", price=25.0)
PHONE = Listing(listing_id="t-2", title="used iphone 12 64gb unlocked", price=310.0)
PILLS = Listing(listing_id="t-3", title="oxycodone 30mg pills no prescription", price=90.0)


def copied_checkpoints(bundle: Path, tmp_path: Path) -> Path:
    """A copy of the shared transformer bundle's finished fine-tuning checkpoints: a run may write
    into the folder it is given, and other test workers read the shared one."""
    copy = tmp_path / "checkpoints"
    shutil.copytree(bundle.parent / "checkpoints", copy)
    return copy


def test_each_lifecycle_step_refuses_to_run_before_the_one_it_needs(
    demo_rows: list[LabeledListing], tmp_path: Path
) -> None:
    family = HashedLinearFamily(load_config(), default_taxonomy(), lambda line: None)
    splits = family.split(demo_rows[:800])
    with pytest.raises(LifecycleError, match=r"calibrate\(\) called before fit\(\)"):
        family.calibrate(splits.calibration)
    family.fit(splits)
    card_stub = None
    with pytest.raises(LifecycleError, match=r"export\(\) called before calibrate\(\)"):
        family.export(tmp_path, card_stub)  # type: ignore[arg-type]
    with pytest.raises(LifecycleError, match=r"check\(\) called before calibrate\(\)"):
        family.check(None, splits.calibration, split="calibration")  # type: ignore[arg-type]
    family.calibrate(splits.calibration)
    with pytest.raises(LifecycleError, match=r"check\(\) called before export\(\)"):
        family.check(None, splits.calibration, split="calibration")  # type: ignore[arg-type]
    family.fit(splits)  # fitting again forgets the later steps
    with pytest.raises(LifecycleError, match=r"export\(\) called before calibrate\(\)"):
        family.export(tmp_path, card_stub)  # type: ignore[arg-type]


def test_the_tokenized_families_share_the_guards(demo_rows: list[LabeledListing]) -> None:
    pytest.importorskip("torch", reason="the transformer extra is not installed")
    for name in ("transformer", "ensemble"):
        family = family_for(name)(load_config(), default_taxonomy(), lambda line: None)
        with pytest.raises(LifecycleError, match=r"calibrate\(\) called before fit\(\)"):
            family.calibrate(demo_rows[:10])


def test_a_transformer_bundle_records_its_encoder_and_checks(transformer_bundle: Path) -> None:
    card = read_card(transformer_bundle)
    assert card.model_family == "transformer"
    assert card.input_names == ["input_ids", "attention_mask"]
    assert card.encoder is not None and card.encoder.weights == "int8"
    assert (transformer_bundle / "tokenizer.json").is_file()
    assert card.parity is not None and card.parity.split == "validation"
    assert card.parity.max_abs_probability_diff <= card.parity.tolerance == 1e-4
    quantized = card.quantization
    assert quantized is not None and quantized.weights == "int8"
    assert quantized.max_abs_probability_diff <= quantized.budget_probability_diff
    assert set(quantized.pr_auc_loss) == set(card.labels)
    assert max(quantized.pr_auc_loss.values()) <= quantized.budget_pr_auc_loss
    assert card.training["rows"]["tune"] > 0
    assert card.training["fine_tuning"]["steps"] == 60
    assert [item["step"] for item in card.training["fine_tuning"]["history"]] == [30, 60]
    for label in card.labels:
        certificate = card.thresholds[label].let_through
        assert certificate is not None and certificate.units > 0  # certified on sellers, or not
        assert 0.0 <= card.metrics["validation"][label]["average_precision"] <= 1.0


def test_an_int8_listing_scores_the_same_alone_or_in_a_batch(transformer_bundle: Path) -> None:
    scorer = BundleScorer(transformer_bundle)
    batch = scorer.score([REPLICA, PHONE, PILLS])
    for listing, together in zip((REPLICA, PHONE, PILLS), batch, strict=True):
        assert scorer.score([listing])[0].probabilities == together.probabilities
    # The control: the same int8 graph run on the padded batch gives other scores.
    card = scorer.card
    assert card.encoder is not None
    encoder = TokenEncoder(
        transformer_bundle / "tokenizer.json",
        max_length=card.encoder.max_length,
        feature_spec=card.feature_spec,
    )
    session = ort.InferenceSession(str(transformer_bundle / "model.onnx"))
    inputs = encoder.encode([REPLICA, PHONE, PILLS])
    names = list(card.output_names)
    batched = run_inputs(session, names, inputs, alone=False)[0]
    alone = run_inputs(session, names, inputs, alone=True)[0]
    assert np.abs(batched - alone).max() > 1e-6


def test_transformer_reasons_are_occluded_title_words(transformer_bundle: Path) -> None:
    scorer = BundleScorer(transformer_bundle)
    (score,) = scorer.score([REPLICA])
    words = set(REPLICA.title.split())
    reasons = [reason for label in score.reasons for reason in score.reasons[label]]
    assert reasons, score.reasons
    for reason in reasons:
        assert reason.phrase in words and reason.weight > 0


def test_joint_heads_read_the_ngrams_and_the_pooled_embedding(
    joint_ensemble_bundle: Path,
) -> None:
    card = read_card(joint_ensemble_bundle)
    assert card.ensemble == {}
    assert card.joint_heads is not None and set(card.joint_heads) == set(card.labels)
    for head in card.joint_heads.values():
        assert head.embedding_scale in load_config().ensemble.embedding_scales
        assert 0.0 < head.tune_average_precision <= 1.0
    graph = onnx.load(joint_ensemble_bundle / "model.onnx")
    (product,) = [node for node in graph.graph.node if node.output[0] == "blend/e"]
    assert list(product.input) == ["encoder/pooled", "blend/embedding"]
    scorer = BundleScorer(joint_ensemble_bundle)
    listings = [REPLICA, PHONE, PILLS]
    logits, _ = scorer.predict_logits(listings)
    # The embedding part moves the logits: without it (weights zeroed) they change.
    for initializer in graph.graph.initializer:
        if initializer.name == "blend/embedding":
            zeros = np.zeros(onnx.numpy_helper.to_array(initializer).shape, np.float32)
            initializer.CopyFrom(onnx.numpy_helper.from_array(zeros, initializer.name))
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = _ensemble_inputs(card, joint_ensemble_bundle, listings)
    ngrams_only = run_inputs(session, ["risk_logits"], inputs, alone=True)[0]
    assert np.abs(ngrams_only - logits).max() > 1e-3
    (score,) = scorer.score([REPLICA])
    assert any("replica" in reason.phrase for reason in score.reasons["counterfeit"])


def test_the_ensemble_is_one_graph_over_both_members(
    ensemble_bundle: Path, transformer_bundle: Path
) -> None:
    card = read_card(ensemble_bundle)
    assert card.model_family == "ensemble"
    nodes = [
        node.name or node.output[0] for node in onnx.load(ensemble_bundle / "model.onnx").graph.node
    ]
    for prefix in ("ngrams/", "encoder/", "blend/"):
        assert any(name.startswith(prefix) for name in nodes), prefix
    assert card.input_names[:3] == ["feature_ids", "feature_counts", "feature_blocks"]
    assert card.ensemble is not None
    assert set(card.ensemble) | set(card.joint_heads or {}) == set(card.labels)
    assert card.category_blend is not None and 0.0 <= card.category_blend <= 1.0
    scorer = BundleScorer(ensemble_bundle)
    (score,) = scorer.score([REPLICA])
    # Reasons are the n-gram member's phrases (scaled by its blend weight).
    assert any("replica" in reason.phrase for reason in score.reasons["counterfeit"])
    assert score.probabilities["counterfeit"] > score.probabilities["regulated"]
    logits, _ = scorer.predict_logits([REPLICA, PHONE])
    single, _ = scorer.predict_logits([PHONE])
    assert np.array_equal(logits[1], single[0])


@pytest.mark.slow  # trains a transformer bundle
def test_int8_outside_its_budget_ships_fp32_under_auto(
    transformer_bundle: Path,
    tiny_encoder: Path,
    demo_rows: list[LabeledListing],
    tmp_path: Path,
) -> None:
    trained = train_bundle(
        demo_rows,
        config=tiny_config(
            "transformer", tiny_encoder, quantize="auto", int8_max_probability_diff=1e-9
        ),
        data_fingerprint="demo-transformer",
        bundle_dir=tmp_path / "bundle",
        checkpoint_dir=copied_checkpoints(transformer_bundle, tmp_path),
    )
    card = trained.card
    assert card.quantization is not None and card.quantization.weights == "fp32"
    assert card.quantization.max_abs_probability_diff > 1e-9
    assert card.encoder is not None and card.encoder.weights == "fp32"
    fp32_size = (tmp_path / "bundle" / "model.onnx").stat().st_size
    assert fp32_size > 2 * (transformer_bundle / "model.onnx").stat().st_size


@pytest.mark.slow  # trains a transformer bundle
def test_int8_outside_its_budget_fails_and_leaves_no_loadable_bundle(
    transformer_bundle: Path,
    tiny_encoder: Path,
    demo_rows: list[LabeledListing],
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    with pytest.raises(ParityError, match=r"int8 graph is outside its budget on .* tune rows"):
        train_bundle(
            demo_rows,
            config=tiny_config("transformer", tiny_encoder, int8_max_probability_diff=1e-9),
            data_fingerprint="demo-transformer",
            bundle_dir=tmp_path / "bundle",
            checkpoint_dir=copied_checkpoints(transformer_bundle, tmp_path),
            progress=lines.append,
        )
    assert any("reused the finished checkpoint" in line for line in lines)
    assert not (tmp_path / "bundle" / "card.json").exists()


class _InterruptedError(Exception):
    pass


@pytest.mark.slow  # trains a transformer bundle
def test_an_interrupted_fine_tuning_resumes_to_the_same_model(
    transformer_bundle: Path,
    tiny_encoder: Path,
    demo_rows: list[LabeledListing],
    demo_validation_rows: list[LabeledListing],
    tmp_path: Path,
) -> None:
    config = tiny_config("transformer", tiny_encoder)

    def stop_midway(line: str) -> None:
        if "step 30/" in line:
            raise _InterruptedError

    run = {
        "config": config,
        "data_fingerprint": "demo-transformer",
        "bundle_dir": tmp_path / "bundle",
        "validation_rows": demo_validation_rows[:200],
        "checkpoint_dir": tmp_path / "checkpoints",
    }
    with pytest.raises(_InterruptedError):
        train_bundle(demo_rows, progress=stop_midway, **run)  # type: ignore[arg-type]
    lines: list[str] = []
    train_bundle(demo_rows, progress=lines.append, **run)  # type: ignore[arg-type]
    assert any("resuming at step 20" in line for line in lines), lines
    resumed = BundleScorer(tmp_path / "bundle").predict_logits([REPLICA, PHONE, PILLS])[0]
    straight = BundleScorer(transformer_bundle).predict_logits([REPLICA, PHONE, PILLS])[0]
    np.testing.assert_allclose(resumed, straight, atol=1e-5)


@pytest.mark.slow  # trains a transformer bundle
def test_train_cli_registers_a_transformer_and_evaluate_compares_it(
    tiny_encoder: Path, demo_bundle: Path, tmp_path: Path
) -> None:
    data = write_demo_dataset(tmp_path / "train", n=1000, seed=7)
    validation = write_demo_dataset(tmp_path / "validation", n=300, seed=8)
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "transformer: {max_steps: 60, batch_size: 16, max_length: 48, learning_rate: 1.0e-3,\n"
        "  evaluate_every_steps: 30}\n",
        encoding="utf-8",
    )
    with listingguard_home(tmp_path / "home"):
        trained = invoke(
            "train", "--data", data, "--mapping", "demo", "--validation", validation,
            "--config", config, "--model", "transformer", "--encoder", tiny_encoder,
        )  # fmt: skip
        assert trained.exit_code == 0, trained.output
        assert "(transformer)" in trained.output and "int8 vs fp32" in trained.output
        assert "registered listingguard-demo version 1" in trained.output
        bundle = Path(trained.output.strip().splitlines()[-1].removeprefix("bundle: "))
        compared = invoke(
            "evaluate", "--compare", demo_bundle, bundle, "--data", validation,
            "--mapping", "demo", "--out", tmp_path / "report",
        )  # fmt: skip
        assert compared.exit_code == 0, compared.output
    assert read_card(bundle).model_family == "transformer"
    assert list((tmp_path / "report").glob("*.html"))


def test_train_cli_names_a_missing_encoder_folder(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the transformer extra is not installed")
    data = write_demo_dataset(tmp_path / "train", n=300, seed=7)
    with listingguard_home(tmp_path / "home"):
        result = invoke(
            "train", "--data", data, "--mapping", "demo", "--model", "transformer",
            "--encoder", tmp_path / "nowhere", "--no-register",
        )  # fmt: skip
    assert result.exit_code == 1
    assert "nowhere: not a Hugging Face model folder (no config.json)" in result.output
    assert "Traceback" not in result.output


def _ensemble_inputs(
    card: ModelCard, bundle: Path, listings: list[Listing]
) -> dict[str, np.ndarray]:
    """The merged graph's inputs, as serving builds them: hashed n-grams and token ids."""
    assert card.encoder is not None
    encoder = TokenEncoder(
        bundle / "tokenizer.json",
        max_length=card.encoder.max_length,
        feature_spec=card.feature_spec,
    )
    hashed = pad_batch(FeatureHasher(card.feature_spec).transform(listings))
    return {**hashed, **encoder.encode(listings)}


@pytest.mark.slow  # trains a transformer bundle
def test_design_weights_reach_the_fine_tuning(
    tiny_encoder: Path,
    demo_rows: list[LabeledListing],
    demo_validation_rows: list[LabeledListing],
    transformer_bundle: Path,
    tmp_path: Path,
) -> None:
    """Rows weighted 8 (the fraud positives, as audits of a rare stratum would be) change the
    fine-tuned model, and the checkpoint key, against the same run unweighted."""
    from training.config import WeightSettings

    weighted = [
        row.model_copy(update={"slices": {**row.slices, "weight": "8"}})
        if row.labels.value("fraud") == 1
        else row
        for row in demo_rows
    ]
    config = tiny_config("transformer", tiny_encoder).model_copy(
        update={"weights": WeightSettings(column="weight", max_fit_weight=8.0)}
    )
    train_bundle(
        weighted,
        config=config,
        data_fingerprint="demo-weighted",
        bundle_dir=tmp_path / "bundle",
        validation_rows=demo_validation_rows[:200],
        checkpoint_dir=tmp_path / "checkpoints",
    )
    card, plain = read_card(tmp_path / "bundle"), read_card(transformer_bundle)
    key = card.training["fine_tuning"]["checkpoint_key"]
    assert key != plain.training["fine_tuning"]["checkpoint_key"]
    listings = [REPLICA, PHONE, PILLS]
    ours = BundleScorer(tmp_path / "bundle").predict_logits(listings)[0]
    theirs = BundleScorer(transformer_bundle).predict_logits(listings)[0]
    assert np.abs(ours - theirs).max() > 1e-3

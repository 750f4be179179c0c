"""The ensemble's heads on synthetic features: the blend's algebra, and the tune split's choice."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from data.schema import LabeledListing, Labels, Listing
from training.baseline import HashedLinearModel
from training.config import EnsembleParams, load_config
from training.errors import TrainingError
from training.families.ensemble_heads import EncoderHead, LinearHeads, SplitFeatures, fit_heads

WORDS = ["lamp", "chair", "desk", "mug", "shelf", "rug", "vase", "clock", "towel", "pillow"]
HIDDEN = 8


def _rows(rng: np.random.Generator, n: int, prefix: str) -> list[LabeledListing]:
    """Titles of random household words: the n-grams say nothing about the label."""
    return [
        LabeledListing(
            listing=Listing(
                listing_id=f"{prefix}-{i}",
                title=" ".join(rng.choice(WORDS, size=4)),
                seller_id=f"{prefix}-s{i}",
            ),
            labels=Labels(values={"fraud": int(rng.random() < 0.3)}),
        )
        for i in range(n)
    ]


def _pooled(rows: list[LabeledListing], rng: np.random.Generator) -> np.ndarray:
    """Embeddings whose first axis carries the label (the signal only the encoder has)."""
    y = np.array([row.labels.value("fraud") for row in rows], dtype=np.float64)
    pooled = rng.normal(size=(len(rows), HIDDEN))
    pooled[:, 0] += 4.0 * y
    return pooled.astype(np.float32)


@pytest.fixture(scope="module")
def parts() -> tuple[HashedLinearModel, SplitFeatures, SplitFeatures]:
    rng = np.random.default_rng(0)
    fit_rows, tune_rows = _rows(rng, 400, "fit"), _rows(rng, 200, "tune")
    model = HashedLinearModel(load_config().features).fit(fit_rows)
    fit = SplitFeatures(model.matrix(fit_rows), _pooled(fit_rows, rng), fit_rows)
    tune = SplitFeatures(model.matrix(tune_rows), _pooled(tune_rows, rng), tune_rows)
    return model, fit, tune


def _fit(
    parts: tuple[HashedLinearModel, SplitFeatures, SplitFeatures],
    encoder: EncoderHead,
    head: str = "auto",
) -> LinearHeads:
    model, fit, tune = parts
    tune_encoder_logits = tune.pooled.astype(np.float64) @ encoder.weight.T + encoder.bias
    return fit_heads(
        model,
        encoder,
        fit,
        tune,
        tune_encoder_logits,
        EnsembleParams(head=head),
        class_weight="balanced",
        seed=0,
        progress=lambda line: None,
    )


def _blind_encoder() -> EncoderHead:
    """A risk head that reads an axis without signal: the blend cannot use the embedding."""
    weight = np.zeros((1, HIDDEN))
    weight[0, 3] = 1.0
    return EncoderHead(weight=weight, bias=np.zeros(1))


def test_a_blend_is_the_members_logits_reweighted(
    parts: tuple[HashedLinearModel, SplitFeatures, SplitFeatures],
) -> None:
    model, _, tune = parts
    encoder = _blind_encoder()
    heads = _fit(parts, encoder, head="blend")
    blend = heads.blends["fraud"]
    expected = (
        blend.hashed * model.decision_function(tune.tfidf)[:, 0]
        + blend.transformer * (tune.pooled.astype(np.float64) @ encoder.weight[0])
        + blend.bias
    )
    got = heads.logits(tune.tfidf, tune.pooled)[:, 0]
    assert np.allclose(got, expected, atol=1e-9)
    assert not heads.joints


def test_auto_takes_the_joint_head_where_only_the_embedding_knows(
    parts: tuple[HashedLinearModel, SplitFeatures, SplitFeatures],
) -> None:
    _, _, tune = parts
    heads = _fit(parts, _blind_encoder())
    scores = heads.tune_average_precision["fraud"]
    assert set(scores) == {"blend", "joint x1", "joint x3", "joint x10"}
    assert max(scores["joint x1"], scores["joint x3"], scores["joint x10"]) > scores["blend"] + 0.2
    joint = heads.joints["fraud"]
    assert joint.embedding_scale in (1.0, 3.0, 10.0)
    assert joint.blend_tune_average_precision == scores["blend"]
    assert "fraud" not in heads.blends
    # The shipped coefficients are the chosen candidate's: their tune AP is the one recorded.
    known, y = tune.target("fraud")
    logits = heads.logits(tune.tfidf, tune.pooled)[known, 0]
    assert average_precision_score(y, logits) == pytest.approx(joint.tune_average_precision)


def test_auto_keeps_the_blend_when_the_encoders_head_already_reads_the_signal(
    parts: tuple[HashedLinearModel, SplitFeatures, SplitFeatures],
) -> None:
    weight = np.zeros((1, HIDDEN))
    weight[0, 0] = 1.0
    heads = _fit(parts, EncoderHead(weight=weight, bias=np.zeros(1)))
    scores = heads.tune_average_precision["fraud"]
    assert scores["blend"] >= max(scores["joint x1"], scores["joint x3"], scores["joint x10"])
    assert "fraud" in heads.blends and not heads.joints


def test_a_tune_split_with_one_class_is_named(
    parts: tuple[HashedLinearModel, SplitFeatures, SplitFeatures],
) -> None:
    model, fit, tune = parts
    clean = [row.model_copy(update={"labels": Labels(values={"fraud": 0})}) for row in tune.rows]
    one_class = SplitFeatures(tune.tfidf, tune.pooled, clean)
    with pytest.raises(TrainingError, match="tune split holds a single class of fraud"):
        fit_heads(
            model,
            _blind_encoder(),
            fit,
            one_class,
            np.zeros((len(clean), 1)),
            EnsembleParams(),
            class_weight="balanced",
            seed=0,
            progress=lambda line: None,
        )

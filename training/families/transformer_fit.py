"""Fine-tuning loop of the transformer family: seeded, dynamic padding, class weights, early
stopping on the tune split, checkpoints that a rerun resumes from, progress with an ETA."""

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from data.schema import LabeledListing
from models.token_text import TokenEncoder
from training.config import TransformerParams
from training.families.transformer_model import RiskEncoder, pick_device
from training.label_arrays import label_arrays
from training.progress import StepProgress

CHECKPOINT_FILE = "fine_tuning.pt"
NOT_IN_THE_KEY = {
    "checkpoint_every_steps",
    "device",
    "quantize",
    "int8_max_probability_diff",
    "int8_max_pr_auc_loss",
    "parity_tolerance",
}
"""Settings that do not change the fine-tuned weights: a checkpoint serves any value of them."""
EVAL_BATCH = 128
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EncodedRows:
    """Token ids (unpadded, one array per row) and targets of labeled rows."""

    ids: list[np.ndarray]
    y: np.ndarray
    """(n, L) float32, 0 where unknown."""
    known: np.ndarray
    """(n, L) bool."""
    category: np.ndarray
    """(n,) int64: index into the categories, -1 where the row has none."""


def encode_rows(
    encoder: TokenEncoder,
    rows: list[LabeledListing],
    labels: list[str],
    categories: list[str],
) -> EncodedRows:
    encodings = encoder.tokenizer.encode_batch([encoder.text(row.listing) for row in rows])
    y, known = label_arrays(rows, labels)
    index = {name: position for position, name in enumerate(categories)}
    category = np.array(
        [index.get(str(row.labels.category), -1) for row in rows], dtype=np.int64
    ).reshape(len(rows))
    return EncodedRows(
        ids=[np.asarray(item.ids, dtype=np.int64) for item in encodings],
        y=y.astype(np.float32),
        known=known,
        category=category,
    )


def padded(ids: list[np.ndarray], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max((len(item) for item in ids), default=1) or 1
    tokens = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, item in enumerate(ids):
        tokens[row, : len(item)] = item
        mask[row, : len(item)] = 1
    return torch.from_numpy(tokens), torch.from_numpy(mask)


def model_logits(
    model: RiskEncoder, encoded: EncodedRows, pad_id: int, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Risk logits (n, L) and category logits (n, C) in eval mode."""
    model.eval()
    risks, categories = [], []
    with torch.no_grad():
        for start in range(0, len(encoded.ids), EVAL_BATCH):
            tokens, mask = padded(encoded.ids[start : start + EVAL_BATCH], pad_id)
            risk, category = model(tokens.to(device), mask.to(device))
            risks.append(risk.float().cpu().numpy())
            categories.append(category.float().cpu().numpy())
    if not risks:
        return np.zeros((0, model.risk.out_features)), np.zeros((0, 0))
    return np.vstack(risks), np.vstack(categories)


def mean_average_precision(logits: np.ndarray, encoded: EncodedRows) -> float:
    """Mean over labels (known, both classes present) of the average precision."""
    values = []
    for column in range(logits.shape[1]):
        mask = encoded.known[:, column]
        truth = encoded.y[mask, column]
        if truth.min(initial=1) < truth.max(initial=0):
            values.append(float(average_precision_score(truth, logits[mask, column])))
    return float(np.mean(values)) if values else 0.0


def _rows_digest(rows: list[LabeledListing]) -> str:
    """Listings and labels of the rows, in order."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.listing.model_dump_json().encode())
        digest.update(row.labels.model_dump_json().encode())
    return digest.hexdigest()


def _folder_digest(folder: Path) -> str:
    """The encoder folder's config and the names and sizes of its files."""
    files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())
    config = (folder / "config.json").read_text(encoding="utf-8")
    return hashlib.sha256(json.dumps([config, files]).encode()).hexdigest()


class FineTuner:
    """Fine-tunes a :class:`RiskEncoder`; :meth:`train` returns it with its best tune weights."""

    def __init__(
        self,
        params: TransformerParams,
        *,
        seed: int,
        folder: Path,
        labels: list[str],
        categories: list[str],
        pad_id: int,
        progress: Progress,
    ) -> None:
        self.params, self.seed, self.folder = params, seed, folder
        self.labels, self.categories, self.pad_id = labels, categories, pad_id
        self.progress = progress
        self.device = pick_device(params.device)

    def run_key(
        self,
        fit: list[LabeledListing],
        tune: list[LabeledListing],
        features: Any,
        fit_weights: np.ndarray | None = None,
    ) -> str:
        """What a checkpoint must match to be resumed: the rows (text, labels) and their design
        weights, the settings that change the weights, the text normalization, the encoder and
        the seed."""
        settings = self.params.model_dump(mode="json", exclude=NOT_IN_THE_KEY)
        content = {
            "settings": settings,
            "features": features.model_dump(mode="json"),
            "seed": self.seed,
            "encoder": _folder_digest(self.folder),
            "labels": self.labels,
            "categories": self.categories,
            "fit": _rows_digest(fit),
            "tune": _rows_digest(tune),
        }
        if fit_weights is not None:  # absent from the keys of unweighted runs, as before
            content["fit_weights"] = hashlib.sha256(fit_weights.tobytes()).hexdigest()
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]

    def train(
        self,
        fit: EncodedRows,
        tune: EncodedRows,
        *,
        key: str,
        checkpoint_dir: Path | None,
        fit_weights: np.ndarray | None = None,
    ) -> RiskEncoder:
        """Fine-tune on ``fit`` (each row's loss times ``fit_weights`` where given), stopping
        early on ``tune``."""
        torch.manual_seed(self.seed)
        self._row_weights = (
            np.ones(len(fit.ids), dtype=np.float32)
            if fit_weights is None
            else np.asarray(fit_weights, dtype=np.float32)
        )
        model = RiskEncoder(self.folder, len(self.labels), len(self.categories)).to(self.device)
        params = self.params
        steps_per_epoch = max(1, math.ceil(len(fit.ids) / params.batch_size))
        total = steps_per_epoch * params.epochs
        if params.max_steps is not None:
            total = min(total, params.max_steps)
        optimizer = self._optimizer(model)
        warmup = max(1, int(total * params.warmup_share))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: min(
                (step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))
            ),
        )
        saved = self._resume(checkpoint_dir, key, model, optimizer, scheduler)
        if saved.get("finished"):
            model.load_state_dict(saved["best"])
            self.progress(f"fine-tuning: reused the finished checkpoint in {checkpoint_dir}")
            self.seconds, self.steps = float(saved.get("seconds", 0.0)), int(saved["step"])
            self.history = list(saved.get("history", []))
            return model.eval()
        state = TrainingState.from_checkpoint(saved)
        positive_weight = self._positive_weights(fit)
        category_weight = self._category_weights(fit)
        every = params.evaluate_every_steps or steps_per_epoch
        clock, already = time.perf_counter(), state.seconds
        bar = StepProgress(self.progress, "fine-tuning", total, unit=" steps")
        bar.advance(state.step)

        def save(finished: bool) -> None:
            if checkpoint_dir is not None:
                state.seconds = already + time.perf_counter() - clock
                self._save(checkpoint_dir, key, model, optimizer, scheduler, state, finished)

        stopped = False
        while state.step < total and not stopped:
            epoch, offset = divmod(state.step, steps_per_epoch)
            order = torch.randperm(
                len(fit.ids), generator=torch.Generator().manual_seed(self.seed * 1000 + epoch)
            )
            indices = order[offset * params.batch_size : (offset + 1) * params.batch_size]
            model.train()
            loss = self._loss(model, fit, indices.numpy(), positive_weight, category_weight)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            state.step += 1
            bar.advance()
            if state.step % every == 0 or state.step == total:
                stopped = self._evaluate(model, tune, state, total, steps_per_epoch)
            if state.step % params.checkpoint_every_steps == 0 or state.step % every == 0:
                save(finished=False)
        bar.finish(f" (best tune mean average precision {state.best_score:.4f})")
        if state.best is not None:
            model.load_state_dict(state.best)
        save(finished=True)
        self.history = state.history
        self.seconds, self.steps = already + time.perf_counter() - clock, state.step
        return model.eval()

    def _evaluate(
        self,
        model: RiskEncoder,
        tune: EncodedRows,
        state: "TrainingState",
        total: int,
        steps_per_epoch: int,
    ) -> bool:
        """Score the tune split, keep the best weights; whether to stop early."""
        score = mean_average_precision(model_logits(model, tune, self.pad_id, self.device)[0], tune)
        improved = score > state.best_score
        if improved:
            state.best_score, state.since_best = score, 0
            state.best = {
                name: value.detach().cpu().clone() for name, value in model.state_dict().items()
            }
        else:
            state.since_best += 1
        state.history.append({"step": state.step, "tune_mean_ap": score})
        self.progress(
            f"  step {state.step}/{total} (epoch {state.step / steps_per_epoch:.2f}): tune mean "
            f"average precision {score:.4f}{' (best)' if improved else ''}"
        )
        if state.since_best >= self.params.patience:
            self.progress(f"  early stop: {state.since_best} evaluations without improvement")
            return True
        return False

    def _optimizer(self, model: RiskEncoder) -> torch.optim.Optimizer:
        head = {id(parameter) for parameter in model.head_parameters()}
        encoder = [p for p in model.parameters() if id(p) not in head]
        return torch.optim.AdamW(
            [
                {"params": encoder, "lr": self.params.learning_rate},
                {"params": model.head_parameters(), "lr": self.params.head_learning_rate},
            ],
            weight_decay=self.params.weight_decay,
        )

    def _positive_weights(self, fit: EncodedRows) -> torch.Tensor:
        positives = (fit.y * fit.known).sum(axis=0)
        negatives = ((1 - fit.y) * fit.known).sum(axis=0)
        ratio = np.clip(
            negatives / np.maximum(positives, 1.0), 1.0, self.params.max_positive_weight
        )
        return torch.tensor(ratio, dtype=torch.float32, device=self.device)

    def _category_weights(self, fit: EncodedRows) -> torch.Tensor | None:
        if not self.categories:
            return None
        present = fit.category[fit.category >= 0]
        counts = np.bincount(present, minlength=len(self.categories)).astype(np.float64)
        weights = len(present) / (len(self.categories) * np.maximum(counts, 1.0))
        return torch.tensor(np.clip(weights, 0.05, 50.0), dtype=torch.float32, device=self.device)

    def _loss(
        self,
        model: RiskEncoder,
        fit: EncodedRows,
        indices: np.ndarray,
        positive_weight: torch.Tensor,
        category_weight: torch.Tensor | None,
    ) -> torch.Tensor:
        tokens, mask = padded([fit.ids[i] for i in indices], self.pad_id)
        risk, category = model(tokens.to(self.device), mask.to(self.device))
        y = torch.from_numpy(fit.y[indices]).to(self.device)
        rows = torch.from_numpy(self._row_weights[indices]).to(self.device)
        known = torch.from_numpy(fit.known[indices].astype(np.float32)).to(self.device)
        weighted = known * rows[:, None]
        per_cell = nn.functional.binary_cross_entropy_with_logits(
            risk, y, pos_weight=positive_weight, reduction="none"
        )
        loss = (per_cell * weighted).sum() / weighted.sum().clamp(min=1e-9)
        targets = torch.from_numpy(fit.category[indices]).to(self.device)
        picked = targets >= 0
        if category_weight is not None and bool(picked.any()):
            per_row = nn.functional.cross_entropy(
                category[picked], targets[picked], weight=category_weight, reduction="none"
            )
            chosen = rows[picked]
            loss = loss + (per_row * chosen).sum() / chosen.sum().clamp(min=1e-9)
        return loss

    def _resume(
        self,
        checkpoint_dir: Path | None,
        key: str,
        model: RiskEncoder,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
    ) -> dict[str, Any]:
        if checkpoint_dir is None or not (checkpoint_dir / CHECKPOINT_FILE).is_file():
            return {}
        try:
            state: dict[str, Any] = torch.load(
                checkpoint_dir / CHECKPOINT_FILE, map_location="cpu", weights_only=False
            )
        except Exception as error:  # a truncated or foreign file: torch raises many types
            self.progress(
                f"fine-tuning: the checkpoint in {checkpoint_dir} is unreadable "
                f"({type(error).__name__}); starting afresh"
            )
            return {}
        if state.get("key") != key:
            self.progress(
                f"fine-tuning: the checkpoint in {checkpoint_dir} is for other data or settings; "
                "starting afresh"
            )
            return {}
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if not state.get("finished"):
            self.progress(f"fine-tuning: resuming at step {state['step']} from {checkpoint_dir}")
        return state

    def _save(
        self,
        checkpoint_dir: Path,
        key: str,
        model: RiskEncoder,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        state: "TrainingState",
        finished: bool,
    ) -> None:
        """Write the whole state atomically (a crash mid-write leaves the previous one)."""
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        staged = checkpoint_dir / f"{CHECKPOINT_FILE}.partial"
        torch.save(
            {
                "key": key,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "finished": finished,
                **state.as_checkpoint(),
            },
            staged,
        )
        os.replace(staged, checkpoint_dir / CHECKPOINT_FILE)


@dataclass
class TrainingState:
    """Where fine-tuning stands: what a checkpoint keeps besides the weights and optimizer."""

    step: int = 0
    best_score: float = -1.0
    best: dict[str, torch.Tensor] | None = None
    since_best: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> "TrainingState":
        if not saved:
            return cls()
        return cls(
            step=int(saved["step"]),
            best_score=float(saved["best_score"]),
            best=saved["best"],
            since_best=int(saved["since_best"]),
            history=list(saved["history"]),
            seconds=float(saved["seconds"]),
        )

    def as_checkpoint(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best_score": self.best_score,
            "best": self.best,
            "since_best": self.since_best,
            "history": self.history,
            "seconds": self.seconds,
        }

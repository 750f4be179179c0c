"""Upgrade a format-1 bundle in place to the current format (card bound to its graph).

Format 1 cards carried no model hash and their graphs no card fingerprint. The upgrade first
checks the pair as it stands (the graph runs and its outputs match the card's labels and
categories), then writes the fingerprint into the graph and the hash into the card. It cannot
tell whether a format-1 card was edited by hand before: that is what format 2 prevents from now on.
"""

import json
import os
import tempfile
from pathlib import Path

import onnx
from pydantic import ValidationError

from models.bundle import (
    BUNDLE_FORMAT_VERSION,
    CARD_FILE,
    MODEL_FILE,
    SUPPORTED_FORMAT_VERSIONS,
    UPGRADABLE_FORMAT_VERSIONS,
    ModelCard,
    write_card,
)
from models.errors import BundleError
from models.scorer import BundleScorer
from training.onnx_export import save_bound_onnx


def upgrade_bundle(bundle_dir: Path) -> ModelCard:
    """Rewrite ``bundle_dir`` as a current-format bundle; returns the new card."""
    card_path = bundle_dir / CARD_FILE
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BundleError(f"bundle {bundle_dir} is missing {CARD_FILE}") from error
    except json.JSONDecodeError as error:
        raise BundleError(
            f"{card_path}: invalid JSON at line {error.lineno} column {error.colno}"
        ) from error
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{card_path}: already format {version}, which this build serves; nothing to upgrade"
        )
    if version not in UPGRADABLE_FORMAT_VERSIONS:
        raise BundleError(f"{card_path}: format {version!r} cannot be upgraded")
    try:
        graph = onnx.load(str(bundle_dir / MODEL_FILE))
    except Exception as error:  # onnx raises protobuf decode errors of several kinds
        raise BundleError(f"{bundle_dir / MODEL_FILE}: not a readable ONNX graph") from error
    try:
        draft = ModelCard.model_validate(
            {**raw, "format_version": BUNDLE_FORMAT_VERSION, "model_sha256": "0" * 64}
        )
    except ValidationError as error:
        raise BundleError(f"{card_path}: invalid card: {error.errors()[0]['msg']}") from error
    with tempfile.TemporaryDirectory(dir=bundle_dir, prefix=".upgrade-") as staging:
        staged = Path(staging)
        sha256 = save_bound_onnx(graph, draft, staged / MODEL_FILE)
        card = draft.model_copy(update={"model_sha256": sha256})
        write_card(staged, card)
        BundleScorer(staged)  # every serving check, on the upgraded pair, before replacing
        os.replace(staged / MODEL_FILE, bundle_dir / MODEL_FILE)
        os.replace(staged / CARD_FILE, card_path)
    return card

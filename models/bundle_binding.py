"""What binds ``card.json`` to ``model.onnx``.

Threat model: accidents, not an attacker — a card edited by hand, files from two exports mixed in
one folder, a truncated copy. Anyone who can write both files can make them agree.

* The export writes a fingerprint of the card's shape- and meaning-defining fields (labels and
  their order, categories and their order, every feature setting including term groups,
  calibration maps, input and output names, family and format) into the ONNX graph's
  ``metadata_props``; serving recomputes it from the card and names the first field that differs.
* The card records the SHA-256 of the ``model.onnx`` it was written with.

Thresholds are run-time settings and not bound to the graph; :func:`models.bundle.read_card`
checks that they are coherent and carry their own id.
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Final

from models.bundle import ModelCard
from models.errors import BundleError

FINGERPRINT_KEY: Final = "listingguard.card_fingerprint"
"""The ONNX metadata key holding ``{field: sha256}`` of the card's meaning-defining fields."""

BOUND_FIELDS: Final = (
    "format_version",
    "model_family",
    "labels",
    "regulated_categories",
    "input_names",
    "output_names",
    "calibration",
)
"""Card fields bound to the graph, besides ``feature_spec`` (bound setting by setting)."""
OPTIONAL_BOUND_FIELDS: Final = ("encoder", "ensemble", "joint_heads", "category_blend")
"""Fields of some families only (tokenizer hash and length, blend weights), bound when set."""


def card_fingerprint(card: ModelCard) -> dict[str, str]:
    """``{field: sha256 of its canonical JSON}`` over the bound fields, feature settings apart."""
    dumped = card.model_dump(mode="json")
    parts: dict[str, Any] = {name: dumped[name] for name in BOUND_FIELDS}
    for name in OPTIONAL_BOUND_FIELDS:  # bound when set; absent from older hashed bundles
        if dumped.get(name) is not None:
            parts[name] = dumped[name]
    for name, value in dumped["feature_spec"].items():
        parts[f"feature_spec.{name}"] = value
    return {name: _digest(value) for name, value in sorted(parts.items())}


def check_fingerprint(card: ModelCard, metadata: dict[str, str], model_path: Path) -> None:
    """Refuse a graph whose stored fingerprint differs from the card's, naming the field."""
    stored_text = metadata.get(FINGERPRINT_KEY)
    if stored_text is None:
        raise BundleError(
            f"{model_path}: the graph carries no ListingGuard card fingerprint "
            "(not exported by `listingguard train` for this card)"
        )
    try:
        stored = json.loads(stored_text)
    except json.JSONDecodeError as error:
        raise BundleError(f"{model_path}: unreadable card fingerprint: {error}") from error
    if not isinstance(stored, dict):
        raise BundleError(f"{model_path}: the card fingerprint is not a field -> hash object")
    expected = card_fingerprint(card)
    # A feature setting added to the code after the export is absent from the stored
    # fingerprint and takes its default, which must keep the old behaviour; every other
    # bound field must be there.
    missing = sorted(set(expected) - set(stored))
    if any(not name.startswith("feature_spec.") for name in missing):
        raise BundleError(f"{model_path}: the card fingerprint lacks {missing}")
    for name in sorted(stored):
        if expected.get(name) != stored[name]:
            raise BundleError(
                f"{model_path.parent / 'card.json'}: field {name} differs from what "
                f"{model_path.name} was exported with (card edited, or files from two exports)"
            )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_model_file(card: ModelCard, model_path: Path) -> None:
    """Refuse a ``model.onnx`` other than the one the card was written with."""
    actual = file_sha256(model_path)
    if actual != card.model_sha256:
        raise BundleError(
            f"{model_path}: SHA-256 {actual[:12]}... differs from the card's "
            f"model_sha256 {card.model_sha256[:12]}... (a changed, truncated or foreign file)"
        )


def _digest(value: Any) -> str:
    payload = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()

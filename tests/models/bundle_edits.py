"""Editing a bundle's card by hand, and reading the one-line refusal that follows."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.errors import BundleError
from models.scorer import BundleScorer

Edit = Callable[[dict[str, Any]], None]


def edit_card(bundle: Path, edit: Edit) -> None:
    path = bundle / "card.json"
    card = json.loads(path.read_text())
    edit(card)
    path.write_text(json.dumps(card))


def refusal(bundle: Path) -> str:
    with pytest.raises(BundleError) as caught:
        BundleScorer(bundle)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 500, "one line, not a traceback"
    return message

"""``listingguard models promote`` through the gate, on a real MLflow registry.

Three versions of one model on demo data: v1 (the champion), v2 trained on labels of which
a third were flipped (deliberately worse), v3 a retrain of v1's data and settings (as good).
The gate refuses v2, a forced promotion records its reason, v3 passes.
"""

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from data.demo import write_demo_dataset
from tests.cli_runs import invoke, listingguard_home
from training import tracking
from training.promotion import OUTCOME_TAG, PINNED_TAG

MODEL = "listingguard-demo"


@dataclass(frozen=True)
class Gated:
    home: Path
    validation: Path
    refused: Result
    forced_without_reason: Result
    forced: Result
    other_set: Result
    passed: Result


def _flip_labels(path: Path, share: float, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for label in ("fraud", "counterfeit"):
            if record["labels"].get(label) is not None and rng.random() < share:
                record["labels"][label] = 1 - record["labels"][label]
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gated]:
    with listingguard_home(tmp_path_factory.mktemp("promotion-home")) as home:
        train = write_demo_dataset(home / "train", n=1200, seed=1)
        noisy = write_demo_dataset(home / "noisy", n=1200, seed=1)
        _flip_labels(noisy, 0.3, seed=7)
        validation = write_demo_dataset(home / "validation", n=400, seed=2)
        other = write_demo_dataset(home / "other", n=300, seed=3)
        for data in (train, noisy, train):
            result = invoke("train", "--data", data, "--mapping", "demo")
            assert result.exit_code == 0, result.output
        gate = ("--eval-data", validation, "--mapping", "demo", "--resamples", "200")
        refused = invoke("models", "promote", MODEL, "2", *gate)
        forced_without_reason = invoke("models", "promote", MODEL, "2", *gate, "--force")
        forced = invoke(
            "models", "promote", MODEL, "2", *gate, "--force", "--reason", "incident 42 hotfix"
        )
        invoke("models", "promote", MODEL, "1", *gate, "--force", "--reason", "roll back")
        other_set = invoke(
            "models", "promote", MODEL, "3", "--eval-data", other, "--mapping", "demo"
        )
        passed = invoke("models", "promote", MODEL, "3", *gate)
        yield Gated(home, validation, refused, forced_without_reason, forced, other_set, passed)


def _outcome(version: str) -> dict[str, object]:
    tags = tracking.version_tags(tracking.resolve(f"{MODEL}/{version}"))
    return dict(json.loads(tags[OUTCOME_TAG]))


def test_a_worse_challenger_is_refused_with_its_figures(gated: Gated) -> None:
    result = gated.refused
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "gate: REFUSED" in result.output
    failed = [line for line in result.output.splitlines() if line.endswith("FAILED")]
    assert any(line.startswith("label") and "average_precision" in line for line in failed)
    assert "refused: v2 is worse than champion v1" in result.output


def test_forcing_needs_a_reason_and_records_it(gated: Gated) -> None:
    assert gated.forced_without_reason.exit_code == 1
    assert "--force needs --reason" in gated.forced_without_reason.output
    assert gated.forced.exit_code == 0, gated.forced.output
    assert "gate overridden" in gated.forced.output
    with listingguard_home(gated.home):
        outcome = _outcome("2")
    assert outcome["decision"] == "forced" and outcome["reason"] == "incident 42 hotfix"
    assert outcome["champion_version"] == "1"
    assert outcome["failed"], outcome


def test_the_pinned_set_is_the_one_compared_on(gated: Gated) -> None:
    assert gated.other_set.exit_code == 1
    assert "is not the pinned evaluation set" in gated.other_set.output
    with listingguard_home(gated.home):
        pinned = json.loads(tracking.model_tag(MODEL, PINNED_TAG) or "{}")
    assert pinned["file"] == str(gated.validation) and pinned["rows"] > 0


def test_an_equally_good_challenger_passes_and_becomes_champion(gated: Gated) -> None:
    result = gated.passed
    assert result.exit_code == 0, result.output
    assert "gate: passed" in result.output and f"{MODEL} v3 is now champion" in result.output
    with listingguard_home(gated.home):
        assert _outcome("3")["decision"] == "promoted"
        champion = tracking.alias_version(MODEL, "champion")
    assert champion is not None and champion.version == "3"

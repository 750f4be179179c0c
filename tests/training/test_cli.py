"""``listingguard``: data checks, training, and the registry (list, promote, pull) via the CLI.

Training runs twice per module on small demo data, in a module-scoped fixture; every command that
changes the registry runs there too, in order, so each test only reads what was recorded.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from data.demo import write_demo_dataset
from tests.cli_runs import invoke, listingguard_home

MODEL = "listingguard-demo"  # one registered model per dataset: listingguard-<mapping>
RUN_ID = re.compile(r"^MLflow run ([0-9a-f]{32}) ", re.MULTILINE)


@dataclass(frozen=True)
class Registry:
    """A LISTINGGUARD_HOME after two training runs, and what each registry command printed."""

    home: Path
    train_file: Path
    validation_file: Path
    first_train: Result
    second_train: Result
    listed_before_promote: Result
    promoted: Result
    listed_after_promote: Result

    def run_id(self, result: Result) -> str:
        found = RUN_ID.search(result.output)
        assert found, result.output
        return found.group(1)


@pytest.fixture(scope="module")
def isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """LISTINGGUARD_HOME in a temporary folder, the default tracking store, env restored after."""
    with listingguard_home(tmp_path_factory.mktemp("listingguard-home")) as home:
        yield home


@pytest.fixture(scope="module")
def registry(isolated_home: Path) -> Registry:
    train_file = write_demo_dataset(isolated_home / "demo-train", n=1200, seed=1)
    validation_file = write_demo_dataset(isolated_home / "demo-validation", n=300, seed=2)
    train_args = ("train", "--data", train_file, "--mapping", "demo")
    first = invoke(*train_args, "--validation", validation_file)
    second = invoke(*train_args, "--validation", validation_file)
    listed_before = invoke("models", "list")
    # v2 retrains v1's data and settings: the gate compares them on the validation file.
    gate = ("--eval-data", validation_file, "--mapping", "demo", "--resamples", "200")
    promoted = invoke("models", "promote", MODEL, "2", "--alias", "champion", *gate)
    listed_after = invoke("models", "list", "--name", MODEL)
    return Registry(
        isolated_home,
        train_file,
        validation_file,
        first,
        second,
        listed_before,
        promoted,
        listed_after,
    )


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error_lines) == 1, result.output
    for fragment in fragments:
        assert fragment in error_lines[0], result.output


def version_line(listing: Result, version: int) -> str:
    lines = [line for line in listing.output.splitlines() if re.search(rf" v{version}\s", line)]
    assert len(lines) == 1, listing.output
    return lines[0]


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_data_validate_prints_counts(tmp_path: Path) -> None:
    data = write_demo_dataset(tmp_path, n=250, seed=3)
    result = invoke("data", "validate", data, "--mapping", "demo")
    assert result.exit_code == 0, result.output
    assert "rows: 250 read, 250 kept, 0 dropped" in result.output
    assert "fingerprint: " in result.output


def test_data_validate_on_broken_jsonl_names_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "broken.jsonl"
    data.write_text('{"listing_id": "a", "title": "Mug"}\n{"listing_id": "b", \n', "utf-8")
    result = invoke("data", "validate", data, "--mapping", "demo")
    assert_one_line_error(result, f"{data}:2:", "invalid JSON")
    assert len(result.output.strip().splitlines()) == 1


def test_train_prints_the_summary_and_registers_champion_and_challenger(
    registry: Registry,
) -> None:
    result = registry.first_train
    assert result.exit_code == 0, result.output
    assert re.search(r"^label\s+val AP\s+R@P\.95", result.output, re.MULTILINE), result.output
    for label in ("fraud", "counterfeit", "regulated"):
        assert re.search(rf"^{label}\s+\d\.\d{{3}}\s", result.output, re.MULTILINE), label
    assert "ONNX parity: max |diff|" in result.output
    assert f"registered {MODEL} version 1 (challenger, champion)" in result.output
    bundle = registry.home / "runs" / registry.run_id(result) / "bundle"
    assert f"bundle: {bundle}" in result.output
    assert sorted(files_of(bundle)) == ["card.json", "model.onnx"]


def test_second_train_registers_a_challenger_only(registry: Registry) -> None:
    result = registry.second_train
    assert result.exit_code == 0, result.output
    assert f"registered {MODEL} version 2 (challenger)" in result.output
    assert registry.run_id(result) != registry.run_id(registry.first_train)


def test_models_list_shows_both_versions_with_their_aliases(registry: Registry) -> None:
    listing = registry.listed_before_promote
    assert listing.exit_code == 0, listing.output
    first, second = version_line(listing, 1), version_line(listing, 2)
    assert MODEL in first and MODEL in second
    assert "champion" in first and "challenger" not in first
    assert "challenger" in second and "champion" not in second
    assert registry.run_id(registry.second_train) in second


def test_promote_moves_champion_to_the_new_version(registry: Registry) -> None:
    assert registry.promoted.exit_code == 0, registry.promoted.output
    assert f"{MODEL} v2 is now champion" in registry.promoted.output
    listing = registry.listed_after_promote
    assert listing.exit_code == 0, listing.output
    assert "champion" not in version_line(listing, 1)
    assert "challenger, champion" in version_line(listing, 2)


def test_pull_champion_gives_the_bytes_that_were_logged(registry: Registry, tmp_path: Path) -> None:
    destination = tmp_path / "pulled"
    result = invoke("models", "pull", f"{MODEL}@champion", destination)
    assert result.exit_code == 0, result.output
    assert f"{MODEL} v2 -> {destination}" in result.output
    run_id = registry.run_id(registry.second_train)
    pulled = files_of(destination)
    assert sorted(pulled) == ["card.json", "model.onnx"]
    assert pulled == files_of(registry.home / "runs" / run_id / "bundle")
    artifact = registry.home / "mlflow" / "artifacts" / run_id / "artifacts" / "bundle"
    assert pulled == files_of(artifact)


def test_pull_by_version_number(registry: Registry, tmp_path: Path) -> None:
    result = invoke("models", "pull", f"{MODEL}/1", tmp_path / "v1")
    assert result.exit_code == 0, result.output
    run_id = registry.run_id(registry.first_train)
    assert files_of(tmp_path / "v1") == files_of(registry.home / "runs" / run_id / "bundle")


def test_pull_into_a_non_empty_folder_fails_and_leaves_it_alone(
    registry: Registry, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("keep me", "utf-8")
    result = invoke("models", "pull", f"{MODEL}@champion", tmp_path)
    assert_one_line_error(result, str(tmp_path), "is not empty")
    assert files_of(tmp_path) == {"notes.txt": b"keep me"}


def test_pull_force_replaces_a_bundle_folder_but_nothing_else(
    registry: Registry, tmp_path: Path
) -> None:
    destination = tmp_path / "current"
    assert invoke("models", "pull", f"{MODEL}/1", destination).exit_code == 0
    refused = invoke("models", "pull", f"{MODEL}@champion", destination)
    assert_one_line_error(refused, "is not empty", "--force")
    replaced = invoke("models", "pull", f"{MODEL}@champion", destination, "--force")
    assert replaced.exit_code == 0, replaced.output
    run_id = registry.run_id(registry.second_train)
    assert files_of(destination) == files_of(registry.home / "runs" / run_id / "bundle")
    (tmp_path / "notes.txt").write_text("keep me", "utf-8")
    kept = invoke("models", "pull", f"{MODEL}@champion", tmp_path, "--force")
    assert_one_line_error(kept, "holds files other than a bundle's")
    assert (tmp_path / "notes.txt").read_text("utf-8") == "keep me"


def test_a_model_name_of_its_own_leaves_the_dataset_model_alone(
    registry: Registry, tmp_path: Path
) -> None:
    data = write_demo_dataset(tmp_path / "data", n=600, seed=5)
    trained = invoke("train", "--data", data, "--mapping", "demo", "--model-name", "team-model")
    assert "registered team-model version 1 (challenger, champion)" in trained.output
    listed = invoke("models", "list", "--name", MODEL).output
    assert listed.count(MODEL) == registry.listed_after_promote.output.count(MODEL)


def test_pull_of_a_missing_alias_names_it(registry: Registry, tmp_path: Path) -> None:
    destination = tmp_path / "nothing"
    result = invoke("models", "pull", f"{MODEL}@no-such-alias", destination)
    assert_one_line_error(result, f"{MODEL}@no-such-alias")
    assert not destination.exists()


def test_train_with_an_invalid_config_names_the_file_and_field(
    isolated_home: Path, tmp_path: Path
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("seed: 3\nmodel:\n  c: -1\n", "utf-8")
    data = write_demo_dataset(tmp_path / "data", n=200, seed=4)
    result = invoke("train", "--data", data, "--mapping", "demo", "--config", config)
    assert_one_line_error(result, f"{config}: model.c:", "greater than 0")
    assert len(result.output.strip().splitlines()) == 1, "the config is checked before any work"


def test_train_with_an_unknown_config_field_names_it(isolated_home: Path, tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("calibraton_fraction: 0.3\n", "utf-8")
    data = write_demo_dataset(tmp_path / "data", n=200, seed=4)
    result = invoke("train", "--data", data, "--mapping", "demo", "--config", config)
    assert_one_line_error(result, f"{config}: calibraton_fraction:", "Extra inputs")

"""``listingguard evaluate``: reports, comparison, registry references, MLflow, one-line errors."""

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from data.demo import write_demo_dataset
from training import tracking
from training.cli_evaluate import default_mapping, evaluate

FEW = ["--resamples", "10", "--seed", "3"]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_dataset(tmp_path_factory.mktemp("demo"), n=240, seed=7)


@pytest.fixture(autouse=True)
def no_tracking_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("LISTINGGUARD_HOME", str(tmp_path / "var"))


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(evaluate, list(args))


def test_evaluate_writes_report_and_prints_summary(
    demo_bundle: Path, demo_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = invoke("--model", str(demo_bundle), "--data", str(demo_file), "--out", str(out), *FEW)
    assert result.exit_code == 0, result.output
    assert "loaded 240 rows" in result.output and "(mapping demo)" in result.output
    assert "] routing simulation at the card's thresholds" in result.output
    assert "average precision" in result.output
    assert "routing: allowed" in result.output and "flagged slices:" in result.output
    assert "  fraud p>=0.5 (p >= 0.500): TP " in result.output
    assert (
        "  fraud enforced (p >= " in result.output
        or "fraud enforced: no such edge" in result.output
    )
    report = json.loads((out / "report.json").read_text())
    rules = report["labels"]["fraud"]["decision_rules"]
    counts = rules["p>=0.5"]
    assert (
        counts["tp"] + counts["fp"] + counts["tn"] + counts["fn"] == report["labels"]["fraud"]["n"]
    )
    assert 'id="decision-rules"' in (out / "report.html").read_text()
    assert report["settings"]["n_resamples"] == 10
    assert report["data"]["mapping"] == "demo"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_compare_prints_paired_differences(
    demo_bundle: Path, demo_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "compare"
    result = invoke(
        "--compare", str(demo_bundle), str(demo_bundle), "--data", str(demo_file),
        "--out", str(out), *FEW,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "fraud        average_precision" in result.output
    assert "0.000 [0.000, 0.000]" in result.output
    assert json.loads((out / "report.json").read_text())["kind"] == "comparison"


def test_registry_reference_is_pulled_into_a_bundle(
    demo_bundle: Path, demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = tracking.RegisteredVersion(
        "listingguard-baseline", "3", "run-1", "models:/x", ("champion",), 0
    )
    # Saved now, so the variable that MLflow sets in-process is removed after the test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unset-after-the-test")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")

    def resolve(reference: str) -> tracking.RegisteredVersion:
        tracking.tracked_mlflow()  # as the real resolve does: MLflow sets MLFLOW_TRACKING_URI
        return version

    monkeypatch.setattr(tracking, "resolve", resolve)

    def download(found: tracking.RegisteredVersion, destination: Path) -> Path:
        assert found is version
        shutil.copytree(demo_bundle, destination)
        return destination

    monkeypatch.setattr(tracking, "download_version", download)
    reference = "models:/listingguard-baseline@champion"
    result = invoke("--model", reference, "--data", str(demo_file), *FEW)
    assert result.exit_code == 0, result.output
    assert "pulling listingguard-baseline v3" in result.output
    assert "logged to MLflow" not in result.output, "MLFLOW_TRACKING_URI was not set by the user"
    (report,) = (tmp_path / "var" / "evaluations").glob("*/report.html")  # the default --out
    assert f"report: {report}" in result.output


def test_reports_are_logged_to_mlflow_when_a_tracking_uri_is_set(
    demo_bundle: Path, demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = invoke(
        "--model", str(demo_bundle), "--data", str(demo_file), "--out", str(tmp_path / "r"), *FEW
    )
    assert result.exit_code == 0, result.output
    run_id = result.output.split("logged to MLflow run ")[1].split()[0]
    client = tracking.tracked_mlflow().MlflowClient()
    files = {item.path for item in client.list_artifacts(run_id, "evaluation")}
    assert files == {"evaluation/report.html", "evaluation/report.json"}
    run = client.get_run(run_id)
    assert run.data.tags["listingguard.kind"] == "evaluation"
    assert "fraud.average_precision" in run.data.metrics


def test_model_or_compare_is_required(demo_file: Path) -> None:
    result = invoke("--data", str(demo_file))
    assert result.exit_code == 2
    assert "give either --model MODEL or --compare A B" in result.output


def test_missing_bundle_is_one_line_error(demo_file: Path, tmp_path: Path) -> None:
    result = invoke("--model", str(tmp_path / "nope"), "--data", str(demo_file))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'nope'}: not a bundle directory "
        "(for the registry write models:/NAME@ALIAS)"
    ]


def test_bad_data_file_names_file_and_line(demo_bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"listing_id": "a"\n')
    result = invoke("--model", str(demo_bundle), "--data", str(data), "--mapping", "demo")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {data}:1:19: invalid JSON: Expecting ',' delimiter"


def test_data_without_the_models_labels_is_refused(demo_bundle: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "titles.yaml"
    mapping.write_text("name: titles\nlisting: {title: t}\n")
    data = tmp_path / "titles.csv"
    data.write_text("t\nMug\nLamp\n")
    result = invoke("--model", str(demo_bundle), "--data", str(data), "--mapping", str(mapping))
    assert result.exit_code == 1
    assert "Error: the data carries none of the model's labels" in result.output
    assert "Traceback" not in result.output


def test_mapping_is_needed_when_no_builtin_matches(demo_bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "shop.csv"
    data.write_text("t\nMug\n")
    result = invoke("--model", str(demo_bundle), "--data", str(data))
    assert result.exit_code == 2
    assert "--mapping is needed" in result.output


@pytest.mark.parametrize(
    ("path", "mapping"),
    [
        ("shared/data/marketplace-risk-v1/validation.jsonl", "marketplace-risk-v1"),
        ("shared/data/sms-spam-collection/SMSSpamCollection", "sms-spam-collection"),
        ("out/demo-listings.jsonl", "demo"),
    ],
)
def test_default_mapping_follows_the_data_path(path: str, mapping: str) -> None:
    assert default_mapping(path) == mapping


def test_a_failing_tracking_server_is_one_line_after_the_report_is_written(
    demo_bundle: Path, demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "unknown-scheme://nowhere")
    out = tmp_path / "r"
    result = invoke("--model", str(demo_bundle), "--data", str(demo_file), "--out", str(out), *FEW)
    assert result.exit_code == 1
    last_line = result.output.strip().splitlines()[-1]
    expected = f"Error: the report is written to {out}, but logging it to MLflow at unknown-scheme"
    assert last_line.startswith(expected)
    assert (out / "report.html").is_file()


def test_evaluate_routes_under_a_given_policy(
    demo_bundle: Path, demo_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r"
    common = ["--model", str(demo_bundle), "--data", str(demo_file), "--out", str(out), *FEW]
    result = invoke(*common, "--policy", "marketplace-example")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "report.json").read_text())["settings"]["policy"] == (
        "marketplace-example-2026-12"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: x\ncategory_label: regulated\nlabels: {scam: block}\n")
    refused = invoke(*common, "--policy", str(bad))
    assert refused.exit_code == 1 and "labels.scam: unknown label(s)" in refused.output
    assert "Traceback" not in refused.output

"""The label audit finds planted label errors out of fold and relabels nothing."""

import csv
import json
from pathlib import Path

from data.demo import write_demo_dataset
from tests.cli_runs import invoke, listingguard_home

PLANTED = 12


def _plant_errors(path: Path) -> set[str]:
    """Flip the counterfeit label of the first clean replica-free mugs: known wrong labels."""
    planted: set[str] = set()
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        labels = record["labels"]
        if len(planted) < PLANTED and labels.get("counterfeit") == 1:
            labels["counterfeit"] = 0
            planted.add(record["listing_id"])
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return planted


def test_planted_label_errors_rank_first_and_nothing_is_relabelled(tmp_path: Path) -> None:
    with listingguard_home(tmp_path / "home"):
        data = write_demo_dataset(tmp_path / "data", n=1500, seed=5)
        planted = _plant_errors(data)
        before = data.read_bytes()
        out = tmp_path / "audit"
        result = invoke(
            "label-audit", "--data", data, "--mapping", "demo", "--folds", "4", "--out-dir", out
        )
    assert result.exit_code == 0, result.output
    assert "cases to re-check" in result.output and "fold 4/4" in result.output
    assert data.read_bytes() == before, "the audit never edits the data"
    with (out / "label_issues.csv").open(encoding="utf-8") as handle:
        issues = list(csv.DictReader(handle))
    counterfeit = [row for row in issues if row["label"] == "counterfeit"]
    found = {row["listing_id"] for row in counterfeit}
    assert len(found & planted) >= PLANTED * 3 // 4, (len(found & planted), len(counterfeit))
    # Ranked by self-confidence: the planted ones are near the top.
    top = {row["listing_id"] for row in counterfeit[: 2 * PLANTED]}
    assert len(top & planted) >= PLANTED // 2
    confidences = [float(row["self_confidence"]) for row in counterfeit]
    assert confidences == sorted(confidences), "least self-confident first"
    planted_rows = [row for row in counterfeit if row["listing_id"] in planted]
    assert all(row["given"] == "0" and float(row["score"]) > 0.5 for row in planted_rows)
    summary = json.loads((out / "label_issues.json").read_text(encoding="utf-8"))
    assert {item["label"] for item in summary["labels"]} >= {"fraud", "counterfeit"}
    assert "Likely label errors" in (out / "label_issues.html").read_text(encoding="utf-8")

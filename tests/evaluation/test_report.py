"""Reports: the JSON holds every figure, the HTML is self-contained and renders in Chromium."""

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from data.schema import LabeledListing
from evaluation.figures import MAX_CURVE_POINTS, pr_curve_figure
from evaluation.report import HTML_FILE, JSON_FILE, format_interval, format_share, render_html
from evaluation.routing_simulation import LET_THROUGH_GRID, WRONG_ENFORCEMENT_GRID
from evaluation.run import EvaluationOptions, compare_bundles, evaluate_bundle
from evaluation.slices import WHOLE

FEW = EvaluationOptions(n_resamples=20, seed=1)


@pytest.fixture(scope="module")
def evaluation_dir(
    tmp_path_factory: pytest.TempPathFactory,
    demo_bundle: Path,
    demo_validation_rows: list[LabeledListing],
) -> Path:
    out = tmp_path_factory.mktemp("evaluation")
    evaluate_bundle(
        demo_bundle, demo_validation_rows, options=FEW, data_info={"file": "demo"}, out_dir=out
    )
    return out


@pytest.fixture(scope="module")
def comparison_dir(
    tmp_path_factory: pytest.TempPathFactory,
    demo_bundle: Path,
    demo_validation_rows: list[LabeledListing],
) -> Path:
    out = tmp_path_factory.mktemp("comparison")
    compare_bundles(demo_bundle, demo_bundle, demo_validation_rows, options=FEW, out_dir=out)
    return out


def read_report(folder: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((folder / JSON_FILE).read_text(encoding="utf-8"))
    return report


def test_json_holds_every_figure(evaluation_dir: Path) -> None:
    report = read_report(evaluation_dir)
    labels = ["fraud", "counterfeit", "regulated"]
    assert report["kind"] == "evaluation"
    assert list(report["labels"]) == labels
    assert report["data"] == {"file": "demo", "rows": 500}
    assert report["settings"]["n_resamples"] == 20
    figures = report["figures"]
    for kind in ("pr_curves", "reliability", "histograms"):
        assert list(figures[kind]) == labels
    tradeoff = figures["routing_tradeoff"]
    assert len(tradeoff["points"]) == len(LET_THROUGH_GRID) * len(WRONG_ENFORCEMENT_GRID)
    assert set(tradeoff["card"]) == {"automation", "violations_let_through", "wrong_enforcements"}
    assert np.asarray(figures["category_confusion"]["counts"]).sum() > 0
    assert report["slices"]["rows"][0]["value"] == WHOLE
    shares = report["routing"]["action_shares"]
    assert sum(share["estimate"] for share in shares.values()) == pytest.approx(1.0)
    assert "what-if" in report["notes"]["tradeoff"]


def test_html_is_one_self_contained_file(evaluation_dir: Path) -> None:
    html = (evaluation_dir / HTML_FILE).read_text(encoding="utf-8")
    sources = re.findall(r'<img[^>]* src="([^"]*)"', html)
    assert len(sources) == 3 * 3 + 2  # per label: PR, reliability, histogram; trade-off; confusion
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_html_without_category_head_and_with_skipped_labels(evaluation_dir: Path) -> None:
    report = read_report(evaluation_dir)
    report["figures"]["category_confusion"] = None
    report["skipped_labels"] = ["counterfeit"]
    report["model"]["thresholds"]["fraud"]["enforce"] = None
    html = render_html(report)
    assert 'id="plot-category-confusion"' not in html
    assert "No confusion matrix" in html
    assert "counterfeit (unknown in this data, not counted as 0)" in html
    assert "auto-enforce off" in html


def test_interval_and_share_formats() -> None:
    interval = {"estimate": 0.8123, "low": 0.75, "high": 0.86}
    assert format_interval(interval) == "0.812 [0.750, 0.860]"
    assert format_interval({"estimate": None, "low": None, "high": None}) == "n/a"
    assert format_interval(None) == "n/a"
    assert format_share(interval) == "81.2% [75.0, 86.0]"
    assert format_share(0.05) == "5.0%"


def test_pr_curve_keeps_the_points_where_recall_rises() -> None:
    rng = np.random.default_rng(0)
    y_true = (rng.random(5000) < 0.3).astype(np.int64)
    scores = rng.random(5000)
    figure = pr_curve_figure(y_true, scores)
    assert len(figure["recall"]) == MAX_CURVE_POINTS
    assert figure["recall"][-1] == 1.0
    small = pr_curve_figure(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    assert small["recall"] == [0.5, 1.0, 1.0]
    assert small["precision"] == pytest.approx([1.0, 2 / 3, 0.5])


def open_report(chromium: Any, folder: Path) -> tuple[Any, list[str]]:
    """The report page, loaded, and every URL it requested besides itself."""
    page = chromium.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto((folder / HTML_FILE).resolve().as_uri())
    page.wait_for_load_state("load")
    return page, [url for url in requested if not url.startswith(("file:", "data:"))]


def rendered_images(page: Any) -> dict[str, int]:
    widths: dict[str, int] = page.evaluate(
        "Object.fromEntries(Array.from(document.images).map(i => [i.id, i.naturalWidth]))"
    )
    return widths


@pytest.mark.browser
def test_evaluation_report_renders_in_chromium(chromium: Any, evaluation_dir: Path) -> None:
    page, external = open_report(chromium, evaluation_dir)
    assert external == []
    images = rendered_images(page)
    for label in ("fraud", "counterfeit", "regulated"):
        for kind in ("pr", "reliability", "histogram"):
            assert images[f"plot-{kind}-{label}"] > 0
    assert images["plot-routing-tradeoff"] > 0
    assert images["plot-category-confusion"] > 0
    assert page.locator("#label-metrics tbody tr").count() == 3
    assert page.locator("#routing-table tbody tr").count() == 1
    assert page.locator("#routing-labels tbody tr").count() == 3
    slice_rows = len(read_report(evaluation_dir)["slices"]["rows"])
    assert page.locator("#slice-table tbody tr").count() == slice_rows
    assert page.locator("#slice-table tbody tr").first.locator("td").first.inner_text() == WHOLE
    page.close()


@pytest.mark.browser
def test_comparison_report_renders_in_chromium(chromium: Any, comparison_dir: Path) -> None:
    page, external = open_report(chromium, comparison_dir)
    assert external == []
    images = rendered_images(page)
    assert set(images) == {"plot-pr-fraud", "plot-pr-counterfeit", "plot-pr-regulated"}
    assert all(width > 0 for width in images.values())
    assert page.locator("#comparison-table tbody tr").count() == 6  # 3 labels x 2 metrics
    assert page.locator("#label-metrics-A tbody tr").count() == 3
    page.close()

"""Write an evaluation or comparison report: ``report.json`` and one self-contained ``report.html``.

The JSON file is the report dict of :mod:`evaluation.run` as it is (every figure's data). The
HTML page is rendered from the same dict with the Jinja2 template ``templates/report.html``;
its images are PNG ``data:`` URIs drawn by :mod:`evaluation.plots` and its styles are inline, so
the file opens anywhere without network access.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from evaluation import plots

HTML_FILE = "report.html"
JSON_FILE = "report.json"


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path


def write_report(report: Mapping[str, Any], out_dir: Path) -> ReportFiles:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / JSON_FILE
    json_path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    html_path = out_dir / HTML_FILE
    html_path.write_text(render_html(report), encoding="utf-8")
    return ReportFiles(html=html_path, json=json_path)


def render_html(report: Mapping[str, Any]) -> str:
    """The report page as one HTML string, images embedded."""
    environment = Environment(
        loader=PackageLoader("evaluation", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(ci=format_interval, share=format_share, num=format_number)
    template = environment.get_template("report.html")
    return template.render(report=report, images=report_images(report))


def report_images(report: Mapping[str, Any]) -> dict[str, str]:
    """Element id -> PNG data URI for every figure of the report."""
    figures = report["figures"]
    images = {
        f"plot-pr-{label}": plots.pr_curve_png(label, curves)
        for label, curves in figures["pr_curves"].items()
    }
    for label, data in figures.get("reliability", {}).items():
        images[f"plot-reliability-{label}"] = plots.reliability_png(label, data)
    for label, data in figures.get("histograms", {}).items():
        images[f"plot-histogram-{label}"] = plots.histogram_png(label, data)
    if figures.get("routing_tradeoff"):
        images["plot-routing-tradeoff"] = plots.tradeoff_png(figures["routing_tradeoff"])
    if figures.get("category_confusion"):
        images["plot-category-confusion"] = plots.confusion_png(figures["category_confusion"])
    return images


def format_number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_interval(interval: Mapping[str, Any] | None, digits: int = 3) -> str:
    """``0.812 [0.750, 0.860]``; ``n/a`` when undefined."""
    if interval is None or interval.get("estimate") is None:
        return "n/a"
    estimate = format_number(interval["estimate"], digits)
    if interval.get("low") is None:
        return estimate
    low, high = format_number(interval["low"], digits), format_number(interval["high"], digits)
    return f"{estimate} [{low}, {high}]"


def format_share(interval: Mapping[str, Any] | float | None) -> str:
    """A share as a percentage, ``12.3% [10.1, 14.6]`` for an interval; ``n/a`` when undefined."""
    if interval is None:
        return "n/a"
    if not isinstance(interval, Mapping):
        return f"{100 * interval:.1f}%"
    if interval.get("estimate") is None:
        return "n/a"
    text = f"{100 * interval['estimate']:.1f}%"
    if interval.get("low") is None:
        return text
    return f"{text} [{100 * interval['low']:.1f}, {100 * interval['high']:.1f}]"

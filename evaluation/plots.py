"""Report images drawn with matplotlib's Agg canvas, returned as ``data:`` URIs of PNG files.

Each function takes the JSON-able figure dict of :mod:`evaluation.figures` (exactly what
``report.json`` holds) and draws it, so the HTML report embeds its images and needs no network.
Figures are built with :class:`matplotlib.figure.Figure` on an Agg canvas rather than pyplot,
so no global state or display backend is involved.
"""

import base64
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 96
SMALL = (4.1, 3.1)
WIDE = (9.6, 3.8)
POSITIVE_COLOUR = "#c0392b"
NEGATIVE_COLOUR = "#2e86c1"
SERIES_COLOURS = ("#1f618d", "#d35400", "#117a65", "#7d3c98")


def pr_curve_png(label: str, curves: Mapping[str, Mapping[str, Any]]) -> str:
    """Precision against recall for one label; ``curves`` maps a series name to its figure."""
    figure, axes = _figure(SMALL)
    for colour, (name, curve) in zip(SERIES_COLOURS, curves.items(), strict=False):
        ap = curve.get("average_precision")
        legend = f"{name} (AP {ap:.3f})" if ap is not None else name
        axes.step(
            _array(curve["recall"]),
            _array(curve["precision"]),
            where="post",
            color=colour,
            label=legend,
        )
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision")
    axes.set_title(f"{label}: precision-recall")
    axes.legend(loc="lower left", fontsize="small")
    return _png(figure)


def reliability_png(label: str, figure_data: Mapping[str, Any]) -> str:
    """Observed positive rate against mean score per bin, with the diagonal."""
    figure, axes = _figure(SMALL)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    mean = _array(figure_data["mean_score"])
    observed = _array(figure_data["observed_rate"])
    axes.plot(mean, observed, marker="o", color=SERIES_COLOURS[0], label="model")
    for x, y, count in zip(mean, observed, figure_data["count"], strict=True):
        if count and not np.isnan(x):
            axes.annotate(
                str(count), (x, y), fontsize=6, xytext=(3, -8), textcoords="offset points"
            )
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean calibrated probability", ylabel="observed rate")
    axes.set_title(f"{label}: reliability (labels: rows per bin)")
    axes.legend(loc="upper left", fontsize="small")
    return _png(figure)


def histogram_png(label: str, figure_data: Mapping[str, Any]) -> str:
    """Score histograms of positives and negatives (log scale) with the band edges."""
    figure, axes = _figure(SMALL)
    edges = _array(figure_data["bin_edges"])
    width = np.diff(edges)
    for key, colour in (("negatives", NEGATIVE_COLOUR), ("positives", POSITIVE_COLOUR)):
        counts = np.asarray(figure_data[key], dtype=np.float64)
        axes.bar(edges[:-1], counts, width=width, align="edge", alpha=0.55, color=colour, label=key)
    for key, style in (("allow", "--"), ("enforce", "-")):
        if figure_data.get(key) is not None:
            axes.axvline(figure_data[key], color="black", linestyle=style, label=f"{key} edge")
    axes.set_yscale("symlog", linthresh=1)
    axes.set(xlim=(0, 1), xlabel="calibrated probability", ylabel="rows")
    axes.set_title(f"{label}: scores by class")
    axes.legend(loc="upper center", fontsize="small")
    return _png(figure)


def tradeoff_png(figure_data: Mapping[str, Any]) -> str:
    """Automation against overall violations let through and against wrong enforcements."""
    figure = Figure(figsize=WIDE, dpi=DPI)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    _tradeoff_panel(left, figure_data, "violations_let_through", "max_wrong_enforcements")
    _tradeoff_panel(right, figure_data, "wrong_enforcements", "max_violations_let_through")
    figure.suptitle("What-if: thresholds refitted on this data for each pair of targets")
    return _png(figure)


def _tradeoff_panel(axes: Any, figure_data: Mapping[str, Any], error: str, series: str) -> None:
    """One line per value of the ``series`` target; x the overall ``error``, y automation."""
    points = figure_data["points"]
    for target in sorted({point[series] for point in points}):
        chosen = sorted(
            (p for p in points if p[series] == target and p[error] is not None),
            key=lambda p: p[error],
        )
        xs, ys = [p[error] for p in chosen], [p["automation"] for p in chosen]
        axes.plot(xs, ys, marker=".", alpha=0.8, label=f"{series.replace('_', ' ')} {target:g}")
    certified = [p for p in points if p.get("certifiable") and p[error] is not None]
    if certified:
        axes.plot(
            [p[error] for p in certified],
            [p["automation"] for p in certified],
            marker="o",
            markersize=10,
            markerfacecolor="none",
            color="green",
            linestyle="none",
            label="certifiable here (every label, both promises)",
        )
    card = figure_data["card"]
    if card.get(error) is not None:
        axes.plot(
            card[error],
            card["automation"],
            marker="*",
            markersize=14,
            color="black",
            linestyle="none",
            label="card's thresholds",
        )
    axes.set(xlabel=f"{error.replace('_', ' ')} (overall)", ylabel="automation (not reviewed)")
    axes.set_ylim(0, 1.02)
    axes.legend(fontsize="x-small")


def confusion_png(figure_data: Mapping[str, Any]) -> str:
    """The category confusion matrix, rows normalized, with counts written in each cell."""
    classes = figure_data["classes"]
    counts = np.asarray(figure_data["counts"], dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    figure, axes = _figure((6.4, 5.2))
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(counts):
        if count:
            colour = "white" if shares[row, column] > 0.6 else "black"
            axes.text(
                column, row, f"{int(count)}", ha="center", va="center", fontsize=7, color=colour
            )
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, classes, rotation=45, ha="right", fontsize=7)
    axes.set_yticks(ticks, classes, fontsize=7)
    axes.set(xlabel="predicted category", ylabel="true category")
    label = figure_data.get("label", "category")
    axes.set_title(f"{label} category (rows labelled {label})")
    return _png(figure)


def _figure(size: tuple[float, float]) -> tuple[Figure, Any]:
    figure = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(figure)
    return figure, figure.subplots()


def _array(values: list[float | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array([np.nan if value is None else value for value in values], dtype=np.float64)


def _png(figure: Figure) -> str:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

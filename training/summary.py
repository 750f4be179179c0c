"""The end-of-training summary table, from a model card."""

from typing import Any

from models.bundle import ModelCard


def summary_lines(card: ModelCard) -> list[str]:
    """One row per label: validation quality, band edges and their calibration-split errors."""
    header = (
        f"{'label':<12} {'val AP':>7} {'R@P.95':>7} {'allow<':>8} {'enforce>=':>9} "
        f"{'let thru':>8} {'wrong enf':>9} {'review':>7}"
    )
    lines = [f"model {card.model_id}  thresholds {card.threshold_set_id}", header]
    validation: dict[str, Any] = card.metrics.get("validation", {})
    for label in card.labels:
        edges = card.thresholds[label]
        metrics = validation.get(label, {})
        estimate = edges.estimate
        lines.append(
            f"{label:<12} {_num(metrics.get('average_precision')):>7} "
            f"{_num(metrics.get('recall@p0.95')):>7} {edges.allow:>8.4f} "
            f"{_num(edges.enforce, 4) if edges.enforce is not None else 'off':>9} "
            f"{_num(estimate.violations_let_through if estimate else None):>8} "
            f"{_num(estimate.wrong_enforcements if estimate else None):>9} "
            f"{_num(estimate.share_review if estimate else None):>7}"
        )
    lines.append("(let thru / wrong enf / review: shares on the seller-grouped calibration split)")
    for label in card.labels:
        reason = card.thresholds[label].enforce_disabled_reason
        if reason:
            lines.append(f"{label}: {reason}")
    if card.parity:
        lines.append(
            f"ONNX parity: max |diff| {card.parity.max_abs_probability_diff:.1e} "
            f"on {card.parity.rows_checked} {card.parity.split} rows"
        )
    return lines


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"

"""The end-of-training summary table, from a model card."""

from typing import Any

from models.bundle import ModelCard


def summary_lines(card: ModelCard) -> list[str]:
    """One row per label: validation quality, band edges and their calibration-split errors."""
    header = (
        f"{'label':<12} {'val AP':>7} {'R@P.95':>7} {'allow<':>8} {'enforce>=':>9} "
        f"{'let thru':>8} {'wrong enf':>9} {'review':>7}"
    )
    lines = [
        f"model {card.model_id} ({card.model_family})  thresholds {card.threshold_set_id}",
        header,
    ]
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
    lines += promise_lines(card)
    for label in card.labels:
        reason = card.thresholds[label].enforce_disabled_reason
        if reason:
            lines.append(f"{label}: {reason}")
    if card.parity:
        lines.append(
            f"ONNX parity: max |diff| {card.parity.max_abs_probability_diff:.1e} "
            f"on {card.parity.rows_checked} {card.parity.split} rows"
        )
    if card.quantization:
        quantized = card.quantization
        lines.append(
            f"int8 vs fp32: max probability difference {quantized.max_abs_probability_diff:.3f} "
            f"(budget {quantized.budget_probability_diff:g}), largest PR-AUC loss "
            f"{max(quantized.pr_auc_loss.values(), default=0.0):.4f} "
            f"(budget {quantized.budget_pr_auc_loss:g}) on {quantized.rows_checked} "
            f"{quantized.split} rows: {quantized.weights} ships"
        )
    return lines


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def promise_lines(card: ModelCard) -> list[str]:
    """Each label's two promises: certified (and over how many units) or not, and why not."""
    if card.guarantee is None:
        return ["promises: none certified (a bundle from before certification)"]
    settings = card.guarantee
    lines = [
        f"promises at {settings.confidence:.0%} confidence ({settings.scope.replace('_', ' ')}), "
        f"the unit is the {settings.unit}; uncertified edges: {settings.uncertified}"
    ]
    for label in card.labels:
        edges = card.thresholds[label]
        for certificate in (edges.let_through, edges.wrong_enforcements):
            if certificate is None:
                continue
            name = certificate.promise.replace("_", " ")
            if certificate.certified:
                measured = _num(certificate.observed)
                lines.append(
                    f"  {label}: {name} <= {certificate.target:g}: CERTIFIED over "
                    f"{certificate.units} {certificate.unit}s (measured {measured})"
                )
            else:
                lines.append(
                    f"  {label}: {name} <= {certificate.target:g}: NOT CERTIFIED - the tightest "
                    f"certifiable is {certificate.tightest_certifiable:.3f}; at least "
                    f"{certificate.more_units_needed} more {certificate.unit}s (with no error) "
                    f"would be needed; the edge is {certificate.fallback}"
                )
    return lines

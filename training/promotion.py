"""``listingguard models promote``: the gate between a challenger and production.

Pointing ``champion`` at a version, when the model already has a champion, runs the gate
(:mod:`evaluation.promotion_gate`) on the pinned evaluation set: both versions are pulled from the
registry, scored on the set and compared; the figures are printed either way. A refused
promotion leaves the aliases as they were (exit status 1); ``--force --reason TEXT`` promotes
anyway and records why. The first champion and the ``challenger`` alias need no gate.

The pinned set: the first gated promotion pins its ``--eval-data`` (the dataset fingerprint, tag
:data:`PINNED_TAG` on the registered model); later promotions must bring data with that
fingerprint, or ``--pin`` another (recorded once the set is known usable). Data either version
was trained on (same fingerprint as on its card) is refused: it was used for fitting and
calibration. Only the fingerprint is compared: keep the pinned set's listings and sellers out of
every training file and feedback export (a set that overlaps them favours the version trained on
them). Every outcome is a tag :data:`OUTCOME_TAG` on the promoted version: decision, reason,
champion, the failed checks.
"""

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data.fingerprint import dataset_fingerprint
from data.loaders import load_labeled
from data.mapping import load_mapping, resolve_mapping_path
from evaluation.promotion_gate import GateCheck, GateResult, gate
from evaluation.scored import score_rows
from evaluation.slices import standard_slices
from models.scorer import BundleScorer
from training import tracking
from training.errors import RegistryError, TrainingError

PINNED_TAG = "listingguard.pinned_eval"
OUTCOME_TAG = "listingguard.promotion"
MAX_RECORDED_FAILURES = 20
Echo = Callable[[str], None]


class PromotionRefusedError(TrainingError):
    """The gate refused the challenger (the figures were printed)."""


@dataclass(frozen=True)
class GateSettings:
    eval_data: str | None
    mapping: str | None
    pin: bool = False
    margin: float = 0.02
    alpha: float = 0.05
    resamples: int = 1000


def promote(
    name: str,
    version: str,
    alias: str,
    settings: GateSettings,
    *,
    force: bool,
    reason: str | None,
    echo: Echo,
) -> str:
    """Point ``alias`` at ``version`` through the gate; returns the decision recorded."""
    if force and not (reason and reason.strip()):
        raise TrainingError("--force needs --reason TEXT: why the gate is overridden")
    target = tracking.resolve(f"{name}/{version}")
    champion = tracking.alias_version(name, "champion") if alias == "champion" else None
    if champion is None or champion.version == target.version:
        if alias != "champion":
            why = f"the {alias} alias is not gated"
        else:
            why = "first champion" if champion is None else "already champion"
        tracking.set_alias(name, alias, target.version)
        _record(target, {"decision": "promoted", "gate": f"not run ({why})", "alias": alias})
        return "promoted"
    if settings.eval_data is None:
        raise TrainingError(
            f"promoting v{target.version} over champion v{champion.version} runs the gate: give "
            "--eval-data (the pinned evaluation set)"
        )
    result, fingerprint = _run_gate(name, target, champion, settings, echo)
    for line in gate_lines(result):
        echo(line)
    outcome: dict[str, Any] = {
        "alias": alias,
        "champion_version": champion.version,
        "eval_fingerprint": fingerprint,
        "checks": len(result.checks),
        "failed": [_check_json(check) for check in result.failures[:MAX_RECORDED_FAILURES]],
        "margin": result.margin,
        "alpha": result.alpha,
    }
    if result.refused and not force:
        _record(target, {**outcome, "decision": "refused"})
        raise PromotionRefusedError(
            f"refused: v{target.version} is worse than champion v{champion.version} on "
            f"{len(result.failures)} of {len(result.checks)} checks (above); the aliases are "
            "unchanged (--force --reason TEXT overrides, and is recorded)"
        )
    decision = "forced" if result.refused else "promoted"
    tracking.set_alias(name, alias, target.version)
    _record(target, {**outcome, "decision": decision, "reason": reason})
    return decision


def _run_gate(
    name: str,
    target: tracking.RegisteredVersion,
    champion: tracking.RegisteredVersion,
    settings: GateSettings,
    echo: Echo,
) -> tuple[GateResult, str]:
    assert settings.eval_data is not None
    mapping = load_mapping(resolve_mapping_path(settings.mapping or _mapping_of(settings)))
    loaded = load_labeled(settings.eval_data, mapping)
    if not loaded.rows:
        raise TrainingError(f"{settings.eval_data}: no usable rows")
    fingerprint = dataset_fingerprint(loaded.rows, loaded.mapping)
    pin = _pinned_record(name, fingerprint, settings, len(loaded.rows))
    echo(f"gate on {len(loaded.rows)} rows of {loaded.file} (fingerprint {fingerprint[:12]})")
    with tempfile.TemporaryDirectory(prefix="lg-promote-") as scratch:
        scored = []
        for role, version in (("challenger", target), ("champion", champion)):
            bundle = tracking.download_version(version, Path(scratch) / role)
            scorer = BundleScorer(bundle)
            trained_on = scorer.card.training.get("data_fingerprint")
            if trained_on == fingerprint:
                raise TrainingError(
                    f"{settings.eval_data} is the data v{version.version} was trained on: the "
                    "gate needs a set neither version was fitted or calibrated on"
                )
            echo(f"scoring with the {role}, v{version.version} ({scorer.card.model_id})")
            scored.append((scorer.card, score_rows(scorer, loaded.rows)))
    (card, challenger), (_, champion_scores) = scored
    if pin is not None:  # pinned once the set is known usable (neither version trained on it)
        tracking.set_model_tag(name, PINNED_TAG, json.dumps(pin))
    echo(f"paired seller bootstrap, {settings.resamples} resamples per check")
    result = gate(
        challenger,
        champion_scores,
        thresholds=card.thresholds,
        targets=card.threshold_targets,
        slices=standard_slices(loaded.rows).slices,
        margin=settings.margin,
        alpha=settings.alpha,
        n_resamples=settings.resamples,
    )
    return result, fingerprint


def _mapping_of(settings: GateSettings) -> str:
    from training.cli_evaluate import default_mapping

    assert settings.eval_data is not None
    return default_mapping(settings.eval_data)


def _pinned_record(
    name: str, fingerprint: str, settings: GateSettings, rows: int
) -> dict[str, Any] | None:
    """The pin to record for this set (None: it is the pinned one already); raises when another
    set is pinned and ``--pin`` was not given."""
    stored = tracking.model_tag(name, PINNED_TAG)
    pinned = json.loads(stored) if stored else None
    if pinned is not None and pinned["fingerprint"] != fingerprint and not settings.pin:
        raise RegistryError(
            f"{settings.eval_data} is not the pinned evaluation set of {name} ({pinned['file']}, "
            f"fingerprint {pinned['fingerprint'][:12]}, pinned {pinned['pinned_at']}): use that "
            "set, or pass --pin to pin this one"
        )
    if pinned is not None and pinned["fingerprint"] == fingerprint:
        return None
    return {"fingerprint": fingerprint, "file": str(settings.eval_data), "rows": rows,
            "pinned_at": _now()}  # fmt: skip


def gate_lines(result: GateResult) -> list[str]:
    """The gate's figures as printed lines: every check, the failed ones marked."""
    lines = [
        f"gate: {len(result.checks)} checks, each interval at {result.confidence:.4f} "
        f"(Bonferroni, alpha {result.alpha}); refuse when an AP difference is wholly below "
        f"-{result.margin} or a promise is broken with confidence",
        f"{'check':<9} {'label':<12} {'what':<34} {'challenger':>10} {'champion':>9}  "
        "interval (of the difference, or of the rate)    limit",
    ]
    for check in result.checks:
        champion = "-" if check.champion is None else f"{check.champion:.3f}"
        lines.append(
            f"{check.kind:<9} {check.label:<12} {check.name[:34]:<34} "
            f"{check.challenger:>10.3f} {champion:>9}  "
            f"[{check.interval.low:+.3f}, {check.interval.high:+.3f}]{'':<22} "
            f"{check.limit:+.3f}{'  FAILED' if check.failed else ''}"
        )
    lines.append("gate: REFUSED" if result.refused else "gate: passed")
    return lines


def _check_json(check: GateCheck) -> dict[str, Any]:
    return {
        "kind": check.kind,
        "label": check.label,
        "what": check.name,
        "challenger": round(check.challenger, 4),
        "interval": [round(check.interval.low, 4), round(check.interval.high, 4)],
        "limit": check.limit,
    }


def _record(version: tracking.RegisteredVersion, outcome: dict[str, Any]) -> None:
    tracking.set_version_tag(version, OUTCOME_TAG, json.dumps({**outcome, "at": _now()}))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

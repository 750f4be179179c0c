"""``listingguard evaluate``: a bundle (or two, compared) on labeled data -> report.html + .json.

A thin layer over :mod:`evaluation.run`. Registry references (``models:/NAME@ALIAS``) are
materialized here, in training, because evaluation may not import the registry code. Library
errors become one-line errors (exit status 1) at this edge. The evaluation libraries (matplotlib,
jinja2) are imported when the command runs, so the rest of the CLI starts without them.
"""

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from data.demo import DEMO_FILE_NAME, DEMO_MAPPING_NAME
from data.loaders import LoadResult, load_labeled
from data.mapping import builtin_mapping_names, load_mapping, resolve_mapping_path
from evaluation.errors import EvaluationError
from models.errors import BundleError
from models.policy_file import load_policy
from training import tracking
from training.cli_errors import one_line_errors
from training.errors import TrainingError
from training.workspace import var_dir

if TYPE_CHECKING:
    from evaluation.run import EvaluationOptions

REGISTRY_PREFIX = "models:/"
EVAL_ARTIFACT = "evaluation"
Echo = Callable[[str], None]


@click.command()
@click.option(
    "--model", "model_ref", metavar="MODEL", help="Bundle directory or models:/NAME@ALIAS."
)
@click.option(
    "--compare", nargs=2, metavar="A B", help="Compare two models (same forms as --model)."
)
@click.option("--data", "data_path", required=True, help="Labeled data: a file or DIR[:SPLIT].")
@click.option(
    "--mapping",
    help="Column mapping YAML or built-in name; default: the built-in mapping named like a "
    "folder or the file of --data.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Report folder; default var/evaluations/<UTC time>.",
)
@click.option(
    "--resamples",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bootstrap resamples (seller clusters) per interval.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Bootstrap seed.")
@click.option(
    "--policy",
    help="Policy file or built-in name the routing simulation applies (default: the model "
    "taxonomy's own).",
)
def evaluate(
    model_ref: str | None,
    compare: tuple[str, str] | None,
    data_path: str,
    mapping: str | None,
    out_dir: Path | None,
    resamples: int,
    seed: int,
    policy: str | None,
) -> None:
    """Evaluate a model on labeled data (or compare two) and write an HTML + JSON report."""
    if (model_ref is None) == (compare is None):
        raise click.UsageError("give either --model MODEL or --compare A B")
    # Read before anything touches MLflow: resolving models:/ sets this variable in-process.
    log_to_mlflow = bool(os.environ.get("MLFLOW_TRACKING_URI"))
    references = [model_ref] if model_ref is not None else list(compare or ())
    out = out_dir or var_dir() / "evaluations" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with one_line_errors(), ExitStack() as stack:
        run = _evaluation_library()
        bundles = [_bundle_dir(reference, stack) for reference in references]
        loaded = _load(data_path, mapping or default_mapping(data_path))
        chosen = None if policy in (None, "default") else load_policy(str(policy))
        options = run.EvaluationOptions(n_resamples=resamples, seed=seed, policy=chosen)
        report = _report(run, bundles, loaded, options, out)
        click.echo("")
        summary = evaluation_summary if report["kind"] == "evaluation" else comparison_summary
        for line in summary(report):
            click.echo(line)
        if log_to_mlflow:
            _log_to_mlflow(report, out, click.echo)
    click.echo(f"\nreport: {out / 'report.html'}\n  data: {out / 'report.json'}")


def _report(
    run: ModuleType,
    bundles: list[Path],
    loaded: LoadResult,
    options: "EvaluationOptions",
    out: Path,
) -> dict[str, Any]:
    """Evaluate one bundle or compare two, writing the report into ``out``."""
    info = {
        "file": loaded.file,
        "mapping": loaded.mapping.name,
        "dropped_rows": loaded.dropped_rows,
    }
    common = {"options": options, "data_info": info, "out_dir": out, "progress": _step_printer()}
    if len(bundles) == 1:
        report: dict[str, Any] = run.evaluate_bundle(bundles[0], loaded.rows, **common)
    else:
        report = run.compare_bundles(bundles[0], bundles[1], loaded.rows, **common)
    return report


def _evaluation_library() -> ModuleType:
    try:
        from evaluation import run
    except ModuleNotFoundError as error:
        raise click.ClickException(
            f"listingguard evaluate needs {error.name}: pip install 'listingguard[eval]'"
        ) from None
    return run


def default_mapping(data_path: str) -> str:
    """The built-in mapping named like a folder of ``data_path`` or its file; else an error."""
    path = Path(data_path)
    names = builtin_mapping_names()
    if path.name == DEMO_FILE_NAME:
        return DEMO_MAPPING_NAME
    for candidate in (path.stem, *reversed(path.resolve().parts)):
        if candidate in names:
            return candidate
    raise click.UsageError(
        f"--mapping is needed: no built-in mapping ({', '.join(names)}) is named like a folder "
        f"or the file of {data_path}"
    )


def _load(data_path: str, mapping_spec: str) -> LoadResult:
    result = load_labeled(data_path, load_mapping(resolve_mapping_path(mapping_spec)))
    dropped = result.dropped_rows
    why = f"; {dropped} dropped, `listingguard data validate` says why" if dropped else ""
    click.echo(
        f"loaded {len(result.rows)} rows from {result.file} (mapping {result.mapping.name}{why})"
    )
    if not result.rows:
        raise EvaluationError(f"{data_path}: no usable rows")
    return result


def _bundle_dir(reference: str, stack: ExitStack) -> Path:
    """A bundle directory as given, or a registry version pulled into a temporary one."""
    path = Path(reference)
    if not reference.startswith(REGISTRY_PREFIX):
        if not path.is_dir():
            raise BundleError(
                f"{reference}: not a bundle directory (for the registry write "
                f"{REGISTRY_PREFIX}NAME@ALIAS)"
            )
        return path
    version = tracking.resolve(reference)
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lg-eval-"))) / "bundle"
    click.echo(f"pulling {version.name} v{version.version} from {tracking.tracking_uri()}")
    return tracking.download_version(version, folder)


def _step_printer() -> Callable[[str], None]:
    started = datetime.now(UTC)

    def step(message: str) -> None:
        elapsed = (datetime.now(UTC) - started).total_seconds()
        click.echo(f"  [{elapsed:5.1f}s] {message}")

    return step


def evaluation_summary(report: Mapping[str, Any]) -> list[str]:
    """Per-label headline figures, routing shares and flagged slices, as printed lines."""
    model, routing = report["model"], report["routing"]
    lines = [
        f"model {model['model_id']}  thresholds {model['threshold_set_id']}  "
        f"on {report['data']['rows']} rows ({_interval_note(report)})",
        f"{'label':<12} {'rows':>6} {'pos':>5}  {'average precision':<22} {'recall@p0.95':<22}",
    ]
    for label, item in report["labels"].items():
        metrics = item["metrics"]
        lines.append(
            f"{label:<12} {item['n']:>6} {item['positives']:>5}  "
            f"{_ci(metrics['average_precision']):<22} {_ci(metrics['recall@p0.95']):<22}"
        )
    for label, item in report["labels"].items():
        lines += [
            _rule_line(label, name, counts) for name, counts in item["decision_rules"].items()
        ]
    shares = routing["action_shares"]
    lines.append(
        f"routing: allowed {_pct(shares['allow'])}, review {_pct(shares['review'])}, "
        f"blocked {_pct(shares['block'])}; violations let through "
        f"{_pct(routing['violations_let_through'])}, wrong enforcements "
        f"{_pct(routing['wrong_enforcements'])}"
    )
    flagged = flagged_slices(report["slices"]["rows"])
    lines.append(f"flagged slices: {', '.join(flagged) if flagged else 'none'}")
    if report["skipped_labels"]:
        lines.append(f"skipped (unknown in this data): {', '.join(report['skipped_labels'])}")
    return lines


def _rule_line(label: str, rule: str, counts: Mapping[str, Any] | None) -> str:
    if counts is None:
        return f"  {label} {rule}: no such edge on the card"
    rates = ", ".join(
        f"{key} {counts[key]:.3f}" if counts[key] is not None else f"{key} -"
        for key in ("accuracy", "precision", "recall", "mcc")
    )
    return (
        f"  {label} {rule} (p >= {counts['threshold']:.3f}): TP {counts['tp']} FP {counts['fp']} "
        f"TN {counts['tn']} FN {counts['fn']}; {rates}"
    )


def comparison_summary(report: Mapping[str, Any]) -> list[str]:
    """One line per label and metric: A, B and A - B with its paired interval."""
    models = report["models"]
    lines = [
        f"A = {models['A']['model_id']}",
        f"B = {models['B']['model_id']}",
        f"on {report['data']['rows']} rows ({_interval_note(report)})",
        f"{'label':<12} {'metric':<18} {'A':>7} {'B':>7}  A - B",
    ]
    for item in report["comparison"]:
        lines.append(
            f"{item['label']:<12} {item['metric']:<18} {_num(item['value_a']):>7} "
            f"{_num(item['value_b']):>7}  {_ci(item['difference'])}"
        )
    return lines


def flagged_slices(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """``dimension=value (label)`` for every flagged label of every slice."""
    return [
        f"{row['dimension']}={row['value']} ({label})"
        for row in rows
        for label, item in row["labels"].items()
        if item["status"] == "flagged"
    ]


def _interval_note(report: Mapping[str, Any]) -> str:
    settings = report["settings"]
    confidence = round(100 * settings["confidence"])
    return f"{confidence}% intervals, {settings['n_resamples']} seller resamples"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _ci(interval: Mapping[str, Any] | None) -> str:
    if interval is None or interval["estimate"] is None:
        return "n/a"
    if interval["low"] is None:
        return _num(interval["estimate"])
    return f"{_num(interval['estimate'])} [{_num(interval['low'])}, {_num(interval['high'])}]"


def _pct(interval: Mapping[str, Any]) -> str:
    estimate = interval["estimate"]
    return "n/a" if estimate is None else f"{100 * estimate:.1f}%"


def headline_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """MLflow metric name -> value: each label's metric estimates and the routing shares."""
    metrics: dict[str, float] = {}
    sections = report["labels"] if report["kind"] == "evaluation" else {}
    for label, item in sections.items():
        for name, interval in item["metrics"].items():
            if interval["estimate"] is not None:
                metrics[f"{label}.{name}".replace("@", "_at_")] = interval["estimate"]
    if report["kind"] == "evaluation":
        routing = report["routing"]
        for key in ("violations_let_through", "wrong_enforcements"):
            if routing[key]["estimate"] is not None:
                metrics[f"routing.{key}"] = routing[key]["estimate"]
        for action, interval in routing["action_shares"].items():
            metrics[f"routing.share_{action}"] = interval["estimate"]
    for item in report.get("comparison", []):
        if item["difference"]["estimate"] is not None:
            name = f"{item['label']}.{item['metric']}.a_minus_b".replace("@", "_at_")
            metrics[name] = item["difference"]["estimate"]
    return metrics


def _log_to_mlflow(report: Mapping[str, Any], out: Path, echo: Echo) -> None:
    """Log the report files as artifacts of a new run (the caller checked it should)."""
    try:
        run_id = _logged_run(report, out)
    except Exception as error:  # MLflow raises its own generic exceptions (unreachable server...)
        raise TrainingError(
            f"the report is written to {out}, but logging it to MLflow at "
            f"{tracking.tracking_uri()} failed: {error}"
        ) from error
    echo(f"logged to MLflow run {run_id} ({tracking.tracking_uri()})")


def _logged_run(report: Mapping[str, Any], out: Path) -> str:
    """Log the report files, settings and headline metrics as a new run; return its id."""
    mlflow = tracking.tracked_mlflow()
    models = [report["model"]] if report["kind"] == "evaluation" else [*report["models"].values()]
    with mlflow.start_run(experiment_id=tracking.experiment_id()) as run:
        mlflow.set_tags(
            {
                "listingguard.kind": report["kind"],
                "models": ", ".join(model["model_id"] for model in models),
                "data": str(report["data"].get("file")),
            }
        )
        mlflow.log_params({key: str(value) for key, value in report["settings"].items()})
        mlflow.log_metrics(headline_metrics(report))
        for name in ("report.html", "report.json"):
            mlflow.log_artifact(str(out / name), artifact_path=EVAL_ARTIFACT)
        return str(run.info.run_id)

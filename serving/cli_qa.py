"""``listingguard-serve export-labels``, ``cases export``, ``transparency-report``,
``shadow-report`` and ``drift-report``: what QA and data scientists take out of the service
database."""

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from models.bundle import ModelCard, read_card
from models.policy import Policy
from models.scorer import BundleScorer
from serving.app import StartupError
from serving.case_export import cases_html, write_cases_jsonl
from serving.case_library import list_cases, outcomes_now
from serving.cli_support import (
    out_option,
    service_errors,
    session_factory_of,
    since_option,
    utc,
    write_lines,
)
from serving.console.templating import render, report_style
from serving.drift_report import drift_report
from serving.label_export import export_labels
from serving.qa_estimates import promise_targets
from serving.reloads import service_policy
from serving.settings import Settings
from serving.shadow_report import MAX_CHANGES, shadow_report
from serving.transparency import transparency_report


def _bundle(settings: Settings) -> tuple[Path, ModelCard, Policy]:
    if settings.bundle is None:
        raise StartupError("this command reads the model bundle: pass --bundle DIR or set "
                           "LISTINGGUARD_BUNDLE")  # fmt: skip
    card = read_card(Path(settings.bundle))
    return Path(settings.bundle), card, service_policy(settings.policy, card)


@click.command("export-labels")
@out_option
@since_option("decided items")
@click.option(
    "--redact", is_flag=True, help="Pseudonymize seller ids and reviewer names, drop notes."
)
@click.pass_obj
@service_errors
def export_labels_command(
    settings: Settings, out: Path | None, since: datetime | None, redact: bool
) -> None:
    """Write decided review, appeal, second-review and QA items (gold cases flagged) as
    labeled cases (JSON lines; the ``feedback`` mapping reads them), with source and weights."""
    _, card, policy = _bundle(settings)
    # The same pseudonyms as ``export --redact`` under one LISTINGGUARD_PSEUDONYM_KEY.
    chosen = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
    key = (chosen or secrets.token_hex(16)).encode() if redact else None
    factory = session_factory_of(settings)
    written = write_lines(
        out,
        lambda handle: export_labels(
            factory,
            handle,
            review=policy.review,
            category_label=card.taxonomy.category_label,
            since=utc(since),
            redact_key=key,
        ),
    )
    click.echo(f"exported {written} labeled cases" + (" (redacted)" if redact else ""), err=True)


@click.group()
def cases() -> None:
    """The case library for training moderators."""


@cases.command("export")
@out_option
@click.option("--format", "kind", type=click.Choice(["jsonl", "html"]), default="jsonl",
              show_default=True)  # fmt: skip
@click.option("--clause", help="Only cases citing this policy clause.")
@click.option("--market", help="Only cases of this market.")
@click.option("--label", help="Only cases violating this label.")
@click.pass_obj
@service_errors
def export_cases(
    settings: Settings, out: Path | None, kind: str, clause: str | None, market: str | None,
    label: str | None,
) -> None:  # fmt: skip
    """Write the vetted cases, each with what the current model and policy decide for it."""
    bundle, _, policy = _bundle(settings)
    factory = session_factory_of(settings)
    found = list_cases(factory, policy.review, clause=clause, market=market, label=label)
    judged = outcomes_now(found, BundleScorer(bundle), policy)
    if kind == "jsonl":
        written = write_lines(out, lambda handle: write_cases_jsonl(judged, handle))
    else:
        html = cases_html(
            judged, generated_at=datetime.now(UTC), policy_version=policy.version,
            filters={"clause": clause, "market": market, "label": label}, standalone=True,
        )  # fmt: skip
        written = write_lines(out, lambda handle: handle.write(html) and len(judged))
    changed = sum(case.outcome_now == "differs" for case in judged)
    click.echo(f"exported {written} cases; {changed} change outcome under {policy.version}",
               err=True)  # fmt: skip


@click.command("transparency-report")
@click.option(
    "--since", type=click.DateTime(), help="Start (UTC); default: 30 days before --until."
)
@click.option("--until", type=click.DateTime(), help="End (UTC); default: now.")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for transparency.json and transparency.html.",
)
@click.pass_obj
@service_errors
def transparency_command(
    settings: Settings, since: datetime | None, until: datetime | None, out_dir: Path
) -> None:
    """The period's moderation figures, as JSON and as a printable page."""
    _, card, policy = _bundle(settings)
    end = utc(until) or datetime.now(UTC)
    start = utc(since) or end - timedelta(days=30)
    if not start < end:
        raise click.BadParameter("must be before --until", param_hint="--since")
    targets = promise_targets(card)
    report = transparency_report(
        session_factory_of(settings), list(card.labels), targets, since=start, until=end,
        versions=(policy.version, card.model_id),
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    document = json.dumps(report.as_document(), indent=2, sort_keys=True)
    (out_dir / "transparency.json").write_text(document + "\n", encoding="utf-8")
    html = render("transparency.html", r=report, style=report_style())
    (out_dir / "transparency.html").write_text(html, encoding="utf-8")
    click.echo(
        f"{report.decisions} decisions, {report.appeals.received} appeals, "
        f"{report.quality.audited} audits: wrote {out_dir}/transparency.json and .html"
    )


@click.command("shadow-report")
@click.option("--since", type=click.DateTime(), help="Start (UTC); default: 7 days before --until.")
@click.option("--until", type=click.DateTime(), help="End (UTC); default: now.")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for shadow.json and shadow.html.",
)
@click.pass_obj
@service_errors
def shadow_command(
    settings: Settings, since: datetime | None, until: datetime | None, out_dir: Path
) -> None:
    """The shadow challenger against the champion over a period, as JSON and as a page."""
    end = utc(until) or datetime.now(UTC)
    start = utc(since) or end - timedelta(days=7)
    if not start < end:
        raise click.BadParameter("must be before --until", param_hint="--since")
    report = shadow_report(session_factory_of(settings), since=start, until=end)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = json.dumps(report.as_document(), indent=2, sort_keys=True)
    (out_dir / "shadow.json").write_text(document + "\n", encoding="utf-8")
    html = render("shadow.html", r=report, max_changes=MAX_CHANGES, style=report_style())
    (out_dir / "shadow.html").write_text(html, encoding="utf-8")
    click.echo(
        f"{report.compared} decisions scored in shadow, {report.changed_actions} with another "
        f"action: wrote {out_dir}/shadow.json and .html"
    )


@click.command("drift-report")
@click.option(
    "--since",
    type=click.DateTime(),
    help="Current window start (UTC); default: a day before --until.",
)
@click.option("--until", type=click.DateTime(), help="Current window end (UTC); default: now.")
@click.option(
    "--reference-days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 3660),
    help="The reference: this many days before --since.",
)
@click.option("--min-count", default=200, show_default=True, type=click.IntRange(10))
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for drift.json and drift.html.",
)
@click.pass_obj
@service_errors
def drift_command(
    settings: Settings,
    since: datetime | None,
    until: datetime | None,
    reference_days: int,
    min_count: int,
    out_dir: Path,
) -> None:
    """Population stability of inputs and scores, a window against the days before it."""
    _, card, _ = _bundle(settings)
    end = utc(until) or datetime.now(UTC)
    start = utc(since) or end - timedelta(days=1)
    if not start < end:
        raise click.BadParameter("must be before --until", param_hint="--since")
    report = drift_report(
        session_factory_of(settings), reference=(start - timedelta(days=reference_days), start),
        current=(start, end), labels=list(card.labels), min_count=min_count,
        model_version=card.model_id,
    )  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    document = json.dumps(report.as_document(), indent=2, sort_keys=True)
    (out_dir / "drift.json").write_text(document + "\n", encoding="utf-8")
    (out_dir / "drift.html").write_text(
        render("drift.html", r=report, style=report_style()), encoding="utf-8"
    )
    click.echo(
        f"{report.reference.decisions} reference and {report.current.decisions} current "
        f"decisions, {len(report.alerts)} alerts: wrote {out_dir}/drift.json and .html"
    )

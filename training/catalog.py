"""Catalog scoring on Ray Data: every listing of some Parquet files scored with one bundle.

After a model or policy change the whole catalog is re-scored. The input files stream through
Ray Data ``map_batches`` into a fixed pool of actors, each of which loads the bundle once (its
files travel with the job, so a remote cluster needs no shared disk, only ``listingguard``
installed in the same version). Each actor runs what serving runs before its database: the
bundle's scorer (features, onnxruntime, calibration, reasons) and
:func:`models.routing.route_listing` with the policy — the *model's* decision. What only the
service knows (a human's verdict on the content, a seller under restriction, the review queue)
is applied when the decisions are recorded through the service (:mod:`training.catalog_record`).

One output file per input file, ``OUTPUT/<input stem>.scores.parquet``, written to a temporary
name and renamed once all of its rows are scored: a crash loses only the files in flight, and the
next run skips every finished file. Rows that are not valid listings are kept, with ``error`` set.
"""

import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from data.schema import Listing
from models.policy import Policy, default_policy
from models.policy_file import load_policy
from models.routing import route_listing
from models.scorer import BundleScorer
from training.catalog_files import (
    CatalogError,
    Versions,
    check_schemas,
    empty_table,
    input_files,
    is_finished,
    output_path,
    row_count,
    write_scores,
)
from training.progress import StepProgress

Echo = Callable[[str], None]
LISTING_FIELDS: Final = frozenset(Listing.model_fields)
BATCH_ROWS: Final = 256
LOCAL_OBJECT_STORE_BYTES: Final = 256 * 1024 * 1024
"""A local Ray's object store: the rows in flight are small; Ray's default takes 30% of RAM."""
SOURCE_COLUMN: Final = "path"


@dataclass
class CatalogRun:
    """What one run did."""

    files_scored: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    listings: int = 0
    invalid: int = 0
    seconds: float = 0.0

    @property
    def listings_per_s(self) -> float:
        return self.listings / self.seconds if self.seconds else 0.0


class ListingScorer:
    """The Ray Data actor: loads the bundle once, then scores and routes batches of rows."""

    def __init__(self, bundle_files: Any, policy_spec: str | None) -> None:
        import tempfile

        import ray

        if isinstance(bundle_files, ray.ObjectRef):  # the bundle's files, put once by the driver
            bundle_files = ray.get(bundle_files)
        self._folder = tempfile.TemporaryDirectory(prefix="lg-catalog-bundle-")
        for name, content in bundle_files.items():
            target = Path(self._folder.name) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        self.scorer = BundleScorer(Path(self._folder.name), threads=1)
        self.policy = catalog_policy(policy_spec, self.scorer)

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.to_pylist()
        scored = score_rows(rows, self.scorer, self.policy)
        for row, out in zip(rows, scored, strict=True):
            out[SOURCE_COLUMN] = row[SOURCE_COLUMN]
        return pa.Table.from_pylist(scored, schema=output_schema(self.scorer.labels, source=True))


def catalog_policy(policy_spec: str | None, scorer: BundleScorer) -> Policy:
    """The policy file or built-in name, checked against the bundle's taxonomy; else its
    default policy (what the service does)."""
    taxonomy = scorer.card.taxonomy
    return default_policy(taxonomy) if policy_spec is None else load_policy(policy_spec, taxonomy)


def output_schema(labels: list[str], *, source: bool = False) -> Any:
    import pyarrow as pa

    columns = [
        ("listing_id", pa.string()),
        ("action", pa.string()),
        ("policy_clause", pa.string()),
        ("regulated_category", pa.string()),
    ]
    for label in labels:
        columns += [(f"score_{label}", pa.float64()), (f"band_{label}", pa.string())]
    columns += [
        ("model_version", pa.string()),
        ("threshold_set_id", pa.string()),
        ("policy_version", pa.string()),
        ("error", pa.string()),
    ]
    if source:
        columns.append((SOURCE_COLUMN, pa.string()))
    return pa.schema(columns)


def listing_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet row's listing fields; nulls left out (the field's default applies). A Parquet
    map column arrives as (key, value) pairs, a struct column as a dict (its null members left
    out)."""
    fields = {k: v for k, v in row.items() if k in LISTING_FIELDS and v is not None}
    attributes = fields.get("attributes")
    if isinstance(attributes, list):
        fields["attributes"] = dict(attributes)
    elif isinstance(attributes, dict):
        fields["attributes"] = {k: v for k, v in attributes.items() if v is not None}
    return fields


def score_rows(
    rows: list[dict[str, Any]], scorer: BundleScorer, policy: Policy
) -> list[dict[str, Any]]:
    """Each row scored and routed as the service's model step does; invalid rows get ``error``."""
    card = scorer.card
    versions = {
        "model_version": card.model_id,
        "threshold_set_id": card.threshold_set_id,
        "policy_version": policy.version,
    }
    out: list[dict[str, Any]] = []
    valid: list[tuple[int, Listing]] = []
    for index, row in enumerate(rows):
        try:
            valid.append((index, Listing.model_validate(listing_fields(row))))
            out.append({})
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "listing"
            listing_id = row.get("listing_id")
            out.append(
                {
                    "listing_id": None if listing_id is None else str(listing_id),
                    "error": f"{where}: {first['msg']}",
                    **versions,
                }
            )
    scores = scorer.score([listing for _index, listing in valid]) if valid else []
    category_label = card.taxonomy.category_label
    for (index, listing), score in zip(valid, scores, strict=True):
        routed = route_listing(
            score.probabilities,
            score.category,
            thresholds=card.thresholds,
            policy=policy,
            listing=listing,
        )
        named = category_label is not None and routed.bands.get(category_label) != "allow"
        row_out: dict[str, Any] = {
            "listing_id": listing.listing_id,
            "action": routed.action,
            "policy_clause": routed.clause,
            "regulated_category": score.category if named else None,
            **versions,
            "error": None,
        }
        for label, probability in score.probabilities.items():
            row_out[f"score_{label}"] = probability
            row_out[f"band_{label}"] = routed.bands[label]
        out[index] = row_out
    return out


def bundle_files(bundle_dir: Path) -> dict[str, bytes]:
    """Every file of the bundle, by its path inside the bundle."""
    if not bundle_dir.is_dir():
        raise CatalogError(f"{bundle_dir}: not a bundle folder")
    return {
        str(path.relative_to(bundle_dir)): path.read_bytes()
        for path in sorted(bundle_dir.rglob("*"))
        if path.is_file()
    }


def score_catalog(
    source: Path,
    output: Path,
    *,
    bundle_dir: Path,
    policy_spec: str | None = None,
    address: str | None = None,
    workers: int = 1,
    echo: Echo = print,
) -> CatalogRun:
    """Score every listing of the Parquet file or folder ``source`` into ``output``."""
    files = input_files(source)
    scorer = BundleScorer(bundle_dir)  # checks the bundle (and the policy) before Ray starts
    labels = scorer.labels
    policy = catalog_policy(policy_spec, scorer)
    versions = Versions(scorer.card.model_id, scorer.card.threshold_set_id, policy.version)
    output.mkdir(parents=True, exist_ok=True)
    run = CatalogRun()
    todo = []
    for file in files:
        if is_finished(file, output, versions):
            run.files_skipped.append(file.name)
        elif row_count(file) == 0:  # nothing to score: an empty output, written at once
            write_scores(empty_table(output_schema(labels)), file, output, versions)
            run.files_scored.append(file.name)
        else:
            todo.append(file)
    if run.files_skipped:
        echo(f"skipping {len(run.files_skipped)} finished file(s): {', '.join(run.files_skipped)}")
    if not todo:
        return run
    check_schemas(todo)
    expected = {str(file.resolve()): row_count(file) for file in todo}
    with _ray(address) as ray:
        echo(f"Ray: {_describe(ray)}; {workers} scoring worker(s)")
        started = time.monotonic()  # Ray is up: from here, the job's own time
        # Reading takes no CPU of its own: the scoring actors may take every CPU of a small
        # cluster (2 actors on 2 CPUs) without the read tasks waiting for one forever.
        # At least a few blocks per actor, or Ray Data may hand one block to one actor.
        blocks = max(len(expected), 4 * workers, sum(expected.values()) // (8 * BATCH_ROWS))
        dataset = ray.data.read_parquet(
            list(expected), include_paths=True, num_cpus=0, override_num_blocks=blocks
        ).map_batches(
            ListingScorer,
            compute=ray.data.ActorPoolStrategy(size=workers),
            batch_size=BATCH_ROWS,
            batch_format="pyarrow",
            fn_constructor_kwargs={
                "bundle_files": ray.put(bundle_files(bundle_dir)),
                "policy_spec": policy_spec,
            },
            num_cpus=_actor_cpus(ray, workers),
        )
        total = sum(expected.values())
        progress = StepProgress(echo, "scoring the catalog", total, unit=" listings")
        for table in _finished_files(dataset, expected, progress):
            path = Path(table.column(SOURCE_COLUMN)[0].as_py())
            scored = table.drop_columns([SOURCE_COLUMN]).cast(output_schema(labels))
            write_scores(scored, path, output, versions)
            run.files_scored.append(path.name)
            run.listings += table.num_rows
            run.invalid += table.num_rows - table.column("error").null_count
            echo(f"wrote {output_path(output, path).name} ({table.num_rows} listings)")
        progress.finish()
        run.seconds = time.monotonic() - started
    return run


def _finished_files(
    dataset: Any, expected: dict[str, int], progress: StepProgress
) -> Iterator[Any]:
    """Each input file's scored rows as one table, as soon as all of its rows arrived."""
    import pyarrow as pa

    pending: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    for batch in _ray_errors_named(dataset.iter_batches(batch_format="pyarrow", batch_size=None)):
        for source in batch.column(SOURCE_COLUMN).unique().to_pylist():
            part = batch.filter(pa.compute.equal(batch.column(SOURCE_COLUMN), source))
            key = _resolved(source, expected)
            pending.setdefault(key, []).append(part)
            counts[key] = counts.get(key, 0) + part.num_rows
            progress.advance(part.num_rows)
            if counts[key] == expected[key]:
                yield pa.concat_tables(pending.pop(key))
    if pending:  # never written: a file is finished only with all of its rows
        short = ", ".join(f"{key} ({counts[key]} of {expected[key]} rows)" for key in pending)
        raise CatalogError(f"Ray returned fewer rows than these files hold: {short}")


def _ray_errors_named(batches: Iterator[Any]) -> Iterator[Any]:
    """A failed Ray task (a file it cannot read, an actor that died) as one line."""
    try:
        yield from batches
    except Exception as error:
        if isinstance(error, CatalogError):
            raise
        lines = [line for line in str(error).splitlines() if line.strip()]
        last = lines[-1] if lines else type(error).__name__
        raise CatalogError(f"Ray could not score the catalog: {last}") from None


def _resolved(source: str, expected: dict[str, int]) -> str:
    """Ray's ``path`` column may drop the leading slash of a local path."""
    if source in expected:
        return source
    return next((key for key in expected if key.endswith(source.lstrip("/"))), source)


class _ray:  # noqa: N801 - used as a context manager: ``with _ray(address) as ray``
    """Ray connected (to ``address``, else a fresh local one) for the block, then shut down."""

    def __init__(self, address: str | None) -> None:
        self.address = address

    def __enter__(self) -> Any:
        try:
            import ray
            import ray.data
        except ImportError as error:
            raise CatalogError(
                "catalog scoring needs Ray: pip install 'listingguard[catalog]'"
            ) from error
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray's advice to split the input further: the job reads whole files on purpose.
        warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
        if self.address:
            ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=os.cpu_count() or 1,
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # our own progress lines instead
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        # Each output file keeps its input's row order (blocks come back in the order read).
        context.execution_options.preserve_order = True
        return ray

    def __exit__(self, *_exc: object) -> None:
        import ray

        ray.shutdown()


def _actor_cpus(ray: Any, workers: int) -> float:
    """CPUs each scoring actor reserves: one, unless that would leave none for Ray Data's own
    tasks (listing the files needs one CPU): then a share, so 2 actors run on 2 CPUs. Each actor
    runs onnxruntime on one thread either way."""
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(0.1, min(1.0, (cpus - 1.0) / workers))


def _describe(ray: Any) -> str:
    cpus = int(ray.cluster_resources().get("CPU", 0))
    nodes = len([node for node in ray.nodes() if node.get("Alive")])
    return f"{nodes} node(s), {cpus} CPU(s)"

"""Catalog scoring on Ray Data against the in-process ceiling: listings/s, 1 and 2 workers.

    .venv/bin/python -m benchmarks.catalog_scoring [--shared ../shared] [--copies 3] [--files 4]

Trains the baseline (embedded default config, no MLflow) on marketplace-risk-v1 ``train.jsonl``
(demo data when absent), writes the validation listings ``--copies`` times (fresh ids) into
``--files`` Parquet files, then:

* in-process ceiling: :func:`training.catalog.score_rows` (the actors' own work: listing
  validation, features, onnxruntime, calibration, reasons, routing) over the same rows in batches
  of 256, in this process, one onnxruntime thread;
* ``listingguard score-catalog`` on a fresh local Ray (the default: every CPU, no dashboard) with
  1 and then 2 workers, wall time from the call to the last output file, Ray's start included,
  and again without it (the time after Ray was up, from the run's own clock).
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.http_scoring import REPO, _load_dataset, _train
from models.scorer import BundleScorer
from training.catalog import BATCH_ROWS, catalog_policy, score_catalog, score_rows


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    shared = os.environ.get("LISTINGGUARD_SHARED_DIR", str(REPO.parent / "shared"))
    parser.add_argument("--shared", type=Path, default=Path(shared))
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--files", type=int, default=4)
    return parser.parse_args()


def _table(rows: list[dict[str, object]]) -> pa.Table:
    plain = [{k: v for k, v in row.items() if k != "attributes"} for row in rows]
    attributes = pa.array(
        [row["attributes"] for row in rows], type=pa.map_(pa.string(), pa.string())
    )
    return pa.Table.from_pylist(plain).append_column("attributes", attributes)


def main() -> None:
    args = _parse_args()
    dataset = _load_dataset(args.shared)
    with tempfile.TemporaryDirectory(prefix="lg-catalog-bench-") as folder:
        scratch = Path(folder)
        bundle, _seconds = _train(dataset, scratch)
        rows = [
            {
                **listing.model_dump(mode="json", exclude={"attributes"}),
                "listing_id": f"{listing.listing_id}~{copy}",
                # A map column: Parquet cannot store a struct without members ({}).
                "attributes": list(listing.attributes.items()),
            }
            for copy in range(args.copies)
            for listing in dataset.requests
        ]
        catalog = scratch / "catalog"
        catalog.mkdir()
        size = -(-len(rows) // args.files)
        for index in range(args.files):
            chunk = rows[index * size : (index + 1) * size]
            pq.write_table(_table(chunk), catalog / f"part-{index:03d}.parquet")
        print(f"{dataset.name}: {len(rows)} listings in {args.files} files", flush=True)

        scorer = BundleScorer(bundle, threads=1)
        policy = catalog_policy(None, scorer)
        batches = [rows[i : i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]
        score_rows(batches[0], scorer, policy)
        seconds = []
        for batch in batches:
            began = time.perf_counter()
            score_rows(batch, scorer, policy)
            seconds.append(time.perf_counter() - began)
        ceiling = BATCH_ROWS / statistics.median(seconds)
        print(f"in-process ceiling (score_rows, 1 thread): {ceiling:,.0f} listings/s", flush=True)

        for workers in (1, 2):
            began = time.perf_counter()
            run = score_catalog(
                catalog,
                scratch / f"out-{workers}",
                bundle_dir=bundle,
                workers=workers,
                echo=lambda line: None,
            )
            wall = time.perf_counter() - began
            print(
                f"Ray Data, {workers} worker(s): {run.listings / wall:,.0f} listings/s with Ray's "
                f"start ({wall:.1f} s), {run.listings_per_s:,.0f} listings/s once up "
                f"({run.seconds:.1f} s); {run.listings_per_s / ceiling:.0%} of the ceiling",
                flush=True,
            )


if __name__ == "__main__":
    main()

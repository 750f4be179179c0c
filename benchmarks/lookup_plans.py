"""A batch's active-items lookup on PostgreSQL, in three forms, before and after ``ANALYZE``.

    .venv/bin/python -m benchmarks.lookup_plans [--database-url postgresql+psycopg://.../auto]
        [--decisions 10240] [--active-items 2165] [--runs 30]

Migrates a throwaway database (``auto``: created and dropped), fills ``decisions`` and
``work_items`` with synthetic rows through SQL (``--active-items`` open review items, one per
listing, the rest of the listings without items), then times the lookup the recording of a
256-listing batch runs — the batch's listings that have an active item — in turns, ``--runs``
times each on a fresh random 256 listings, median: the listings as an ``IN`` list of 256
parameters, as ``= ANY(:array)``, and as the product's ``IN (SELECT unnest(:array))``
(:mod:`serving.value_lists`). Once as filled (a table PostgreSQL has not analyzed: autovacuum
off or not yet run), once after ``ANALYZE``. Skips (exit 0) when no PostgreSQL answers.
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import OperationalError

from benchmarks.live_server import database
from serving.db import create_db_engine, upgrade_database
from serving.tables import ACTIVE_STATUSES, WorkItem
from serving.value_lists import PerDialect

BATCH = 256
FORMS = {
    "IN list of 256 parameters": select(WorkItem.listing_id)
    .where(WorkItem.listing_id.in_(bindparam("listings", expanding=True)))
    .where(WorkItem.status.in_(ACTIVE_STATUSES))
    .distinct(),
    "= ANY(:array)": select(WorkItem.listing_id)
    .where(
        WorkItem.listing_id == any_(bindparam("listings", type_=ARRAY(WorkItem.listing_id.type)))
    )
    .where(WorkItem.status.in_(ACTIVE_STATUSES))
    .distinct(),
    "IN (SELECT unnest(:array)) (product)": PerDialect.build(
        lambda one_of: (
            select(WorkItem.listing_id)
            .where(one_of(WorkItem.listing_id, "listings"), WorkItem.status.in_(ACTIVE_STATUSES))
            .distinct()
        )
    ).array,
}
FILL = """
INSERT INTO decisions (id, idempotency_key, listing_id, content_hash, request_id, market,
    listing, scores, bands, category_scores, action, explanation, model_version,
    threshold_set_id, policy_version, created_at, seller_id, audit_stratum)
SELECT md5('d' || n), md5('k' || n), 'listing-' || n, md5('c' || n), 'bench', 'US',
    '{"title": "t"}', '{"fraud": 0.5}', '{"fraud": "review"}', '{}', 'review', '{}', 'm', 't',
    'p', now(), 'seller-' || (n % 500), 'auto_allow:US'
FROM generate_series(1, :decisions) AS n;
INSERT INTO work_items (id, kind, decision_id, listing_id, seller_id, status, priority,
    priority_factors, due_at, order_at, created_at, updated_at)
SELECT md5('w' || n), 'review', md5('d' || n), 'listing-' || n, 'seller-' || (n % 500), 'open',
    0.5, '{}', now(), now(), now(), now()
FROM generate_series(1, :items) AS n;
"""


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/auto"
    )
    parser.add_argument("--decisions", type=int, default=10_240)
    parser.add_argument("--active-items", type=int, default=2_165)
    parser.add_argument("--runs", type=int, default=30)
    return parser.parse_args()


def _timings(engine: Engine, listings: list[str], runs: int) -> dict[str, float]:
    seconds: dict[str, list[float]] = {name: [] for name in FORMS}
    with engine.connect() as connection:
        for run in range(runs + 5):
            chosen = random.sample(listings, BATCH)
            for name, statement in FORMS.items():
                began = time.perf_counter()
                connection.execute(statement, {"listings": chosen}).all()
                if run >= 5:  # psycopg prepares a statement from its fifth run
                    seconds[name].append(time.perf_counter() - began)
    return {name: round(statistics.median(values) * 1000, 2) for name, values in seconds.items()}


def main() -> None:
    args = _parse_args()
    with tempfile.TemporaryDirectory() as folder:
        try:
            context = database(args.database_url, Path(folder))
            url = context.__enter__()
        except OperationalError as error:
            print(f"skipped: no PostgreSQL at {args.database_url} ({type(error).__name__})")
            return
        try:
            upgrade_database(url)
            engine = create_db_engine(url)
            with engine.begin() as connection:
                for statement in FILL.strip().split(";\n"):
                    params = {"decisions": args.decisions, "items": args.active_items}
                    connection.execute(text(statement), params)
            listings = [f"listing-{n}" for n in range(1, args.decisions + 1)]
            print(f"{args.decisions} decisions, {args.active_items} active items; ms per lookup")
            print("not analyzed:", _timings(engine, listings, args.runs), flush=True)
            with engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
            print("analyzed:    ", _timings(engine, listings, args.runs))
            engine.dispose()
        finally:
            context.__exit__(None, None, None)


if __name__ == "__main__":
    main()

"""Retention, erasure of one seller and redacted exports, on SQLite and PostgreSQL."""

import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from serving.data_hygiene import apply_retention, erase_seller, export_decisions, redact_record
from serving.decision_store import NewDecision, get_decision, record_decision
from serving.review_actions import claim_next
from serving.tables import DecisionRecord, WorkItem, utc_now
from tests.factories import make_new_decision, make_review_decision
from tests.serving.review_steps import decide_as

LISTINGGUARD_SERVE = [sys.executable, "-m", "serving.cli"]


def with_seller(make: Any, seller: str, **overrides: Any) -> NewDecision:
    decision: NewDecision = make(**overrides)
    listing = {**decision.listing, "seller_id": seller, "attributes": {"phone": "555-0100"}}
    return make(listing=listing, listing_id=decision.listing_id, **overrides)


def age(session_factory: sessionmaker[Session], decision_id: str, days: int) -> None:
    with session_factory.begin() as session:
        session.execute(
            update(DecisionRecord)
            .where(DecisionRecord.id == decision_id)
            .values(created_at=utc_now() - timedelta(days=days))
        )


def reviewed(session_factory: sessionmaker[Session], seller: str) -> str:
    """A review decision that a reviewer closed with a free-text note."""
    stored, _ = record_decision(session_factory, with_seller(make_review_decision, seller))
    item = claim_next(session_factory, "ana")
    assert item is not None and item.decision_id == stored.id
    decide_as(session_factory, item.id, "ana", "block", "seller phone 555-0100 in the photo")
    return stored.id


def original_of(session_factory: sessionmaker[Session], decision_id: str) -> NewDecision:
    """The decision as it would be submitted again (same idempotency key)."""
    with session_factory() as session:
        record = session.get(DecisionRecord, decision_id)
        assert record is not None
        return make_review_decision(
            idempotency_key=record.idempotency_key,
            listing_id=record.listing_id,
            listing=dict(record.listing),
        )


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    with session_factory() as session:
        decisions = session.scalar(select(func.count()).select_from(DecisionRecord))
        items = session.scalar(select(func.count()).select_from(WorkItem))
    return int(decisions or 0), int(items or 0)


def test_retention_anonymizes_old_decisions_and_keeps_their_figures(
    session_factory: sessionmaker[Session],
) -> None:
    old = reviewed(session_factory, "seller-old")
    old_decision = original_of(session_factory, old)
    recent, _ = record_decision(session_factory, with_seller(make_new_decision, "seller-new"))
    age(session_factory, old, days=400)
    result = apply_retention(
        session_factory, older_than=utc_now() - timedelta(days=365), mode="anonymize"
    )
    assert (result.decisions, result.work_items) == (1, 1)
    stored = get_decision(session_factory, old)
    assert stored is not None
    assert "title" not in stored.listing and "seller_id" not in stored.listing
    assert "attributes" not in stored.listing
    assert stored.scores and stored.model_action == "review", "audit figures stay"
    with session_factory() as session:
        item = session.scalars(select(WorkItem).where(WorkItem.decision_id == old)).one()
        record = session.get(DecisionRecord, old)
        assert record is not None
        assert item.note is None and item.human_action == "block"
        assert record.seller_id is None and record.anonymized_at is not None
    replayed, created = record_decision(session_factory, old_decision)
    assert created and replayed.id != old, "identical content is decided afresh, not replayed"
    untouched = get_decision(session_factory, recent.id)
    assert untouched is not None and untouched.listing["seller_id"] == "seller-new"
    again = apply_retention(
        session_factory, older_than=utc_now() - timedelta(days=365), mode="anonymize"
    )
    assert again.decisions == 0, "anonymizing twice changes nothing"


def test_retention_delete_spares_items_still_in_the_queue(
    session_factory: sessionmaker[Session],
) -> None:
    closed = reviewed(session_factory, "s-1")
    waiting, _ = record_decision(session_factory, with_seller(make_review_decision, "s-2"))
    for decision_id in (closed, waiting.id):
        age(session_factory, decision_id, days=30)
    result = apply_retention(session_factory, older_than=utc_now(), mode="delete")
    assert (result.decisions, result.work_items) == (1, 1)
    assert get_decision(session_factory, closed) is None
    assert get_decision(session_factory, waiting.id) is not None, "an open item keeps its decision"


def test_erasure_deletes_every_decision_and_item_of_one_seller(
    session_factory: sessionmaker[Session],
) -> None:
    reviewed(session_factory, "erase-me")
    record_decision(session_factory, with_seller(make_review_decision, "erase-me"))
    record_decision(session_factory, with_seller(make_new_decision, "erase-me"))
    kept, _ = record_decision(session_factory, with_seller(make_new_decision, "someone-else"))
    result = erase_seller(session_factory, "erase-me")
    assert (result.decisions, result.work_items) == (3, 2)
    assert counts(session_factory) == (1, 0)
    assert get_decision(session_factory, kept.id) is not None


def test_redacted_export_pseudonymizes_sellers_and_drops_notes(
    session_factory: sessionmaker[Session],
) -> None:
    reviewed(session_factory, "seller-7")
    record_decision(session_factory, with_seller(make_new_decision, "seller-7"))
    plain, redacted = io.StringIO(), io.StringIO()
    assert export_decisions(session_factory, plain, redact=False) == 2
    assert export_decisions(session_factory, redacted, redact=True, pseudonym_key="k") == 2
    assert "seller-7" in plain.getvalue() and "555-0100 in the photo" in plain.getvalue()
    for personal in ("seller-7", "in the photo", "555-0100", '"ana"', "Brown full-grain"):
        assert personal not in redacted.getvalue(), personal
    rows = [json.loads(line) for line in redacted.getvalue().splitlines()]
    assert rows[0]["seller_id"] == rows[1]["seller_id"], "one seller, one pseudonym"
    assert rows[0]["seller_id"] == rows[0]["listing"]["seller_id"]
    assert rows[0]["review"][0]["human_action"] == "block"


def test_pseudonyms_without_a_key_differ_between_exports() -> None:
    record = {"seller_id": "s", "listing": {"seller_id": "s"}, "review": []}
    assert redact_record(record, b"one")["seller_id"] != redact_record(record, b"two")["seller_id"]


def test_commands_work_on_the_service_database(tmp_path: Path, sqlite_url: str) -> None:
    from serving.db import create_db_engine, make_session_factory, upgrade_database

    upgrade_database(sqlite_url)
    engine = create_db_engine(sqlite_url)
    factory = make_session_factory(engine)
    old = reviewed(factory, "cli-seller")
    age(factory, old, days=100)
    record_decision(factory, with_seller(make_new_decision, "cli-seller"))
    database = ["--database-url", sqlite_url]

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LISTINGGUARD_SERVE, *database, *args], capture_output=True, text=True, check=False
        )

    out = tmp_path / "export.jsonl"
    exported = serve("export", "--redact", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "exported 2 decisions (redacted)" in exported.stderr
    assert "cli-seller" not in out.read_text()
    kept = serve("retention", "--days", "90", "--mode", "anonymize")
    assert "anonymized 1 decisions older than 90 days" in kept.stdout, kept.stderr
    erased = serve("erase-seller", "cli-seller")
    assert "erased seller 'cli-seller': 1 decisions, 0 work items" in erased.stdout
    missing = serve("retention")
    assert missing.returncode == 2 and "LISTINGGUARD_RETENTION_DAYS" in missing.stderr
    engine.dispose()

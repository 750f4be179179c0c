"""Data hygiene of the decision store: retention, erasure of one seller, redacted exports.

* **Retention** — decisions older than a cutoff are *anonymized* (the listing's text, attributes
  and seller id are removed, reasons emptied and reviewers' free-text notes dropped; scores,
  bands, actions and versions stay for audit figures) or *deleted* with their review items.
  Decisions whose review item is still open or claimed are left until it is closed.
* **Erasure** — every decision and review item of one seller is deleted, whatever its age or
  status.
* **Exports** — one JSON line per decision with its review items; ``redact`` replaces seller
  and reviewer ids by keyed pseudonyms and drops free text (the listing's description and
  attributes, reviewers' notes). The title is kept: it is what a retrained model reads.
  :func:`redact_record` is the one redaction every export uses.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Final, Literal

from sqlalchemy import ColumnElement, Select, delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from serving.tables import (
    ACTIVE_STATUSES,
    DecisionRecord,
    GoldCase,
    HumanVerdict,
    OutcomeEvent,
    ShadowScore,
    WorkItem,
    WorkItemHistory,
    utc_now,
)

RetentionMode = Literal["anonymize", "delete"]
CHUNK: Final = 500
"""Decisions handled per transaction, so pruning never holds long locks."""

KEPT_LISTING_FIELDS: Final = ("listing_id", "market", "currency", "price", "category")
"""What an anonymized decision keeps of its listing: nothing that describes a person."""


@dataclass(frozen=True)
class HygieneCounts:
    decisions: int
    work_items: int


def apply_retention(
    session_factory: sessionmaker[Session], *, older_than: datetime, mode: RetentionMode
) -> HygieneCounts:
    """Anonymize or delete decisions created before ``older_than``; what was changed."""
    decisions = items = 0
    seen: set[str] = set()
    while chunk := _retention_chunk(session_factory, older_than, mode, seen):
        seen.update(chunk)
        with session_factory.begin() as session:
            # Checked again where it is written: an item may have become active meanwhile.
            idle = DecisionRecord.id.in_(chunk) & DecisionRecord.id.not_in(_active_decisions())
            if mode == "delete":
                items += _delete_items(session, chunk, only_closed=True)
                doomed = select(DecisionRecord.id).where(idle)
                session.execute(delete(ShadowScore).where(ShadowScore.decision_id.in_(doomed)))
                changed = session.execute(delete(DecisionRecord).where(idle))
                decisions += int(getattr(changed, "rowcount", 0) or 0)
            else:
                anonymized, reviewed = _anonymize(session, idle)
                decisions, items = decisions + anonymized, items + reviewed
    return HygieneCounts(decisions=decisions, work_items=items)


def erase_seller(session_factory: sessionmaker[Session], seller_id: str) -> HygieneCounts:
    """Delete every decision and work item of ``seller_id``, and the verdicts and feed events
    of their listings."""
    with session_factory.begin() as session:
        ids = list(
            session.scalars(select(DecisionRecord.id).where(DecisionRecord.seller_id == seller_id))
        )
        listings = select(DecisionRecord.listing_id).where(DecisionRecord.seller_id == seller_id)
        session.execute(delete(HumanVerdict).where(HumanVerdict.listing_id.in_(listings)))
        session.execute(delete(OutcomeEvent).where(OutcomeEvent.listing_id.in_(listings)))
        items = sum(_delete_items(session, ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            session.execute(delete(ShadowScore).where(ShadowScore.decision_id.in_(chunk)))
            session.execute(delete(DecisionRecord).where(DecisionRecord.id.in_(chunk)))
    return HygieneCounts(decisions=len(ids), work_items=items)


def export_decisions(
    session_factory: sessionmaker[Session],
    out: IO[str],
    *,
    redact: bool,
    pseudonym_key: str | None = None,
    since: datetime | None = None,
) -> int:
    """Write decisions (oldest first) as JSON lines to ``out``; how many were written.

    With ``redact`` and no ``pseudonym_key``, a random key is drawn for this export, so its
    pseudonyms cannot be linked to another export's.
    """
    key = (pseudonym_key or secrets.token_hex(16)).encode()
    written = 0
    for record in _export_records(session_factory, since):
        out.write(json.dumps(redact_record(record, key) if redact else record, default=str))
        out.write("\n")
        written += 1
    return written


def redact_record(record: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy without personal data: ids pseudonymized (keyed hash), free text removed."""
    redacted = dict(record)
    redacted["seller_id"] = pseudonym(record.get("seller_id"), key)
    original = record.get("listing") or {}
    listing = {
        name: value for name, value in original.items() if name in (*KEPT_LISTING_FIELDS, "title")
    }
    if "seller_id" in original:
        listing["seller_id"] = pseudonym(original["seller_id"], key)
    redacted["listing"] = listing
    redacted["review"] = [
        {**item, "note": None, "decided_by": pseudonym(item.get("decided_by"), key)}
        for item in record.get("review", [])
    ]
    return redacted


def pseudonym(value: str | None, key: bytes) -> str | None:
    if value is None:
        return None
    return "p-" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:20]


def _retention_chunk(
    session_factory: sessionmaker[Session],
    older_than: datetime,
    mode: RetentionMode,
    seen: set[str],
) -> list[str]:
    query = select(DecisionRecord.id).where(
        DecisionRecord.created_at < older_than, DecisionRecord.id.not_in(_active_decisions())
    )
    if mode == "anonymize":
        query = query.where(DecisionRecord.anonymized_at.is_(None))
    with session_factory() as session:
        ids = list(session.scalars(query.order_by(DecisionRecord.created_at).limit(CHUNK)))
    # A decision that turned active between the read and the write is not picked again.
    return [decision_id for decision_id in ids if decision_id not in seen]


def _active_decisions() -> Select[str]:
    return select(WorkItem.decision_id).where(WorkItem.status.in_(ACTIVE_STATUSES))


def _anonymize(session: Session, which: ColumnElement[bool]) -> tuple[int, int]:
    """Strip the decisions ``which`` selects; (decisions, review items) changed."""
    now = utc_now()
    ids = []
    for record in session.scalars(select(DecisionRecord).where(which).with_for_update()):
        ids.append(record.id)
        # Identical content scored again is a new decision, not a replay of the stripped one.
        record.idempotency_key = f"anonymized-{record.id}"
        record.listing = {
            name: record.listing[name] for name in KEPT_LISTING_FIELDS if name in record.listing
        }
        reasons: dict[str, list[object]] = {
            label: [] for label in record.explanation.get("reasons", {})
        }
        record.explanation = {**record.explanation, "reasons": reasons}
        record.seller_id = None
        record.anonymized_at = now
    result = session.execute(
        update(WorkItem).where(WorkItem.decision_id.in_(ids)).values(note=None)
    )
    items = select(WorkItem.id).where(WorkItem.decision_id.in_(ids))
    session.execute(
        update(WorkItemHistory).where(WorkItemHistory.item_id.in_(items)).values(reason=None)
    )
    return len(ids), int(getattr(result, "rowcount", 0) or 0)


def _delete_items(session: Session, ids: list[str], *, only_closed: bool = False) -> int:
    doomed = select(WorkItem.id).where(WorkItem.decision_id.in_(ids))
    if only_closed:
        doomed = doomed.where(WorkItem.status.not_in(ACTIVE_STATUSES))
    # A gold case of erased content goes with it (it would point at nothing).
    gold = or_(GoldCase.decision_id.in_(ids), GoldCase.source_item_id.in_(doomed))
    session.execute(delete(GoldCase).where(gold))
    session.execute(delete(WorkItemHistory).where(WorkItemHistory.item_id.in_(doomed)))
    result = session.execute(delete(WorkItem).where(WorkItem.id.in_(doomed)))
    return int(getattr(result, "rowcount", 0) or 0)


def _export_records(
    session_factory: sessionmaker[Session], since: datetime | None
) -> Iterator[dict[str, Any]]:
    after: tuple[datetime, str] | None = None
    while True:
        with session_factory() as session:
            query = select(DecisionRecord).order_by(DecisionRecord.created_at, DecisionRecord.id)
            if since is not None:
                query = query.where(DecisionRecord.created_at >= since)
            if after is not None:
                query = query.where(
                    (DecisionRecord.created_at > after[0])
                    | ((DecisionRecord.created_at == after[0]) & (DecisionRecord.id > after[1]))
                )
            records = list(session.scalars(query.limit(CHUNK)))
            reviews = _reviews_of(session, [record.id for record in records])
        if not records:
            return
        for record in records:
            yield _export_row(record, reviews.get(record.id, []))
        after = (records[-1].created_at, records[-1].id)


def _reviews_of(session: Session, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    reviews: dict[str, list[dict[str, Any]]] = {}
    items = session.scalars(
        select(WorkItem).where(WorkItem.decision_id.in_(ids)).order_by(WorkItem.created_at)
    )
    for item in items:
        reviews.setdefault(item.decision_id, []).append(
            {
                "id": item.id,
                "kind": item.kind,
                "status": item.status,
                "decided_by": item.decided_by,
                "human_action": item.human_action,
                "reason_code": item.reason_code,
                "policy_clause": item.policy_clause,
                "note": item.note,
                "decided_at": item.decided_at,
            }
        )
    return reviews


def _export_row(record: DecisionRecord, review: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "decision_id": record.id,
        "listing_id": record.listing_id,
        "seller_id": record.seller_id,
        "created_at": record.created_at,
        "anonymized_at": record.anonymized_at,
        "market": record.market,
        "listing": record.listing,
        "scores": record.scores,
        "bands": record.bands,
        "regulated_category": record.regulated_category,
        "action": record.action,
        "model_version": record.model_version,
        "threshold_set_id": record.threshold_set_id,
        "policy_version": record.policy_version,
        "review": review,
    }

"""Decided work as labeled cases for retraining, in the loader's format (``feedback`` mapping).

Every decided review, senior, appeal, second-review and QA item becomes one JSON line: the
listing as it was judged, its labels (1, 0, or null where the verdict did not judge the label),
where the label came from (``source``; a gold case is flagged on the row of the item it was
made of, ``gold_case_id``, never a second row), and the audit design: a QA item's
``inclusion_probability`` and ``weight`` = 1 / probability make audited automatic decisions
stand for their whole stratum; the other sources were chosen by the model (routed to review,
appealed) and carry weight 1 with a null probability, so a retrainer can tell them apart.

``redact`` replaces seller ids and reviewer names by keyed pseudonyms (stable for one key, so
seller-grouped splits still hold) and drops reviewers' notes. Decisions whose content retention
already stripped are left out.
"""

import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.review_policy import ReviewPolicy
from serving.data_hygiene import pseudonym
from serving.tables import DecisionRecord, GoldCase, WorkItem
from serving.verdict_labels import verdict_labels

EXPORTED_KINDS: Final = ("review", "senior", "appeal", "second", "qa")
LISTING_FIELDS: Final = ("listing_id", "title", "description", "price", "currency", "category",
                         "seller_id", "market", "attributes")  # fmt: skip


def export_labels(
    session_factory: sessionmaker[Session],
    handle: IO[str],
    *,
    review: ReviewPolicy,
    category_label: str | None,
    since: datetime | None = None,
    redact_key: bytes | None = None,
) -> int:
    """Write the labeled cases decided since ``since`` to ``handle``; how many."""
    written = 0
    with session_factory() as session:
        for row in _rows(session, review, category_label, since, redact_key):
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            written += 1
    return written


def _rows(
    session: Session,
    review: ReviewPolicy,
    category_label: str | None,
    since: datetime | None,
    key: bytes | None,
) -> Iterator[dict[str, Any]]:
    items = (
        select(WorkItem, DecisionRecord)
        .join(DecisionRecord, WorkItem.decision_id == DecisionRecord.id)
        .where(WorkItem.kind.in_(EXPORTED_KINDS), WorkItem.status == "decided")
        .where(WorkItem.human_action.is_not(None), DecisionRecord.anonymized_at.is_(None))
        .order_by(WorkItem.decided_at, WorkItem.id)
    )
    if since is not None:
        items = items.where(WorkItem.decided_at >= since)
    gold = dict(session.execute(select(GoldCase.source_item_id, GoldCase.id)).all())
    for item, decision in session.execute(items):
        labels = verdict_labels(item, decision, review)
        probability = item.inclusion_probability if item.kind == "qa" else None
        yield _row(decision, labels, category_label, key) | {
            "source": item.kind,
            "item_id": item.id,
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
            "decided_by": _name(item.decided_by, key),
            "action": item.human_action,
            "reason_code": item.reason_code,
            "policy_clause": item.policy_clause,
            "note": None if key is not None else item.note,
            "inclusion_probability": probability,
            "weight": 1.0 / probability if probability else 1.0,
            "gold_case_id": gold.get(item.id),
        }


def _row(
    decision: DecisionRecord,
    labels: dict[str, bool | None],
    category_label: str | None,
    key: bytes | None,
) -> dict[str, Any]:
    listing = {name: decision.listing.get(name) for name in LISTING_FIELDS}
    listing["attributes"] = dict(listing["attributes"] or {})
    listing["seller_id"] = _name(listing["seller_id"], key)
    values: dict[str, Any] = {
        label: None if found is None else int(found) for label, found in labels.items()
    }
    if category_label is not None:
        violated = labels.get(category_label)
        values[f"{category_label}_category"] = decision.regulated_category if violated else None
    return listing | {
        "labels": values,
        "market": decision.market,
        "content_hash": decision.content_hash,
        "model_version": decision.model_version,
        "policy_version": decision.policy_version,
    }


def _name(value: str | None, key: bytes | None) -> str | None:
    """``value``, or when redacting its keyed pseudonym (the same as ``export --redact``'s)."""
    return value if key is None else pseudonym(value, key)

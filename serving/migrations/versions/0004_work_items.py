"""Work items of several kinds with history, verdicts, an event feed; API keys and audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``review_items`` rows move to ``work_items`` (kind ``review``). An old item "decided" with
``escalate`` was never handled by anyone: when it is still its listing's latest item it becomes
``escalated`` with a new open ``senior`` item continuing it; otherwise (later work replaced it)
``superseded``. The downgrade maps escalated items back to decided with ``escalate`` and drops
senior items, which the old schema cannot hold. The old priority (a probability) becomes the
risk factor of the new order: due 24 hours after queueing, served up to 6 hours earlier at risk
1 (the defaults of ``models.review_policy``). Free-text reasons are kept as notes under reason
code ``legacy``. Every migrated item gets one history row (``migrated``); decided allow/block
items become the listings' human verdicts. Literal values are spelled out, as in 0001.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_ITEM_WHERE = "status IN ('open', 'claimed', 'held', 'escalated') AND kind != 'qa'"
OLD_ACTIVE_ITEM_WHERE = "status IN ('open', 'claimed')"
LEGACY_SLA = timedelta(hours=24)
LEGACY_RISK_HOURS = 6.0
LEGACY_LEASE = timedelta(seconds=900)


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _big_id() -> sa.BigInteger:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create_work_items() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("listing_id", sa.String(length=200), nullable=False),
        sa.Column("seller_id", sa.String(length=200), nullable=True),
        sa.Column("parent_id", sa.String(length=32), nullable=True),
        sa.Column("excluded_reviewer", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("priority_factors", _json(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("order_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("human_action", sa.String(length=16), nullable=True),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("policy_clause", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'held', 'escalated', 'decided', 'superseded', "
            "'withdrawn')",
            name=op.f("ck_work_items_status"),
        ),
        sa.CheckConstraint(
            "kind IN ('review', 'senior', 'appeal', 'qa', 'gold')", name=op.f("ck_work_items_kind")
        ),
        sa.CheckConstraint(
            "human_action IS NULL OR human_action IN ('allow', 'block')",
            name=op.f("ck_work_items_human_action"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_work_items_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    op.create_index(op.f("ix_work_items_decision_id"), "work_items", ["decision_id"])
    op.create_index(op.f("ix_work_items_seller_id"), "work_items", ["seller_id"])
    op.create_index(op.f("ix_work_items_parent_id"), "work_items", ["parent_id"])
    op.create_index(
        "ix_work_items_kind_status_order_at", "work_items", ["kind", "status", "order_at"]
    )
    op.create_index(
        "ix_work_items_status_lease_expires_at", "work_items", ["status", "lease_expires_at"]
    )
    op.create_index(
        "uq_work_items_listing_id_kind_active",
        "work_items",
        ["listing_id", "kind"],
        unique=True,
        sqlite_where=sa.text(ACTIVE_ITEM_WHERE),
        postgresql_where=sa.text(ACTIVE_ITEM_WHERE),
    )


def _create_feed_tables() -> None:
    op.create_table(
        "work_item_history",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["work_items.id"], name=op.f("fk_work_item_history_item_id_work_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_history")),
    )
    op.create_index(op.f("ix_work_item_history_item_id"), "work_item_history", ["item_id"])
    op.create_table(
        "human_verdicts",
        sa.Column("listing_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", "content_hash", name=op.f("pk_human_verdicts")),
    )
    op.create_table(
        "events",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("listing_id", sa.String(length=200), nullable=True),
        sa.Column("seller_id", sa.String(length=200), nullable=True),
        sa.Column("item_id", sa.String(length=32), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_listing_id"), "events", ["listing_id"])
    op.create_index(op.f("ix_events_seller_id"), "events", ["seller_id"])
    op.create_table(
        "strikes",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("seller_id", sa.String(length=200), nullable=False),
        sa.Column("listing_id", sa.String(length=200), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=True),
        sa.Column("labels", _json(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "source IN ('human', 'appeal', 'automatic')", name=op.f("ck_strikes_source")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strikes")),
    )
    op.create_index(op.f("ix_strikes_seller_id"), "strikes", ["seller_id"])


def _create_access_tables() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('pipeline', 'reviewer', 'senior_reviewer', 'qa', 'admin')",
            name=op.f("ck_api_keys_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _copy_review_items() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    old = sa.Table("review_items", meta, autoload_with=bind)
    decisions = sa.Table("decisions", meta, autoload_with=bind)
    new = sa.Table("work_items", meta, autoload_with=bind)
    history = sa.Table("work_item_history", meta, autoload_with=bind)
    verdicts = sa.Table("human_verdicts", meta, autoload_with=bind)
    rows = bind.execute(
        sa.select(old, decisions.c.seller_id, decisions.c.content_hash)
        .join(decisions, old.c.decision_id == decisions.c.id)
        .order_by(old.c.created_at, old.c.id)
    ).mappings()
    items, latest_item, latest_verdict = [], {}, {}
    for row in rows:
        item = _migrated(row)
        if row["reviewer_action"] == "escalate":
            item["status"] = "superseded"  # unless it is still the listing's latest, below
        elif item["status"] == "decided":
            latest_verdict[(row["listing_id"], row["content_hash"])] = (item, row["content_hash"])
        latest_item[row["listing_id"]] = (item, row["reviewer_action"])
        items.append(item)
    for item, action in list(latest_item.values()):
        if action == "escalate":  # never handled since: escalated, with a senior item
            item.update(status="escalated", decided_by=None, decided_at=None)
            items.append(_senior_item(item))
    for item in items:
        bind.execute(new.insert().values(**item))
        bind.execute(
            history.insert().values(
                item_id=item["id"],
                at=item["updated_at"],
                actor="migration",
                event="migrated",
                from_status=None,
                to_status=item["status"],
                reason="moved from review_items (revision 0004)",
            )
        )
    for item, content_hash in latest_verdict.values():
        bind.execute(
            verdicts.insert().values(
                listing_id=item["listing_id"],
                content_hash=content_hash,
                action=item["human_action"],
                item_id=item["id"],
                decided_by=item["decided_by"] or "unknown",
                reason_code="legacy",
                decided_at=item["decided_at"] or item["updated_at"],
            )
        )


def _senior_item(escalated: dict[str, Any]) -> dict[str, Any]:
    """An open senior item continuing a legacy escalation."""
    return {
        **escalated,
        "id": uuid.uuid4().hex,
        "kind": "senior",
        "parent_id": escalated["id"],
        "status": "open",
        "claimed_by": None,
        "claimed_at": None,
        "lease_expires_at": None,
    }


def _migrated(row: Any) -> dict[str, Any]:
    created = _aware(row["created_at"])
    assert created is not None
    claimed = _aware(row["claimed_at"])
    due = created + LEGACY_SLA
    risk = min(1.0, max(0.0, float(row["priority"])))
    action = row["reviewer_action"]
    return {
        "id": row["id"],
        "kind": "review",
        "decision_id": row["decision_id"],
        "listing_id": row["listing_id"],
        "seller_id": row["seller_id"],
        "parent_id": None,
        "excluded_reviewer": None,
        "status": row["status"],
        "priority": LEGACY_RISK_HOURS * risk,
        "priority_factors": {"risk": risk},
        "due_at": due,
        "order_at": due - timedelta(hours=LEGACY_RISK_HOURS * risk),
        "created_at": created,
        "updated_at": _aware(row["updated_at"]),
        "claimed_by": row["claimed_by"],
        "claimed_at": claimed,
        "lease_expires_at": (
            claimed + LEGACY_LEASE if row["status"] == "claimed" and claimed else None
        ),
        "held_until": None,
        "decided_by": row["decided_by"],
        "human_action": action if action in ("allow", "block") else None,
        "reason_code": "legacy" if action else None,
        "policy_clause": None,
        "note": row["reviewer_reason"] or None,
        "decided_at": _aware(row["decided_at"]),
    }


def _drop_review_items() -> None:
    op.drop_index("uq_review_items_listing_id_active", table_name="review_items")
    op.drop_index("ix_review_items_status_priority_created_at", table_name="review_items")
    op.drop_index(op.f("ix_review_items_decision_id"), table_name="review_items")
    op.drop_table("review_items")


def upgrade() -> None:
    _create_work_items()
    _create_feed_tables()
    _create_access_tables()
    _copy_review_items()
    _drop_review_items()


def _create_old_review_items() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("listing_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("reviewer_action", sa.String(length=16), nullable=True),
        sa.Column("reviewer_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "reviewer_action IS NULL OR reviewer_action IN ('allow', 'block', 'escalate')",
            name=op.f("ck_review_items_reviewer_action"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'decided', 'superseded')",
            name=op.f("ck_review_items_status"),
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_review_items_decision_id_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
    )
    op.create_index(op.f("ix_review_items_decision_id"), "review_items", ["decision_id"])
    op.create_index(
        "ix_review_items_status_priority_created_at",
        "review_items",
        ["status", "priority", "created_at"],
    )
    op.create_index(
        "uq_review_items_listing_id_active",
        "review_items",
        ["listing_id"],
        unique=True,
        sqlite_where=sa.text(OLD_ACTIVE_ITEM_WHERE),
        postgresql_where=sa.text(OLD_ACTIVE_ITEM_WHERE),
    )


OLD_STATUS = {
    "open": "open",
    "claimed": "claimed",
    "held": "claimed",
    "escalated": "decided",
    "decided": "decided",
    "superseded": "superseded",
    "withdrawn": "superseded",
}


def downgrade() -> None:
    """Review items go back (held as claimed, escalated as decided with ``escalate``); senior
    items, history, verdicts and events have no place in the old schema and are dropped."""
    _create_old_review_items()
    bind = op.get_bind()
    meta = sa.MetaData()
    new = sa.Table("work_items", meta, autoload_with=bind)
    old = sa.Table("review_items", meta, autoload_with=bind)
    for row in bind.execute(sa.select(new).where(new.c.kind == "review")).mappings():
        factors = row["priority_factors"] or {}
        bind.execute(
            old.insert().values(
                id=row["id"],
                decision_id=row["decision_id"],
                listing_id=row["listing_id"],
                status=OLD_STATUS[row["status"]],
                priority=float(factors.get("risk", 0.0)),
                created_at=_aware(row["created_at"]),
                updated_at=_aware(row["updated_at"]),
                claimed_by=row["claimed_by"],
                claimed_at=_aware(row["claimed_at"]),
                decided_by=row["decided_by"],
                reviewer_action="escalate" if row["status"] == "escalated" else row["human_action"],
                reviewer_reason=row["note"],
                decided_at=_aware(row["decided_at"]),
            )
        )
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
    op.drop_index(op.f("ix_strikes_seller_id"), table_name="strikes")
    op.drop_table("strikes")
    op.drop_index(op.f("ix_events_seller_id"), table_name="events")
    op.drop_index(op.f("ix_events_listing_id"), table_name="events")
    op.drop_table("events")
    op.drop_table("human_verdicts")
    op.drop_index(op.f("ix_work_item_history_item_id"), table_name="work_item_history")
    op.drop_table("work_item_history")
    for name in (
        "uq_work_items_listing_id_kind_active",
        "ix_work_items_status_lease_expires_at",
        "ix_work_items_kind_status_order_at",
        op.f("ix_work_items_parent_id"),
        op.f("ix_work_items_seller_id"),
        op.f("ix_work_items_decision_id"),
    ):
        op.drop_index(name, table_name="work_items")
    op.drop_table("work_items")

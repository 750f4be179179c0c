"""Initial schema: recorded decisions and the review queue.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Literal values are spelled out rather than imported from ``serving.tables`` so that this
revision keeps describing the schema as it was when later code changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_ITEM_WHERE = "status IN ('open', 'claimed')"


def _json() -> sa.JSON:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_decisions() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("listing_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("market", sa.String(length=16), nullable=False),
        sa.Column("listing", _json(), nullable=False),
        sa.Column("scores", _json(), nullable=False),
        sa.Column("bands", _json(), nullable=False),
        sa.Column("regulated_category", sa.String(length=64), nullable=True),
        sa.Column("category_scores", _json(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("explanation", _json(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("threshold_set_id", sa.String(length=200), nullable=False),
        sa.Column("policy_version", sa.String(length=200), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.CheckConstraint(
            "action IN ('allow', 'review', 'block')", name=op.f("ck_decisions_action")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_decisions_idempotency_key")),
    )
    op.create_index(op.f("ix_decisions_listing_id"), "decisions", ["listing_id"])


def _create_review_items() -> None:
    op.create_table(
        "review_items",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("listing_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("claimed_at", _timestamp(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("reviewer_action", sa.String(length=16), nullable=True),
        sa.Column("reviewer_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", _timestamp(), nullable=True),
        sa.CheckConstraint(
            "reviewer_action IS NULL OR reviewer_action IN ('allow', 'block', 'escalate')",
            name=op.f("ck_review_items_reviewer_action"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'decided')", name=op.f("ck_review_items_status")
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
        sqlite_where=sa.text(ACTIVE_ITEM_WHERE),
        postgresql_where=sa.text(ACTIVE_ITEM_WHERE),
    )


def upgrade() -> None:
    _create_decisions()
    _create_review_items()


def downgrade() -> None:
    op.drop_index("uq_review_items_listing_id_active", table_name="review_items")
    op.drop_index("ix_review_items_status_priority_created_at", table_name="review_items")
    op.drop_index(op.f("ix_review_items_decision_id"), table_name="review_items")
    op.drop_table("review_items")
    op.drop_index(op.f("ix_decisions_listing_id"), table_name="decisions")
    op.drop_table("decisions")

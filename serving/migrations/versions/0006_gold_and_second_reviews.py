"""Gold cases and blind second reviews: the ``gold_cases`` table and the ``second`` item kind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

SQLite cannot alter a CHECK constraint: the work-items table is rebuilt (Alembic's batch copy)
with foreign keys off and checked before commit (:func:`serving.db.migration_connection`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = "kind IN ('review', 'senior', 'appeal', 'qa', 'gold')"
KINDS_AFTER = "kind IN ('review', 'senior', 'appeal', 'qa', 'gold', 'second')"
ACTIVE = "status IN ('open', 'claimed', 'held', 'escalated')"
ACTIVE_BEFORE = ACTIVE + " AND kind != 'qa'"
ACTIVE_AFTER = ACTIVE + " AND kind NOT IN ('qa', 'gold')"
"""One gold case is served to several reviewers at once: gold items leave the one-active-item
index, as qa items did."""


def upgrade() -> None:
    _replace_kind_check(KINDS_AFTER)
    _replace_active_index(ACTIVE_AFTER)
    op.create_table(
        "gold_cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("source_item_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "violations", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("policy_clause", sa.String(length=200), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("action IN ('allow', 'block')", name=op.f("ck_gold_cases_action")),
        sa.CheckConstraint(
            "source IN ('qa', 'appeal', 'senior')", name=op.f("ck_gold_cases_source")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_gold_cases_decision_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["source_item_id"],
            ["work_items.id"],
            name=op.f("fk_gold_cases_source_item_id_work_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_cases")),
        sa.UniqueConstraint("source_item_id", name=op.f("uq_gold_cases_source_item_id")),
    )
    op.create_index(op.f("ix_gold_cases_decision_id"), "gold_cases", ["decision_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_gold_cases_decision_id"), table_name="gold_cases")
    op.drop_table("gold_cases")
    # Second reviews have no kind before this revision, and gold items no case (and may be
    # active several to a listing, which the older index forbids): they go with it.
    items = "SELECT id FROM work_items WHERE kind IN ('second', 'gold')"
    op.execute(f"DELETE FROM work_item_history WHERE item_id IN ({items})")
    op.execute("DELETE FROM work_items WHERE kind IN ('second', 'gold')")
    _replace_active_index(ACTIVE_BEFORE)
    _replace_kind_check(KINDS_BEFORE)


def _replace_kind_check(condition: str) -> None:
    with op.batch_alter_table("work_items") as batch:
        batch.drop_constraint(op.f("ck_work_items_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_work_items_kind"), sa.text(condition))


def _replace_active_index(condition: str) -> None:
    op.drop_index("uq_work_items_listing_id_kind_active", table_name="work_items")
    op.create_index(
        "uq_work_items_listing_id_kind_active",
        "work_items",
        ["listing_id", "kind"],
        unique=True,
        sqlite_where=sa.text(condition),
        postgresql_where=sa.text(condition),
    )

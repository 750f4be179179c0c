"""QA audit sampling: audit strata on decisions and decided items, inclusion probabilities and
verdicts on qa items.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Existing rows get no stratum: they were decided before sampling existed, so they are outside
every audit's population.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("audit_stratum", sa.String(length=40), nullable=True))
        batch.create_index(op.f("ix_decisions_audit_stratum"), ["audit_stratum"])
    with op.batch_alter_table("work_items") as batch:
        batch.add_column(sa.Column("audit_stratum", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("inclusion_probability", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column(
                "qa_labels",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
        batch.create_index(op.f("ix_work_items_audit_stratum"), ["audit_stratum"])


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 too): a batch rebuild of these tables
    # would drop tables that others reference, which SQLite's foreign keys refuse.
    op.drop_index(op.f("ix_work_items_audit_stratum"), table_name="work_items")
    op.drop_index(op.f("ix_decisions_audit_stratum"), table_name="decisions")
    for table, column in (
        ("work_items", "qa_labels"),
        ("work_items", "inclusion_probability"),
        ("work_items", "audit_stratum"),
        ("decisions", "audit_stratum"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

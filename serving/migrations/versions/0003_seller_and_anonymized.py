"""Decisions carry their seller (for erasure on request) and when they were anonymized.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

``seller_id`` is backfilled from each stored listing document.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = {
    "sqlite": "UPDATE decisions SET seller_id = json_extract(listing, '$.seller_id')",
    "postgresql": "UPDATE decisions SET seller_id = listing ->> 'seller_id'",
}


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("seller_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("anonymized_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_decisions_seller_id"), ["seller_id"])
        batch.create_index(op.f("ix_decisions_created_at"), ["created_at"])
    op.execute(BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index(op.f("ix_decisions_created_at"))
        batch.drop_index(op.f("ix_decisions_seller_id"))
        batch.drop_column("anonymized_at")
        batch.drop_column("seller_id")

"""An index for a listing's active work items: ``(listing_id, status)``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Scoring reads the listing's active items to queue or supersede; the partial unique index does
not serve that query (its predicate also names the kind), so SQLite walked every active item.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_work_items_listing_id_status", "work_items", ["listing_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_work_items_listing_id_status", table_name="work_items")

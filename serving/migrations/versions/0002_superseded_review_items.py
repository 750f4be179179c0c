"""Review items can be superseded: the listing was re-scored and no longer needs review.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUS_CHECK = "ck_review_items_status"


def _replace_status_check(statuses: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{status}'" for status in statuses)
    with op.batch_alter_table("review_items") as batch:
        batch.drop_constraint(op.f(STATUS_CHECK), type_="check")
        batch.create_check_constraint(op.f(STATUS_CHECK), f"status IN ({allowed})")


def upgrade() -> None:
    _replace_status_check(("open", "claimed", "decided", "superseded"))


def downgrade() -> None:
    op.execute("UPDATE review_items SET status = 'decided' WHERE status = 'superseded'")
    _replace_status_check(("open", "claimed", "decided"))

"""Shadow scores: what a challenger scored, beside the champion's decision.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "shadow_scores",
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("threshold_set_id", sa.String(length=200), nullable=False),
        sa.Column("scores", JSON_DOCUMENT, nullable=False),
        sa.Column("bands", JSON_DOCUMENT, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN ('allow', 'review', 'block')", name=op.f("ck_shadow_scores_action")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_shadow_scores_decision_id_decisions"),
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_shadow_scores")),
    )
    op.create_index(op.f("ix_shadow_scores_created_at"), "shadow_scores", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_shadow_scores_created_at"), table_name="shadow_scores")
    op.drop_table("shadow_scores")

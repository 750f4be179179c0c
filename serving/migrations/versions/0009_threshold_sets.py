"""Threshold sets stored once: decisions stop repeating their edges and guarantees.

Every decision's explanation carried its model's band edges and promises per label (1.5 KB of a
2.6 KB row). They are now a row of ``threshold_sets`` per (model version, threshold set), which
decisions already name. The upgrade fills it from the decisions stored so far (one decision's
edges per pair); those decisions keep their copy. The downgrade drops the table: decisions made
since have no copy, so their answers would lack the edges — downgrade only before new ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    threshold_sets = op.create_table(
        "threshold_sets",
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("threshold_set_id", sa.String(length=200), nullable=False),
        sa.Column("edges", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "model_version", "threshold_set_id", name=op.f("pk_threshold_sets")
        ),
    )
    decisions = sa.table(
        "decisions",
        sa.column("id", sa.String),
        sa.column("model_version", sa.String),
        sa.column("threshold_set_id", sa.String),
        sa.column("explanation", JSON_DOCUMENT),
    )
    connection = op.get_bind()
    first = sa.select(sa.func.min(decisions.c.id)).group_by(
        decisions.c.model_version, decisions.c.threshold_set_id
    )
    rows = connection.execute(
        sa.select(
            decisions.c.model_version, decisions.c.threshold_set_id, decisions.c.explanation
        ).where(decisions.c.id.in_(first))
    ).all()
    now = datetime.now(UTC)
    values = [
        {
            "model_version": model_version,
            "threshold_set_id": threshold_set_id,
            "edges": (explanation or {}).get("thresholds") or {},
            "created_at": now,
        }
        for model_version, threshold_set_id, explanation in rows
    ]
    if values:
        op.bulk_insert(threshold_sets, values)


def downgrade() -> None:
    op.drop_table("threshold_sets")

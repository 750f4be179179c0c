"""Threshold sets stored once: decisions stop repeating their edges and guarantees.

Every decision's explanation carried its model's band edges and promises per label (1.5 KB of a
2.6 KB row). They are now a row of ``threshold_sets`` per (model version, threshold set), which
decisions already name. The upgrade fills it from the decisions stored so far (one decision's
edges per pair); those decisions keep their copy. The downgrade first writes each set's edges
back into the explanation of every decision stored without a copy (those made since the
upgrade), then drops the table: the code before 0009 reads them from there.

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
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(_EDGES_BACK_POSTGRESQL))
    else:
        connection.execute(sa.text(_EDGES_BACK_SQLITE))
    op.drop_table("threshold_sets")


_WITHOUT_EDGES_SQLITE = "json_extract(decisions.explanation, '$.thresholds') IS NULL"
_SET_OF_DECISION = """
    threshold_sets.model_version = decisions.model_version
    AND threshold_sets.threshold_set_id = decisions.threshold_set_id"""
_EDGES_BACK_SQLITE = f"""
UPDATE decisions
SET explanation = json_set(
    decisions.explanation,
    '$.thresholds',
    json((SELECT threshold_sets.edges FROM threshold_sets WHERE {_SET_OF_DECISION}))
)
WHERE {_WITHOUT_EDGES_SQLITE}
  AND EXISTS (SELECT 1 FROM threshold_sets WHERE {_SET_OF_DECISION})"""
_EDGES_BACK_POSTGRESQL = f"""
UPDATE decisions
SET explanation = decisions.explanation::jsonb
    || jsonb_build_object('thresholds', threshold_sets.edges::jsonb)
FROM threshold_sets
WHERE {_SET_OF_DECISION}
  AND COALESCE(decisions.explanation::jsonb -> 'thresholds', 'null') = 'null'"""

"""Cheaper decision inserts on PostgreSQL: documents kept as ``json``, no stratum index.

Every scoring writes a decision row; on PostgreSQL its five documents (listing, scores, bands,
category scores, explanation) were ``jsonb``, which the server converts into its binary form
on every insert, and nothing queries inside them (they are read back whole). As ``json`` they
are stored as the text written, checked for syntax: a ``COPY`` of 256 decisions took 9.6 ms of
the server's time with ``jsonb`` and 7.5 ms with ``json`` (docs/results.md). The index on
``decisions.audit_stratum`` goes: every decision has a stratum (a handful of values), and every
query naming it also ranges ``created_at``, which has its own index. SQLite stores JSON as text
already; there only the index goes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENTS = ("listing", "scores", "bands", "category_scores", "explanation")


def _documents_as(kind: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    changes = ", ".join(
        f"ALTER COLUMN {column} TYPE {kind} USING {column}::{kind}" for column in DOCUMENTS
    )
    op.execute(f"ALTER TABLE decisions {changes}")


def upgrade() -> None:
    op.drop_index("ix_decisions_audit_stratum", table_name="decisions")
    _documents_as("json")


def downgrade() -> None:
    _documents_as("jsonb")
    op.create_index("ix_decisions_audit_stratum", "decisions", ["audit_stratum"])

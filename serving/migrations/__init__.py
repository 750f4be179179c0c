"""Alembic migrations of the serving database."""

"""Alembic revision scripts of the serving database, one per schema change."""

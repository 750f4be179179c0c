"""Alembic environment of the serving database.

Where the database is comes from the caller, in this order: a connection handed over in
``config.attributes["connection"]`` (what :func:`serving.db.upgrade_database` does), the
``sqlalchemy.url`` option set programmatically, ``-x url=...`` on the command line, or the
``LISTINGGUARD_DATABASE_URL`` environment variable.
"""

import os

from alembic import context
from sqlalchemy import Connection

from serving.db import create_db_engine, migration_connection
from serving.tables import Base

target_metadata = Base.metadata


def _database_url() -> str:
    url = (
        context.config.get_main_option("sqlalchemy.url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("LISTINGGUARD_DATABASE_URL")
    )
    if not url:
        raise RuntimeError(
            "no database URL: pass -x url=..., set LISTINGGUARD_DATABASE_URL, "
            "or call serving.db.upgrade_database(url)"
        )
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_offline() -> None:
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    given = context.config.attributes.get("connection")
    if isinstance(given, Connection):
        _configure(given)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_db_engine(_database_url())
    try:
        with migration_connection(engine) as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()

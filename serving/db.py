"""Database engines, sessions and programmatic Alembic migrations for SQLite and PostgreSQL.

The Alembic configuration ships inside the ``serving`` package and is located relative to this
file, so migrations run the same from a source checkout, an installed wheel or any working
directory. The database URL is always the caller's; nothing is read from the ini file.
"""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

PACKAGE_DIR: Final = Path(__file__).resolve().parent
ALEMBIC_INI: Final = PACKAGE_DIR / "alembic.ini"
MIGRATIONS_DIR: Final = PACKAGE_DIR / "migrations"

DEFAULT_TIMEOUT_S: Final = 5.0
POOL_SIZE: Final = 5
POOL_MAX_OVERFLOW: Final = 10
POSTGRES_POOL_RECYCLE_S: Final = 1800
_ORJSON_OPTIONS: Final = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
MIGRATION_TIMEOUT_S: Final = 300.0
"""Migrations may rewrite whole tables: they get a longer statement timeout than requests."""


def create_db_engine(
    url: str | URL, *, timeout_s: float = DEFAULT_TIMEOUT_S, echo: bool = False
) -> Engine:
    """An engine for ``url``: SQLite (file created with its folder) or PostgreSQL via psycopg 3.

    ``timeout_s`` bounds each way a call can wait on the database: connecting, waiting for a
    pooled connection, a statement or a lock (PostgreSQL), a writer's lock (SQLite's busy
    timeout). SQLite connections get foreign keys switched on and WAL journaling. PostgreSQL
    connections are checked before use (a server restart otherwise fails one request); TCP
    keepalives (idle connections) and ``tcp_user_timeout`` (unacknowledged data) notice a dead
    peer. A server that accepts data but never answers is bounded only by the caller's deadline.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed, timeout_s=timeout_s, echo=echo)
    timeout_ms = int(timeout_s * 1000)
    return create_engine(
        parsed,
        echo=echo,
        json_serializer=json_text,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_MAX_OVERFLOW,
        pool_timeout=timeout_s,
        pool_recycle=POSTGRES_POOL_RECYCLE_S,
        connect_args={
            "connect_timeout": max(1, round(timeout_s)),
            "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 3,
            "keepalives_count": 3,
            # Sent data left unacknowledged this long (a lost network) fails the connection.
            "tcp_user_timeout": max(timeout_ms * 2, 10_000),
        },
    )


def _create_sqlite_engine(url: URL, *, timeout_s: float, echo: bool) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    on_file = bool(database) and database != ":memory:"
    # An in-memory database lives in one connection: no pool to size.
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_MAX_OVERFLOW, "pool_timeout": timeout_s}
    engine = create_engine(
        url,
        echo=echo,
        json_serializer=json_text,
        connect_args={"timeout": timeout_s},
        **(pool if on_file else {}),
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def json_text(value: Any) -> str:
    """JSON columns written with orjson, several times faster on the write path; numpy values
    and non-string keys as the standard library writes them, and anything else orjson refuses
    (an integer above 64 bits) through the standard library itself."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit (no expiry)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def single_read(session_factory: sessionmaker[Session]) -> Iterator[Connection]:
    """A Core connection of ``session_factory``'s engine for one read statement, without an ORM
    session. On PostgreSQL in autocommit: the pool's ping and the statement are its round trips,
    where a transaction adds a ``BEGIN`` and a ``ROLLBACK`` (the isolation level is reset when
    the connection returns to the pool). SQLite opens no transaction for a read, and switching
    its isolation level costs a pragma either way."""
    engine = session_factory.kw.get("bind")
    if not isinstance(engine, Engine):
        raise TypeError(f"single_read needs a session factory bound to an Engine, not {engine!r}")
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def database_reachable(engine: Engine) -> bool:
    """Whether a connection can be opened and answers ``SELECT 1``."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def alembic_config(url: str | URL) -> Config:
    """The packaged Alembic configuration, pointed at ``url``."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    rendered = make_url(url).render_as_string(hide_password=False)
    # ConfigParser interpolates '%', which URL-encoded passwords contain.
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the newest)."""
    _run_with_connection(url, command.upgrade, revision)


def downgrade_database(url: str | URL, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` drops every table)."""
    _run_with_connection(url, command.downgrade, revision)


def _run_with_connection(
    url: str | URL, action: Callable[[Config, str], None], revision: str
) -> None:
    # Sharing our engine's connection makes migrations see the same SQLite pragmas as the app.
    engine = create_db_engine(url, timeout_s=MIGRATION_TIMEOUT_S)
    try:
        with migration_connection(engine) as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            action(config, revision)
    finally:
        engine.dispose()


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for migrations; on SQLite with foreign keys off.

    SQLite cannot alter a constraint: the migration rebuilds the table, which others reference.
    SQLite's own recipe is foreign keys off (a pragma that only takes effect outside a
    transaction), rebuild, ``PRAGMA foreign_key_check`` before commit, foreign keys back on.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def head_revision() -> str:
    """The newest migration revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration revisions found in {MIGRATIONS_DIR}")
    return str(head)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is migrated to, or ``None`` if it was never migrated."""
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    return None if revision is None else str(revision)

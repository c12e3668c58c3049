"""Engines and schema upgrades for the job database (SQLite or PostgreSQL).

SQLite is the default: one file in the app's persistent storage, shared by the web process and the worker,
in WAL mode so that readers never wait for the writer. PostgreSQL is for admins who already run one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as create_engine_sync
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: Execution option: on SQLite, open the transaction with ``BEGIN IMMEDIATE`` (take the write lock at once).
IMMEDIATE = "vcfm_sqlite_immediate"

# Key of the PostgreSQL advisory lock held while migrating (any fixed 64-bit number private to this app).
_MIGRATION_LOCK_KEY = 0x7663666D_6A6F6273  # "vcfmjobs"

# How long a SQLite connection waits for another process's write lock before "database is locked".
_SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite:///…`` or ``postgresql+asyncpg://…``).

    For a SQLite file the parent directory is created, and every connection is set up for several processes
    sharing the file: WAL journal, a 10 s busy timeout, ``synchronous=NORMAL`` (durable at every checkpoint,
    safe in WAL), and transactions that SQLAlchemy begins explicitly (see :data:`IMMEDIATE`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif parsed.get_backend_name() == "postgresql":
        # A database restart or an idle-connection reaper must not turn the next claim into an error.
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _set_up_sqlite(engine.sync_engine)
    return engine


def create_sqlite_sync_engine(engine: AsyncEngine, connections: int) -> Engine | None:
    """A synchronous engine (``sqlite3``) on the same SQLite file as ``engine``, for transactions run whole in a
    worker thread; None when ``engine`` is not on a SQLite file (an in-memory database is private to its engine)."""
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or "mode=memory" in database:
        return None
    # One connection per reading thread, none beyond: a thread waits for a free one instead.
    sync = create_engine_sync(url.set(drivername="sqlite+pysqlite"), pool_size=connections, max_overflow=0)
    _set_up_sqlite(sync)
    return sync


def _set_up_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module: it would BEGIN lazily before the first
        # INSERT/UPDATE only, so reads would escape the transaction and BEGIN IMMEDIATE would be impossible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock another starting process may hold.
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads first and writes later cannot wait for the write lock in WAL mode
        # (SQLite answers SQLITE_BUSY at once); writers therefore take the lock up front, readers do not.
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the job database's migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade_database(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration; a no-op when it is already there.

    Safe when several processes start at once: on PostgreSQL they queue on an advisory lock held for the
    migration's transaction (DDL is transactional there), on SQLite on the write lock (``BEGIN IMMEDIATE``).
    Whoever comes second finds the schema up to date.
    """
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{IMMEDIATE: True})
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            await conn.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")

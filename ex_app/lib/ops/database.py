"""Opening the job database for the ops tools without changing it.

``JobStore.open`` brings the schema up to date, which is right for the app and wrong for an admin's
``status``: pointed at the wrong path it would create an empty database and report an idle but healthy
queue. The ops tools therefore open an *existing* database only, and say so when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import anyio
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import ConverterError
from ..jobs import JobStore, alembic_config, create_engine

#: How long a connection attempt may take before the database counts as unreachable.
CONNECT_TIMEOUT_SECONDS = 10.0

SCHEMA_MISSING_MESSAGE = "the job table does not exist yet — has the ExApp started once?"


class DatabaseUnavailable(ConverterError):
    """The job database cannot be reached (wrong URL, server down, not a database file)."""


class SchemaMissing(DatabaseUnavailable):
    """The database is there but holds no job table: the ExApp has never started on it."""


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    """Which migration the database is at, and which one this code expects."""

    #: ``alembic_version.version_num``, ``None`` if the database was never migrated.
    revision: str | None
    #: The newest migration shipped with this code.
    head: str | None
    has_jobs_table: bool

    @property
    def up_to_date(self) -> bool:
        return self.revision is not None and self.revision == self.head


def redact_url(url: str) -> str:
    """``url`` with its password masked, safe to print or serve."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<invalid database URL>"


def one_line(exc: BaseException) -> str:
    """A short, single-line description of a database error (the driver's message, not SQLAlchemy's SQL
    dump and documentation link)."""
    cause = getattr(exc, "orig", None) or exc
    message = str(cause).strip().splitlines()
    text_ = message[0] if message else ""
    return f"{type(cause).__name__}: {text_}" if text_ else type(cause).__name__


@lru_cache(maxsize=1)
def schema_head() -> str | None:
    """The newest migration revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _probe(conn: Connection) -> tuple[set[str], str | None]:
    tables = set(inspect(conn).get_table_names())
    revision = None
    if "alembic_version" in tables:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return tables, revision


async def inspect_schema(engine: AsyncEngine) -> SchemaInfo:
    """Connect and read the schema's state; ``DatabaseUnavailable`` if the database cannot be reached within
    :data:`CONNECT_TIMEOUT_SECONDS`."""
    timeout = CONNECT_TIMEOUT_SECONDS
    try:
        with anyio.fail_after(timeout):
            async with engine.connect() as conn:
                tables, revision = await conn.run_sync(_probe)
    except TimeoutError as exc:
        raise DatabaseUnavailable(f"no answer from the database within {timeout:g} s") from exc
    except Exception as exc:  # the driver's own errors (OSError, asyncpg, sqlite3) are all "unreachable" here
        raise DatabaseUnavailable(one_line(exc)) from exc
    head = await anyio.to_thread.run_sync(schema_head)
    return SchemaInfo(revision=revision, head=head, has_jobs_table="jobs" in tables)


async def open_existing_store(url: str) -> tuple[JobStore, SchemaInfo]:
    """A store on the database at ``url`` that already holds the job table; nothing is created or migrated.

    ``SchemaMissing`` when the SQLite file or the job table does not exist, ``DatabaseUnavailable`` when the
    database cannot be reached. The caller closes the store.
    """
    where = redact_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseUnavailable(f"invalid database URL {where}") from exc
    database = parsed.database or ""
    is_sqlite_file = parsed.get_backend_name() == "sqlite" and database not in {"", ":memory:"}
    # Connecting would create an empty file (and create_engine its directory).
    if (
        is_sqlite_file
        and not database.startswith("file:")
        and not await (await anyio.Path(database).expanduser()).is_file()
    ):
        raise SchemaMissing(f"{SCHEMA_MISSING_MESSAGE} ({database} does not exist)")
    try:
        engine = create_engine(url)
    except Exception as exc:
        raise DatabaseUnavailable(f"cannot use {where}: {one_line(exc)}") from exc
    try:
        info = await inspect_schema(engine)
    except DatabaseUnavailable as exc:
        await engine.dispose()
        raise DatabaseUnavailable(f"database unreachable ({where}): {exc.user_message}") from exc
    except BaseException:
        await engine.dispose()
        raise
    if not info.has_jobs_table:
        await engine.dispose()
        raise SchemaMissing(f"{SCHEMA_MISSING_MESSAGE} ({where})")
    return JobStore(engine), info

"""The schema comes from the Alembic migrations, matches the models, and upgrading is always safe."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from ex_app.lib.jobs import Base, alembic_config, create_engine, upgrade_database

pytestmark = pytest.mark.anyio


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_upgrading_twice_is_harmless(fresh_db_url: str) -> None:
    engine = create_engine(fresh_db_url)
    try:
        await upgrade_database(engine)
        await upgrade_database(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_revision) == _head()
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"jobs", "workers", "alembic_version"} <= tables
    finally:
        await engine.dispose()


async def test_processes_starting_together_upgrade_once_without_errors(fresh_db_url: str) -> None:
    engines = [create_engine(fresh_db_url) for _ in range(4)]
    try:
        async with anyio.create_task_group() as tg:
            for engine in engines:
                tg.start_soon(upgrade_database, engine)
        async with engines[0].connect() as conn:
            assert await conn.run_sync(_revision) == _head()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_migrations_build_exactly_the_schema_the_models_describe(fresh_db_url: str) -> None:
    engine = create_engine(fresh_db_url)
    try:
        await upgrade_database(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert diff == []
    finally:
        await engine.dispose()


async def test_sqlite_files_get_their_directory_and_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "jobs.sqlite"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade_database(engine)
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert path.exists()
    finally:
        await engine.dispose()


def test_migration_files_sit_in_packages_so_they_are_shipped() -> None:
    migrations = Path(alembic_config().get_main_option("script_location") or "")
    assert (migrations / "script.py.mako").is_file()
    assert (migrations / "__init__.py").is_file() and (migrations / "versions" / "__init__.py").is_file()

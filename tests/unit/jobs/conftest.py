"""Fixtures for the job store suite: every test that takes ``db_url`` or ``store`` runs on SQLite and on
PostgreSQL.

PostgreSQL tests use one database created for the session (``vcfm_test_<random>`` on 127.0.0.1:5432), emptied
before each test and dropped at the end; migration tests get a fresh database of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ex_app.lib.jobs import JobStore
from tests.postgres import PostgresServer, run_in_own_loop


@pytest.fixture(scope="session")
def pg_session_url(pg_server: PostgresServer) -> str:
    return run_in_own_loop(pg_server.create_database)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with an up-to-date, empty schema (SQLite: a new file; PostgreSQL: the session database)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite'}"
    url: str = request.getfixturevalue("pg_session_url")
    store = await JobStore.open(url)
    try:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("TRUNCATE jobs, workers, outbox, queue_users RESTART IDENTITY")
    finally:
        await store.close()
    return url


@pytest.fixture(params=BACKENDS)
async def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'jobs.sqlite'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return await server.create_database()


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[JobStore]:
    store = await JobStore.open(db_url)
    try:
        yield store
    finally:
        await store.close()

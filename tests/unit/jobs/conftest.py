"""Fixtures for the job store suite: every test that takes ``db_url`` or ``store`` runs on SQLite and on
PostgreSQL.

PostgreSQL tests use one database created for the session (``vcfm_test_<random>`` on 127.0.0.1:5432), emptied
before each test and dropped at the end; migration tests get a fresh database of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import anyio
import asyncpg
import pytest

from ex_app.lib.jobs import JobStore
from tests.conftest import require

T = TypeVar("T")

PG_HOST = os.environ.get("VCFM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("VCFM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("VCFM_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("VCFM_TEST_PG_DB", "test")


class PostgresServer:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self) -> str:
        name = f"vcfm_test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.url(name)

    async def drop_all(self) -> None:
        for name in self.created:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


def run_in_own_loop(func: Callable[..., Awaitable[T]], *args: object) -> T:
    """Run ``func(*args)`` to completion in a new event loop on a new thread.

    Session fixtures are first requested from inside a test's (or async fixture's) running loop, where
    ``anyio.run`` is not allowed; a thread of their own gives them a loop that outlives no test.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, func, *args).result()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        run_in_own_loop(server._admin, "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        require(False, f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {exc}")
    yield server
    run_in_own_loop(server.drop_all)


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
            await conn.exec_driver_sql("TRUNCATE jobs, workers RESTART IDENTITY")
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

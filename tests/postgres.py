"""Throwaway PostgreSQL databases for tests, on the server this machine kind runs (127.0.0.1:5432, trust auth).

``pg_server`` (in tests/conftest.py) skips with a reason where the server is missing, and fails under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio
import asyncpg

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


def reachable(server: PostgresServer) -> str | None:
    """None when the server answers, else why not."""
    try:
        run_in_own_loop(server._admin, "SELECT 1")
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {exc}"
    return None

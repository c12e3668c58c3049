"""Shared test plumbing.

Tests that need an outside service (PostgreSQL, ffmpeg) call :func:`require` — outside CI a missing service
skips the test with a visible reason; under CI (``CI=true``) it fails, because a green CI must never hide a
suite that did not run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer, reachable, run_in_own_loop

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI=true) when a needed service or tool is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def anyio_backend() -> str:
    # The app runs anyio on asyncio (uvicorn's loop); tests do the same.
    return "asyncio"


def _tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (make test installs Debian's ffmpeg with apt)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def ffmpeg_bin() -> str:
    return _tool("ffmpeg")


@pytest.fixture(scope="session")
def ffprobe_bin() -> str:
    return _tool("ffprobe")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """Creates throwaway databases; drops them at the end of the session."""
    server = PostgresServer()
    problem = reachable(server)
    require(problem is None, problem or "")
    yield server
    run_in_own_loop(server.drop_all)

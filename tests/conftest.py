"""Shared test plumbing.

Tests that need an outside service (PostgreSQL, ffmpeg) call :func:`require` — outside CI a missing service
skips the test with a visible reason; under CI (``CI=true``) it fails, because a green CI must never hide a
suite that did not run.
"""

from __future__ import annotations

import os
import shutil

import pytest

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


@pytest.fixture(scope="session")
def ffmpeg_bin() -> str:
    path = shutil.which("ffmpeg")
    require(path is not None, "ffmpeg is not installed (make test installs it with apt)")
    assert path is not None
    return path

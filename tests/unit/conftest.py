"""The worker tests' job store: a new SQLite database for each test.

tests/unit/jobs and tests/unit/ops override ``store`` with theirs, which runs each test on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ex_app.lib.jobs import JobStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    store = await JobStore.open(f"sqlite+aiosqlite:///{tmp_path / 'jobs.sqlite'}")
    yield store
    await store.close()

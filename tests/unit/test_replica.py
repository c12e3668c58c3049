"""The worker-only process's database check: it never creates or migrates, and says which is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from ex_app.lib.jobs import JobStore, alembic_config, create_engine
from ex_app.lib.ops.database import schema_head
from ex_app.lib.replica import EXIT_DATABASE, StartFailed, check_database
from ex_app.lib.settings import Settings

pytestmark = pytest.mark.anyio


def settings_on(path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{path}", APP_PERSISTENT_STORAGE=str(path.parent))


async def test_a_missing_database_is_refused_and_not_created(tmp_path: Path):
    with pytest.raises(StartFailed) as failed:
        await check_database(settings_on(tmp_path / "jobs.sqlite"))
    assert failed.value.code == EXIT_DATABASE
    assert "the job table does not exist yet" in failed.value.message
    assert not (tmp_path / "jobs.sqlite").exists()


async def test_a_database_at_an_older_revision_is_refused_until_the_exapp_migrates_it(tmp_path: Path):
    path = tmp_path / "jobs.sqlite"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0001"))
    await engine.dispose()

    with pytest.raises(StartFailed) as failed:
        await check_database(settings_on(path))

    assert failed.value.code == EXIT_DATABASE
    assert f"is not migrated: its schema is at revision 0001, this worker needs {schema_head()}" in (
        failed.value.message
    )
    assert "Start (or update) the ExApp first" in failed.value.message


async def test_a_migrated_database_is_opened(tmp_path: Path):
    path = tmp_path / "jobs.sqlite"
    await (await JobStore.open(f"sqlite+aiosqlite:///{path}")).close()
    store = await check_database(settings_on(path))
    try:
        assert await store.count_by_status()
    finally:
        await store.close()

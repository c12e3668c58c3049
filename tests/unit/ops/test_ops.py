"""The ``ex_app.lib.ops`` API the worker and the admin route call directly (no CLI in between)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ex_app.lib.jobs import JobStatus, JobStore
from ex_app.lib.ops import (
    DatabaseUnavailable,
    SchemaMissing,
    cleanup,
    collect_stats,
    collect_status,
    heartbeat_window,
    open_existing_store,
    parse_age,
    redact_url,
)
from ex_app.lib.ops.stats import percentile
from ex_app.lib.settings import Settings

from .conftest import SCHEMA_HEAD, Jobs, Scratch


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("7", timedelta(days=7)),
        ("1.5", timedelta(days=1.5)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("45s", timedelta(seconds=45)),
        (" 2D ", timedelta(days=2)),
        ("0d", timedelta(0)),
    ],
)
def test_parse_age_accepts_days_hours_minutes_seconds_and_plain_days(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "d", "-1d", "7w", "7 days", "1h30m", "abc"])
def test_parse_age_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="invalid age"):
        parse_age(text)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0, 1.0, 2.0], 0.95) == 3.0
    assert percentile([7.0], 0.95) == 7.0


@pytest.mark.parametrize(("lease", "window"), [(60, 50.0), (3, 12.0), (600, 410.0)])
def test_a_worker_is_alive_for_two_beats_plus_the_sqlite_busy_timeout(lease: float, window: float) -> None:
    assert heartbeat_window(Settings(lease_seconds=lease)) == timedelta(seconds=window)


def test_redact_url_hides_the_password() -> None:
    assert redact_url("postgresql+asyncpg://vcfm:s3cret@db:5432/nc") == "postgresql+asyncpg://vcfm:***@db:5432/nc"


anyio = pytest.mark.anyio


@anyio
async def test_cleanup_with_an_injected_now_deletes_exactly_the_jobs_finished_before_the_cutoff(
    store: JobStore, jobs: Jobs, scratch: Scratch, tmp_path: Path
) -> None:
    settings = Settings(scratch_dir=scratch.root)
    later = jobs.now + timedelta(days=6)  # from there, a 7-day retention also reaches the 5-day-old job

    preview = await cleanup(store, settings, older_than=timedelta(days=7), dry_run=True, now=later)
    result = await cleanup(store, settings, older_than=timedelta(days=7), dry_run=False, now=later)

    assert preview.deleted_job_ids == result.deleted_job_ids
    assert result.deleted_job_ids == sorted(
        [jobs.old_completed, jobs.old_failed, jobs.old_cancelled, jobs.completed_5d]
    )
    assert result.removed_scratch_dirs == scratch.orphaned
    assert result.cutoff == later - timedelta(days=7)
    assert set(scratch.root.iterdir()) == {*scratch.kept, *scratch.unrelated}
    json.dumps(result.to_dict())


@anyio
async def test_cleanup_keeps_pending_and_processing_jobs_however_old(
    store: JobStore, jobs: Jobs, scratch: Scratch
) -> None:
    settings = Settings(scratch_dir=scratch.root)

    result = await cleanup(store, settings, older_than=timedelta(0), dry_run=False, now=jobs.now + timedelta(days=365))

    counts = await store.count_by_status()
    assert counts[JobStatus.PENDING] == 2 and counts[JobStatus.PROCESSING] == 2
    assert sum(counts.values()) == 4
    assert len(result.deleted_job_ids) == 9
    assert all(path.exists() for path in scratch.kept)


@anyio
async def test_cleanup_with_no_scratch_folder_only_deletes_jobs(store: JobStore, jobs: Jobs, tmp_path: Path) -> None:
    settings = Settings(scratch_dir=tmp_path / "never-created")

    result = await cleanup(store, settings, older_than=timedelta(days=7), dry_run=False)

    assert result.removed_scratch_dirs == []
    assert len(result.deleted_job_ids) == 3
    assert not (tmp_path / "never-created").exists()


@anyio
async def test_cleanup_refuses_a_negative_age(store: JobStore) -> None:
    with pytest.raises(ValueError, match="negative"):
        await cleanup(store, Settings(), older_than=timedelta(days=-1), dry_run=True)


@anyio
async def test_collect_status_serves_a_json_ready_dict(store: JobStore, jobs: Jobs, scratch: Scratch) -> None:
    report = await collect_status(store, Settings(scratch_dir=scratch.root), now=jobs.now)

    data = json.loads(json.dumps(report.to_dict()))
    assert data["healthy"] is True
    assert data["generated_at"] == jobs.now.isoformat()
    assert data["scratch"]["path"] == str(scratch.root)


@anyio
async def test_collect_status_without_a_store_still_reports_ffmpeg_and_scratch(tmp_path: Path) -> None:
    report = await collect_status(None, Settings(scratch_dir=tmp_path), database_error="database unreachable (x)")

    assert report.database.ok is False and report.database.error == "database unreachable (x)"
    assert report.ffmpeg.found is True  # the fake from the autouse environment fixture
    assert report.scratch.exists is True and report.scratch.orphaned_dirs is None
    assert report.healthy is False
    assert report.problems == ["database: database unreachable (x)"]


@anyio
async def test_collect_stats_window_decides_what_is_recent(store: JobStore, jobs: Jobs) -> None:
    report = await collect_stats(store, now=jobs.now, window=timedelta(minutes=45))

    assert (report.recent_completed, report.recent_failed) == (0, 1)
    assert [(e.message, e.count) for e in report.top_errors] == [("The source file no longer exists.", 1)]


@anyio
async def test_open_existing_store_never_creates_anything(tmp_path: Path) -> None:
    path = tmp_path / "a" / "jobs.sqlite"

    with pytest.raises(SchemaMissing):
        await open_existing_store(f"sqlite+aiosqlite:///{path}")
    with pytest.raises(DatabaseUnavailable, match="unreachable"):
        await open_existing_store("postgresql+asyncpg://vcfm:pw@127.0.0.1:1/x")

    assert not path.parent.exists()


@anyio
async def test_open_existing_store_reads_the_schema_revision(db_url: str, store: JobStore) -> None:
    opened, info = await open_existing_store(db_url)
    await opened.close()

    assert (info.revision, info.head, info.up_to_date) == (SCHEMA_HEAD, SCHEMA_HEAD, True)

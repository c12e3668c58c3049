"""A job database holding jobs in every status, scratch folders beside it, and a way to run the CLI.

Databases come from the job store suite's fixtures (``db_url``: SQLite and PostgreSQL), so the ops tools are
proven on both. Ages are fabricated with the store's ``now=`` parameters, relative to the real clock the CLI
reads.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import pytest
from alembic.script import ScriptDirectory

from ex_app.lib.cli import main
from ex_app.lib.jobs import JobStore, NewJob, alembic_config
from ex_app.lib.jobs.models import utc_now

# The store suite's database fixtures, shared rather than copied.
from tests.unit.jobs.conftest import db_url, pg_session_url, store  # noqa: F401

#: The newest migration: what an up-to-date database reports.
SCHEMA_HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
FAKE_FFMPEG_VERSION = "ffmpeg version 9.9-vcfm-test Copyright (c) the FFmpeg developers"

ALIVE_WORKER = "host-a:101:aaaa"
DEAD_WORKER = "host-b:202:bbbb"


@dataclass
class Jobs:
    """Ids of the fabricated jobs, by what they are."""

    now: datetime
    old_completed: int  # 30 d ago, mp4, 10 s
    old_failed: int  # 10 d ago
    old_cancelled: int  # 9 d ago
    completed_5d: int  # 5 d ago (inside the 7 d retention), mp4, 20 s
    recent_completed_mp4: int  # 2 h ago, 30 s
    recent_completed_webm: int  # 3 h ago, 60 s
    bob_failed_1: int  # 1 h ago, "FFmpeg could not convert this file."
    bob_failed_2: int  # 50 min ago, same message
    recent_failed_other: int  # 40 min ago, "The source file no longer exists."
    expired_processing: int  # claimed 2 h ago with a 60 s lease that was never renewed
    processing: int  # running now on ALIVE_WORKER, 42 %
    waiting_retry: int  # pending, not before an hour from now
    old_pending: int  # pending since 10 d ago (must survive every cleanup)

    @property
    def all(self) -> list[int]:
        return sorted(v for k, v in vars(self).items() if k != "now")


@dataclass
class Scratch:
    root: Path
    #: job folders cleanup must remove (job finished or gone) / keep (job active).
    orphaned: list[Path]
    kept: list[Path]
    #: Entries that are not job folders at all.
    unrelated: list[Path]


async def _job(db: JobStore, at: datetime, *, user: str = "alice", target: str = "mp4", name: str = "clip") -> int:
    new = NewJob(user_id=user, file_id=1000, source_path=f"/Videos/{name}.mov", target=target)
    [record] = await db.create_many([new], now=at)
    return record.id


async def _completed(db: JobStore, at: datetime, seconds: float, target: str) -> int:
    job_id = await _job(db, at, target=target, name=f"done-{target}")
    claimed = await db.claim("old-worker", 60, now=at)
    assert claimed is not None and claimed.id == job_id
    done = await db.complete(
        job_id, "old-worker", output_path="/Videos/out", output_file_id=1, now=at + timedelta(seconds=seconds)
    )
    assert done is not None
    return job_id


async def _failed(db: JobStore, at: datetime, message: str, *, user: str = "alice", target: str = "mp4") -> int:
    job_id = await _job(db, at, user=user, target=target, name="broken")
    claimed = await db.claim("old-worker", 60, now=at)
    assert claimed is not None and claimed.id == job_id
    assert await db.fail(job_id, "old-worker", message, now=at + timedelta(seconds=1)) is not None
    return job_id


@pytest.fixture
async def jobs(store: JobStore) -> Jobs:  # noqa: F811 (the imported fixture)
    now = utc_now()
    day, hour, minute = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
    old_completed = await _completed(store, now - 30 * day, 10, "mp4")
    old_failed = await _failed(store, now - 10 * day, "Old failure", target="webm")
    old_cancelled = await _job(store, now - 9 * day)
    await store.cancel(old_cancelled, now=now - 9 * day)
    completed_5d = await _completed(store, now - 5 * day, 20, "mp4")
    recent_mp4 = await _completed(store, now - 2 * hour, 30, "mp4")
    recent_webm = await _completed(store, now - 3 * hour, 60, "webm")
    bob_1 = await _failed(store, now - hour, "FFmpeg could not convert this file.", user="bob")
    bob_2 = await _failed(store, now - 50 * minute, "FFmpeg could not convert this file.", user="bob")
    other = await _failed(store, now - 40 * minute, "The source file no longer exists.", target="webm")

    expired = await _job(store, now - 2 * hour, name="stuck")
    assert (await store.claim(DEAD_WORKER, 60, now=now - 2 * hour)).id == expired  # type: ignore[union-attr]

    processing = await _job(store, now - minute, name="running")
    assert (await store.claim(ALIVE_WORKER, 3600, now=now)).id == processing  # type: ignore[union-attr]
    assert await store.renew(processing, ALIVE_WORKER, 3600, progress=42.0, now=now)

    waiting = await _job(store, now - 20 * minute, name="flaky")
    assert (await store.claim(ALIVE_WORKER, 60, now=now - 20 * minute)).id == waiting  # type: ignore[union-attr]
    assert await store.requeue(waiting, ALIVE_WORKER, "Nextcloud was unavailable", 3600, now=now) is not None

    old_pending = await _job(store, now - 10 * day, name="queued")

    await store.beat(ALIVE_WORKER, "host-a", 101, 1, now=now)
    await store.beat(DEAD_WORKER, "host-b", 202, 1, now=now - hour)
    return Jobs(
        now=now,
        old_completed=old_completed,
        old_failed=old_failed,
        old_cancelled=old_cancelled,
        completed_5d=completed_5d,
        recent_completed_mp4=recent_mp4,
        recent_completed_webm=recent_webm,
        bob_failed_1=bob_1,
        bob_failed_2=bob_2,
        recent_failed_other=other,
        expired_processing=expired,
        processing=processing,
        waiting_retry=waiting,
        old_pending=old_pending,
    )


@pytest.fixture
def scratch(tmp_path: Path, jobs: Jobs) -> Scratch:
    root = tmp_path / "scratch"
    root.mkdir()

    def job_dir(job_id: int, token: str | None = "0123456789abcdef0123456789abcdef") -> Path:
        # job-<id>-<token> as the worker names them; job-<id> as versions before the random token did.
        path = root / (f"job-{job_id}-{token}" if token else f"job-{job_id}")
        path.mkdir()
        (path / "source.mov").write_bytes(b"x" * 16)
        return path

    orphaned = [job_dir(jobs.old_completed, None), job_dir(jobs.bob_failed_1), job_dir(jobs.all[-1] + 100)]
    kept = [job_dir(jobs.processing), job_dir(jobs.old_pending), job_dir(jobs.waiting_retry, None)]
    unrelated = [root / "notes", root / "job-abc", root / f"job-{jobs.old_failed}.log", root / "job-7-not-a-token"]
    unrelated[0].mkdir()
    unrelated[1].mkdir()
    unrelated[2].write_text("a file, not a job folder")
    unrelated[3].mkdir()
    return Scratch(
        root=root, orphaned=sorted(orphaned, key=lambda p: int(p.name.split("-")[1])), kept=kept, unrelated=unrelated
    )


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's environment, isolated: nothing from the developer's shell leaks into Settings."""
    for name in list(os.environ):
        if name.startswith("VCFM_"):
            monkeypatch.delenv(name)
    storage = tmp_path / "storage"
    monkeypatch.setenv("APP_PERSISTENT_STORAGE", str(storage))
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "{FAKE_FFMPEG_VERSION}"\necho "built with a shell script"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VCFM_FFMPEG_PATH", str(fake))
    return storage


@dataclass
class Run:
    code: int
    out: str
    err: str


CLI = Callable[..., Awaitable[Run]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CLI:
    """Run ``main(argv)`` in-process (on a thread: it starts its own event loop) and capture its output."""

    async def run(*argv: str) -> Run:
        capsys.readouterr()
        code = await anyio.to_thread.run_sync(main, list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run

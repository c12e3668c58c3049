"""The health report an admin asks for: workers, queue, running jobs, ffmpeg, scratch space, database.

:func:`collect_status` is shared by the ``status`` command of the ops CLI and the admin status route; it
never raises for a sick system — a problem is something to *report*: it lands in the report's fields and in
:attr:`StatusReport.problems`.

Whether a worker is alive is read from its heartbeat (the ``workers`` table). A worker beats every
``max(lease_seconds / 3, 1)`` seconds (``worker.Worker._maintenance_loop``); it counts as alive while its
last beat is at most :func:`heartbeat_window` old: two beat intervals (one missed beat is not a death) plus
10 s, SQLite's busy timeout, for which a beat may wait on the write lock. With the default 60 s lease a worker
is declared dead after 50 s of silence — before its jobs' leases (60 s) run out and they are reaped.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import func, select

from ..jobs import JobRecord, JobStatus, JobStore
from ..jobs.models import as_utc, jobs_table, utc_now
from ..settings import Settings
from ._json import jsonable
from .cleanup import scratch_job_dirs
from .database import (
    SCHEMA_MISSING_MESSAGE,
    DatabaseUnavailable,
    inspect_schema,
    one_line,
    redact_url,
    schema_head,
)

J = jobs_table.c

#: Slack on top of two beat intervals: SQLite's busy timeout, the longest a beat may wait for the write lock.
HEARTBEAT_SLACK_SECONDS = 10.0
#: How many processing jobs the report lists (each worker runs ``concurrency`` at most).
PROCESSING_LIMIT = 100
#: Below this much free space in the scratch folder the report names it a problem.
LOW_SCRATCH_BYTES = 1 << 30
#: How long ``ffmpeg -version`` may take.
FFMPEG_TIMEOUT_SECONDS = 10.0


def heartbeat_interval(settings: Settings) -> float:
    """Seconds between two heartbeats of a worker (what ``Worker._maintenance_loop`` sleeps)."""
    return max(1.0, settings.lease_seconds / 3)


def heartbeat_window(settings: Settings) -> timedelta:
    """How old a worker's last heartbeat may be for the worker to count as alive (see the module docstring)."""
    return timedelta(seconds=2 * heartbeat_interval(settings) + HEARTBEAT_SLACK_SECONDS)


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """A worker's last heartbeat and what it means."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    seconds_since_seen: float
    alive: bool
    jobs_running: int
    #: Since when this worker finds Nextcloud unreachable or in maintenance mode (``None``: it answers).
    nextcloud_unreachable_since: datetime | None = None
    nextcloud_error: str | None = None


@dataclass(frozen=True, slots=True)
class NextcloudStatus:
    """Nextcloud as the live workers see it (they probe it while it is down; health.py)."""

    #: ``None`` when no live worker could say.
    reachable: bool | None = None
    #: The earliest time a live worker found it unreachable.
    unreachable_since: datetime | None = None
    error: str | None = None
    #: Notifications kept until Nextcloud takes them.
    notifications_waiting: int = 0


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """How many jobs wait and run."""

    #: Every pending job: ``ready + waiting_for_retry``.
    pending: int = 0
    #: Pending jobs a worker may claim now.
    ready: int = 0
    #: Pending jobs held back until their retry delay (``not_before``) has passed.
    waiting_for_retry: int = 0
    processing: int = 0
    #: Age of the oldest job a worker could claim now, ``None`` if there is none.
    oldest_ready_seconds: float | None = None
    #: Jobs per status, every status present.
    counts: dict[str, int] = field(default_factory=lambda: {status.value: 0 for status in JobStatus})


@dataclass(frozen=True, slots=True)
class ProcessingJob:
    """A job a worker holds now."""

    id: int
    user_id: str
    target: str
    source_path: str
    progress: float
    started_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    #: The lease ran out: its worker died; the next reap requeues the job.
    lease_expired: bool
    retry_count: int


@dataclass(frozen=True, slots=True)
class FfmpegStatus:
    path: str
    found: bool
    #: The first line of ``ffmpeg -version``, ``None`` if ffmpeg could not be run.
    version: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ScratchStatus:
    path: Path
    exists: bool
    #: Free and total bytes of the file system holding the scratch folder (or its nearest existing parent).
    free_bytes: int | None
    total_bytes: int | None
    #: ``job-<id>-<token>`` folders present.
    job_dirs: int = 0
    #: Of those, the folders of jobs that are neither pending nor processing (``cleanup`` removes them);
    #: ``None`` when the database could not say which jobs are active.
    orphaned_dirs: int | None = None


@dataclass(frozen=True, slots=True)
class DatabaseStatus:
    #: The URL with its password masked.
    url: str
    dialect: str
    reachable: bool
    #: The schema's migration revision (``None``: never migrated / not reachable) and the newest one known.
    revision: str | None = None
    head: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.error is None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything :func:`collect_status` found; :meth:`to_dict` is what the CLI and the admin route serve."""

    generated_at: datetime
    database: DatabaseStatus
    heartbeat_window_seconds: float
    workers: list[WorkerStatus]
    queue: QueueStatus
    processing: list[ProcessingJob]
    ffmpeg: FfmpegStatus
    scratch: ScratchStatus
    settings: dict[str, Any]
    nextcloud: NextcloudStatus = field(default_factory=NextcloudStatus)

    @property
    def alive_workers(self) -> int:
        return sum(worker.alive for worker in self.workers)

    @property
    def problems(self) -> list[str]:
        """What an admin should look at, one sentence each; empty when all is well."""
        found: list[str] = []
        db = self.database
        if not db.ok:
            found.append(f"database: {db.error or 'unreachable'}")
        elif db.revision != db.head:
            found.append(f"database schema is at revision {db.revision}, this code expects {db.head}")
        if db.ok and self.alive_workers == 0:
            found.append("no live worker: jobs are not being processed")
        if self.nextcloud.reachable is False:
            found.append(nextcloud_line(self.nextcloud))
        expired = [job.id for job in self.processing if job.lease_expired]
        if expired:
            found.append(f"{len(expired)} processing job(s) have an expired lease (reap requeues them): {expired}")
        if not self.ffmpeg.found:
            found.append(f"ffmpeg not found ({self.ffmpeg.path})")
        if self.scratch.free_bytes is not None and self.scratch.free_bytes < LOW_SCRATCH_BYTES:
            found.append(f"less than 1 GiB free in the scratch folder {self.scratch.path}")
        return found

    @property
    def healthy(self) -> bool:
        """The database answers and at least one worker is alive."""
        return self.database.ok and self.alive_workers > 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(self)
        data["alive_workers"] = self.alive_workers
        data["healthy"] = self.healthy
        data["problems"] = self.problems
        data["nextcloud"]["summary"] = nextcloud_line(self.nextcloud)
        return data


async def collect_status(
    store: JobStore | None,
    settings: Settings,
    *,
    now: datetime | None = None,
    database_error: str | None = None,
) -> StatusReport:
    """Look at the whole system once and report.

    ``store`` is the app's store; ``None`` means the caller could not open one (``database_error`` says why),
    and the report still covers ffmpeg and the scratch folder. Database errors met on the way are reported,
    not raised.
    """
    now = now or utc_now()
    url = settings.database_url
    database = DatabaseStatus(url=redact_url(url), dialect=url.split("+", 1)[0].split(":", 1)[0], reachable=False)
    workers: list[WorkerStatus] = []
    queue = QueueStatus()
    processing: list[ProcessingJob] = []
    active: set[int] | None = None
    nextcloud = NextcloudStatus()
    if store is None:
        database = replace(database, error=database_error or "not opened", head=await _head())
    else:
        try:
            info = await inspect_schema(store.engine)
            database = replace(database, reachable=True, revision=info.revision, head=info.head)
            if not info.has_jobs_table:
                database = replace(database, error=SCHEMA_MISSING_MESSAGE)
            else:
                workers = await _workers(store, settings, now)
                queue = await _queue(store, now)
                processing = await _processing(store, now)
                active = await store.active_ids()
                nextcloud = replace(_nextcloud(workers), notifications_waiting=len(await store.outbox()))
        except DatabaseUnavailable as exc:
            database = replace(database, reachable=False, error=exc.user_message)
        except Exception as exc:  # a query failing half-way (locked, connection lost) is a finding too
            database = replace(database, error=one_line(exc))
    return StatusReport(
        generated_at=now,
        database=database,
        heartbeat_window_seconds=heartbeat_window(settings).total_seconds(),
        workers=workers,
        queue=queue,
        processing=processing,
        ffmpeg=await ffmpeg_status(settings.ffmpeg_path),
        scratch=await scratch_status(settings.scratch, active),
        settings={
            "lease_seconds": settings.lease_seconds,
            "max_attempts": settings.max_attempts,
            "retention_days": settings.retention_days,
            "concurrency": settings.concurrency,
        },
        nextcloud=nextcloud,
    )


def _nextcloud(workers: list[WorkerStatus]) -> NextcloudStatus:
    alive = [w for w in workers if w.alive]
    if not alive:
        return NextcloudStatus()
    down = sorted((w for w in alive if w.nextcloud_unreachable_since is not None), key=_unreachable_since)
    if not down:
        return NextcloudStatus(reachable=True)
    return NextcloudStatus(
        reachable=False, unreachable_since=down[0].nextcloud_unreachable_since, error=down[-1].nextcloud_error
    )


def _unreachable_since(worker: WorkerStatus) -> datetime:
    assert worker.nextcloud_unreachable_since is not None
    return worker.nextcloud_unreachable_since


def nextcloud_line(status: NextcloudStatus) -> str:
    """ "Nextcloud unreachable since <time> (<error>)" — the same words in the CLI and the admin status."""
    if status.reachable is None:
        return "Nextcloud: no live worker to ask"
    if status.reachable:
        return "Nextcloud answers"
    since = status.unreachable_since.strftime("%Y-%m-%d %H:%M:%S UTC") if status.unreachable_since else "?"
    return f"Nextcloud unreachable since {since}" + (f" ({status.error})" if status.error else "")


async def _head() -> str | None:
    try:
        return await anyio.to_thread.run_sync(schema_head)
    except Exception:
        return None


async def _workers(store: JobStore, settings: Settings, now: datetime) -> list[WorkerStatus]:
    window = heartbeat_window(settings)
    return [
        WorkerStatus(
            worker_id=worker.worker_id,
            host=worker.host,
            pid=worker.pid,
            started_at=worker.started_at,
            last_seen=worker.last_seen,
            seconds_since_seen=round((now - worker.last_seen).total_seconds(), 3),
            alive=now - worker.last_seen <= window,
            jobs_running=worker.jobs_running,
            nextcloud_unreachable_since=worker.nextcloud_unreachable_since,
            nextcloud_error=worker.nextcloud_error,
        )
        for worker in await store.workers()
    ]


async def _queue(store: JobStore, now: datetime) -> QueueStatus:
    counts = await store.count_by_status()
    pending = J.status == JobStatus.PENDING.value
    waiting = select(func.count()).select_from(jobs_table).where(pending, J.not_before > now)
    oldest_ready = select(func.min(J.created_at)).where(pending, (J.not_before.is_(None)) | (J.not_before <= now))
    async with store.engine.connect() as conn:
        waiting_count = (await conn.execute(waiting)).scalar_one()
        oldest = (await conn.execute(oldest_ready)).scalar_one_or_none()
    oldest = as_utc(oldest)  # min() loses the column type on SQLite: a naive UTC value or a string
    return QueueStatus(
        pending=counts[JobStatus.PENDING],
        ready=counts[JobStatus.PENDING] - waiting_count,
        waiting_for_retry=waiting_count,
        processing=counts[JobStatus.PROCESSING],
        oldest_ready_seconds=round((now - oldest).total_seconds(), 3) if oldest is not None else None,
        counts={status.value: count for status, count in counts.items()},
    )


async def _processing(store: JobStore, now: datetime) -> list[ProcessingJob]:
    records, _total = await store.list(status=JobStatus.PROCESSING, limit=PROCESSING_LIMIT)
    return [_processing_job(record, now) for record in sorted(records, key=lambda r: r.id)]


def _processing_job(record: JobRecord, now: datetime) -> ProcessingJob:
    return ProcessingJob(
        id=record.id,
        user_id=record.user_id,
        target=record.target,
        source_path=record.source_path,
        progress=round(record.progress, 1),
        started_at=record.started_at,
        lease_owner=record.lease_owner,
        lease_expires_at=record.lease_expires_at,
        lease_expired=record.lease_expires_at is not None and record.lease_expires_at < now,
        retry_count=record.retry_count,
    )


async def ffmpeg_status(path: str) -> FfmpegStatus:
    """Run ``<path> -version`` and keep its first line."""
    try:
        with anyio.fail_after(FFMPEG_TIMEOUT_SECONDS):
            result = await anyio.run_process([path, "-version"], check=False)
    except FileNotFoundError:
        return FfmpegStatus(path=path, found=False, version=None, error="not found")
    except (OSError, TimeoutError) as exc:
        return FfmpegStatus(path=path, found=False, version=None, error=f"{type(exc).__name__}: {exc}")
    lines = result.stdout.decode(errors="replace").strip().splitlines()
    if result.returncode != 0 or not lines:
        return FfmpegStatus(path=path, found=False, version=None, error=f"exited with status {result.returncode}")
    return FfmpegStatus(path=path, found=True, version=lines[0].strip())


async def scratch_status(scratch: Path, active_ids: set[int] | None) -> ScratchStatus:
    """Free space where the scratch folder lives, and its job folders (orphaned = not in ``active_ids``)."""
    exists = await anyio.Path(scratch).is_dir()
    usage = await anyio.to_thread.run_sync(_disk_usage, scratch)
    dirs = await scratch_job_dirs(scratch) if exists else []
    orphaned = None if active_ids is None else sum(job_id not in active_ids for job_id, _path in dirs)
    return ScratchStatus(
        path=scratch,
        exists=exists,
        free_bytes=usage[0] if usage else None,
        total_bytes=usage[1] if usage else None,
        job_dirs=len(dirs),
        orphaned_dirs=orphaned,
    )


def _disk_usage(path: Path) -> tuple[int, int] | None:
    # Before the first job the folder may not exist yet; its parent's file system is where it will live.
    for candidate in (path, *path.absolute().parents):
        try:
            usage = shutil.disk_usage(candidate)
        except OSError:
            continue
        return usage.free, usage.total
    return None

"""The job table, the worker table and the job status enum.

The store (``store.py``) is the only writer of these tables; everything else sees :class:`JobRecord`
snapshots. The schema itself is created by the hand-written Alembic migrations in ``migrations/`` — these
models describe it for SQLAlchemy and must stay in step with them (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Float, Index, Integer, String, Table, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class JobStatus(StrEnum):
    """Where a job is in its life; stored as the lowercase value."""

    #: Waiting for a worker (maybe not before ``not_before``, after a transient failure).
    PENDING = "pending"
    #: Held by a worker under a lease; ffmpeg is (or is about to be) running.
    PROCESSING = "processing"
    #: The output file was uploaded next to the source.
    COMPLETED = "completed"
    #: Gave up: a permanent error, or too many interrupted attempts; ``error_message`` says why.
    FAILED = "failed"
    #: Stopped by its owner before it finished.
    CANCELLED = "cancelled"


#: Statuses a job never leaves on its own (only ``retry`` or ``delete`` touch it again).
FINISHED: frozenset[JobStatus] = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
#: Statuses of jobs that still need a worker, or have one.
ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always goes in and comes out as an aware UTC datetime.

    SQLite has no time zones: SQLAlchemy stores the wall-clock digits and hands back naive datetimes. Storing
    everything as UTC keeps SQLite's text comparisons (``lease_expires_at < now``) correct, and marking the
    results as UTC means callers never see a naive datetime, whichever database is behind the store.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive datetime here is a bug in the caller; guessing its zone would silently shift times.
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)


def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the job store's tables."""


class Job(Base):
    """One conversion of one source file into one target format."""

    __tablename__ = "jobs"
    __table_args__ = (
        # The fair-share claim (store.JobStore.claim): the users with pending jobs, each user's running count
        # and the head of each user's queue are index seeks here, never scans, however long the queue.
        Index("ix_jobs_queue", "status", "user_id", "queue_at", "id"),
        # ... and how long each user's oldest pending job has waited (not_before included: the claim skips
        # jobs waiting out a retry delay without reading the table).
        Index("ix_jobs_waiting", "status", "user_id", "created_at", "not_before"),
        # ... and each user's last turn: when their latest job started (the claim's round-robin tie-break).
        Index("ix_jobs_user_started", "user_id", "started_at"),
        # One user's page of jobs, newest first (GET /api/jobs).
        Index("ix_jobs_user_created", "user_id", "created_at", "id"),
        # The job list's ETag (JobStore.list_version): a user's count and latest change from the index alone.
        Index("ix_jobs_user_updated", "user_id", "updated_at"),
        # Without AUTOINCREMENT SQLite may hand a deleted job's id to a new job; ids name scratch directories
        # and appear in notifications, so they must never be reused.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Indexed by ix_jobs_user_created (user_id is its first column).
    user_id: Mapped[str] = mapped_column(String(64))
    # Nextcloud's filecache ids are 64-bit.
    file_id: Mapped[int] = mapped_column(BigInteger)
    source_path: Mapped[str] = mapped_column(Text)
    source_etag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    target: Mapped[str] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # No index of its own: ix_jobs_queue and ix_jobs_waiting begin with it (see migration 0007).
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Where the job stands in its owner's queue: created_at, less a head start for small jobs (see
    # store.SMALL_JOB_HEAD_START), so a quick job does not wait behind its owner's long transcodes.
    queue_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: ``error_message`` as ``{"id": …, "params": {…}}`` JSON text, to show it in the reader's language.
    error_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    output_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_file_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    #: Each note a ``{"id": …, "params": {…}}`` message (plain English strings in rows from before 0005).
    notes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: A finished encode kept in scratch until it is uploaded (Nextcloud was down): path, size, extension …
    kept_output: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Worker(Base):
    """A worker process that is (or was recently) alive; written by its heartbeat."""

    __tablename__ = "workers"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    jobs_running: Mapped[int] = mapped_column(Integer, default=0)
    #: Since when this worker finds Nextcloud unreachable or in maintenance (None while it answers).
    nextcloud_unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    nextcloud_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Outbox(Base):
    """A notification that could not be delivered yet; sent (once) when Nextcloud answers again."""

    __tablename__ = "outbox"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QueueUser(Base):
    """Per user, what the fair-share claim ranks users by: their jobs pending and running, and their last turn.

    Kept by triggers on ``jobs`` (migration 0008), inside the statement that changes a job's status, so it can
    never disagree with the jobs table. The claim reads one short row per user with work instead of three index
    seeks into the jobs of each of them (4 ms a claim on PostgreSQL with 100 users, most of its cost). A user
    keeps a row after their last job is gone: their last turn still counts when they queue again.
    """

    __tablename__ = "queue_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pending: Mapped[int] = mapped_column(Integer)
    running: Mapped[int] = mapped_column(Integer)
    #: When a job of theirs last started (was claimed): the claim's round-robin tie-break.
    last_turn: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# The store speaks SQLAlchemy Core to these tables: statements return plain rows that become frozen records.
jobs_table: Table = Job.__table__  # type: ignore[assignment]
workers_table: Table = Worker.__table__  # type: ignore[assignment]
outbox_table: Table = Outbox.__table__  # type: ignore[assignment]
queue_users_table: Table = QueueUser.__table__  # type: ignore[assignment]

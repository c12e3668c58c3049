"""The job store: the one place where a job's status changes.

Every transition is a single ``UPDATE … WHERE <guard> RETURNING …``: the guard states which statuses (and
which lease owner) the transition is legal from, so two processes racing for the same job cannot both win
and nobody reads a row, decides in Python and writes it back. When a guarded statement matches nothing, the
store reads the row afterwards only to say *why* (``NotFound`` or ``Conflict``).

Workers hold a job under a lease (``lease_owner``, ``lease_expires_at``) that they renew while ffmpeg runs;
a lease that runs out means the worker died, and :meth:`JobStore.reap_expired` hands the job to someone else.
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

import anyio
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ex_app.lib.errors import Conflict, NotFound
from ex_app.lib.i18n import Message, _, stored

from .db import IMMEDIATE, create_engine, create_sqlite_sync_engine, upgrade_database
from .identity import NameLock
from .models import (
    ACTIVE,
    FINISHED,
    JobStatus,
    UTCDateTime,
    as_utc,
    jobs_table,
    outbox_table,
    queue_users_table,
    utc_now,
    workers_table,
)
from .records import LISTING_COLUMNS, JobListing, JobRecord, NewJob, OutboxRecord, WorkerRecord

J = jobs_table.c
W = workers_table.c
OB = outbox_table.c
Q = queue_users_table.c

_FINISHED_VALUES = sorted(status.value for status in FINISHED)
_ACTIVE_VALUES = sorted(status.value for status in ACTIVE)
_RETRYABLE_VALUES = [JobStatus.FAILED.value, JobStatus.CANCELLED.value]
_PENDING = JobStatus.PENDING.value
_T = TypeVar("_T")
# The claim's views of the jobs table, made once: an alias builds a proxy of each of its 23 columns, which cost
# more Python time per claim than the database spent on it.
_ALIASES = {name: jobs_table.alias(name) for name in ("running_jobs", "waiting_jobs", "candidates")}
# Built once: every poll of the job list runs it, and building a statement costs more than SQLite running it.
# Two scalar subqueries, not one select of both aggregates: asked together, SQLite reads updated_at from every
# one of the user's index entries; apart, the count needs no column and the max is one seek (0.20 → 0.09 ms
# for a user with 1,000 jobs).
_LIST_VERSION = select(
    select(func.count()).select_from(jobs_table).where(J.user_id == bindparam("user_id")).scalar_subquery(),
    select(func.max(J.updated_at)).where(J.user_id == bindparam("user_id")).scalar_subquery(),
)
#: A user's job count and the latest ``updated_at`` among their jobs (see :meth:`JobStore.list_version`).
ListVersion = tuple[int, datetime | None]
# Threads (and SQLite connections) for the store's calls in a worker thread: enough to overlap a few
# polls, few enough not to fight the event loop for the GIL.
_SYNC_THREADS = 4
_PROCESSING = JobStatus.PROCESSING.value

#: How far ahead of its owner's other jobs a small job is queued (see ``enqueue.is_small``): it overtakes the
#: long transcodes its owner queued up to this long before it, never older ones — so however many small jobs
#: a user adds, none of their long jobs waits more than this longer than it would have.
SMALL_JOB_HEAD_START = timedelta(hours=1)

# First key of the PostgreSQL advisory locks a claim takes per user (the second is a hash of the user id).
_CLAIM_LOCK_SPACE = 0x76636663  # "vcfc"

#: Written into ``error_message`` when a worker died and the job goes back to the queue.
INTERRUPTED_MESSAGE = Message(_("The conversion was interrupted; it will be tried again."))
#: Written when a job was interrupted too often; ``{count}`` is filled in SQL (each row has its own).
GAVE_UP_INTERRUPTED = _("The conversion was interrupted {count} times; giving up.")


#: A job's status as a word in a sentence (an API error, say), marked for translation.
STATUS_WORDS = {
    JobStatus.PENDING: _("pending"),
    JobStatus.PROCESSING: _("processing"),
    JobStatus.COMPLETED: _("completed"),
    JobStatus.FAILED: _("failed"),
    JobStatus.CANCELLED: _("cancelled"),
}


def _error(message: str | None) -> dict[str, Any]:
    """The columns that keep a job's error: the English text, and its id and parameters when it has them."""
    if message is None:
        return {"error_message": None, "error_ref": None}
    return {
        "error_message": str(message),
        "error_ref": message.to_json() if isinstance(message, Message) else None,
    }


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utc_now()
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware datetime (UTC)")
    return now.astimezone(UTC)


@functools.cache
def _sqlite_claim(*, with_cap: bool) -> Any:
    """The SQLite claim statement, built once (with parameters ``now``, ``cap``, ``worker_id`` and
    ``lease_expires_at``): building it took more Python time than SQLite took to run it."""
    now = bindparam("now", type_=UTCDateTime)
    cap = bindparam("cap") if with_cap else None
    first_user = JobStore._fair_order(now, cap).limit(1).scalar_subquery()  # type: ignore[arg-type]
    values = _claim_values(bindparam("worker_id"), bindparam("lease_expires_at", type_=UTCDateTime), now)
    return JobStore._claim_for(first_user, now, None, values)  # type: ignore[arg-type]


@functools.cache
def _pg_claim_statements(*, with_cap: bool) -> tuple[Any, Any, Any]:
    """PostgreSQL's claim statements, built once with bound parameters (``now``, ``cap``, ``tried``,
    ``claim_user``, ``worker_id``, ``lease_expires_at``): the ranking that locks the first free user, the ranking
    alone (for the contended path) and the claim of one user's next job. Built per claim they cost about 3 ms
    of Python, more than PostgreSQL spends on them."""
    now = bindparam("now", type_=UTCDateTime)
    cap = bindparam("cap") if with_cap else None
    tried = bindparam("tried", expanding=True)
    values = _claim_values(bindparam("worker_id"), bindparam("lease_expires_at", type_=UTCDateTime), now)
    lock_first_free = JobStore._lock_first_free_user(now, cap, tried)  # type: ignore[arg-type]
    ranking = JobStore._fair_order(now, cap)  # type: ignore[arg-type]
    claim_for = JobStore._claim_for(bindparam("claim_user"), now, cap, values)  # type: ignore[arg-type]
    return lock_first_free, ranking, claim_for


def _claim_values(worker_id: Any, lease_expires_at: Any, now: Any) -> dict[str, Any]:
    """What a claim writes into the job (values or bound parameters)."""
    return {
        "status": JobStatus.PROCESSING.value,
        "lease_owner": worker_id,
        "lease_expires_at": lease_expires_at,
        "started_at": now,
        "progress": 0.0,
        "error_message": None,
        "error_ref": None,
        "updated_at": now,
    }


def _in_transaction(engine: Engine, work: Callable[[Connection], _T]) -> _T:
    with engine.begin() as conn:
        return work(conn)


def _user_lock(user_id: str, *, wait: bool) -> Select[tuple[Any]]:
    """PostgreSQL: take ``user_id``'s claim lock until the transaction ends (``wait=False``: only if free)."""
    lock = func.pg_advisory_xact_lock if wait else func.pg_try_advisory_xact_lock
    return select(lock(_CLAIM_LOCK_SPACE, func.hashtext(user_id)))


def _clamp_progress(progress: float) -> float:
    # ffmpeg's time= can run past the probed duration; the column promises 0–100.
    return min(100.0, max(0.0, float(progress)))


_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


def _owned_by_name(column: ColumnElement[str] | Any, name: str) -> ColumnElement[bool]:
    # Worker ids are "<name>/<instance>"; a prefix comparison, not LIKE, since names may contain "_".
    prefix = f"{name}/"
    return func.substr(column, 1, len(prefix)) == prefix


@functools.cache
def _list_statements(
    *, by_user: bool, by_status: bool, listing: bool = False
) -> tuple[Select[Any], Select[tuple[int]]]:
    """A page of jobs, newest first (whole rows, or ``listing``: :class:`JobListing`'s columns), and the count of
    all that match; bound parameters as :func:`_list_params`.

    Built once per shape: the list is polled, and building the statements cost more than SQLite running them.
    """
    conditions: builtins.list[ColumnElement[bool]] = []
    if by_user:
        conditions.append(J.user_id == bindparam("user_id"))
    if by_status:
        conditions.append(J.status == bindparam("status"))
    columns = [J[name] for name in LISTING_COLUMNS] if listing else [jobs_table]
    page = (
        select(*columns)
        .where(*conditions)
        .order_by(J.created_at.desc(), J.id.desc())
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return page, select(func.count()).select_from(jobs_table).where(*conditions)


def _list_params(user_id: str | None, status: JobStatus | None, limit: int, offset: int) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "status": None if status is None else JobStatus(status).value,
        "limit": limit,
        "offset": offset,
    }


class JobStore:
    """Jobs and worker heartbeats in SQLite or PostgreSQL.

    Build it from an engine (``JobStore(engine)``, schema already upgraded) or with :meth:`open`. The store
    owns the engine: :meth:`close` disposes it. All methods are safe to call from several tasks and several
    processes at once; every datetime they take must be aware, and every one they return is aware UTC.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Writers take SQLite's write lock when their transaction starts (see db._set_up_sqlite).
        self._write_engine = engine.execution_options(**{IMMEDIATE: True})
        self._dialect = engine.dialect.name
        self._autocommit_engine = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self._dialect == "postgresql" else None
        )
        # SQLite: the job list's reads and the claim run as one call in a worker thread on a synchronous engine
        # (see _read); the limiter, made on first use (it needs the event loop), bounds those threads.
        self._sqlite_sync = create_sqlite_sync_engine(engine, _SYNC_THREADS)
        self._sync_threads: anyio.CapacityLimiter | None = None

    @classmethod
    async def open(cls, url: str) -> Self:
        """Create an engine for ``url``, bring its schema up to date and return a store on it."""
        engine = create_engine(url)
        try:
            await upgrade_database(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    async def close(self) -> None:
        """Close every connection of the store's engine."""
        if self._sqlite_sync is not None:
            self._sqlite_sync.dispose()
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # Transactions are shielded from cancellation: they are short, and a statement cancelled half-way makes
    # SQLAlchemy terminate the connection in a task of its own. With aiosqlite that task can wait forever for
    # the connection's thread, which already stopped — asyncio's final task cancellation then never ends and
    # a process that is shutting down hangs (seen when the ExApp could not bind its port).
    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        with anyio.CancelScope(shield=True):
            async with self._write_engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _writing_one(self) -> AsyncIterator[AsyncConnection]:
        """For a write that is one statement: on PostgreSQL without BEGIN and COMMIT (autocommit; a statement is
        atomic by itself, triggers included), two round trips fewer for each lease renewal and each job's end.
        SQLite keeps its ``BEGIN IMMEDIATE``: the write lock must be taken up front."""
        if self._autocommit_engine is None:
            async with self._writing() as conn:
                yield conn
            return
        with anyio.CancelScope(shield=True):
            async with self._autocommit_engine.connect() as conn:
                yield conn

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        with anyio.CancelScope(shield=True):
            async with self.engine.begin() as conn:
                yield conn

    async def _read(self, work: Callable[[Connection], _T]) -> _T:
        """``work(connection)`` inside one read transaction, its result returned.

        On a SQLite file the whole of it runs as one call in a worker thread, on a synchronous engine. Through
        aiosqlite every statement, fetch, BEGIN and COMMIT is a hand-over to the connection's thread and back —
        about ten per page of jobs — and each hand-over contends for the GIL with the event loop: under 50
        concurrent polls that, not SQLite, was most of a request's time. Elsewhere it runs on the async engine.
        """
        if self._sqlite_sync is None:
            async with self._reading() as conn:
                return await conn.run_sync(work)
        return await self._in_thread(self._sqlite_sync, work)

    async def _write(self, work: Callable[[Connection], _T]) -> _T:
        """``work(connection)`` inside one write transaction (SQLite: ``BEGIN IMMEDIATE``), as :meth:`_read`."""
        if self._sqlite_sync is None:
            async with self._writing() as conn:
                return await conn.run_sync(work)
        return await self._in_thread(self._sqlite_sync.execution_options(**{IMMEDIATE: True}), work)

    async def _in_thread(self, engine: Engine, work: Callable[[Connection], _T]) -> _T:
        if self._sync_threads is None:
            self._sync_threads = anyio.CapacityLimiter(_SYNC_THREADS)
        return await anyio.to_thread.run_sync(_in_transaction, engine, work, limiter=self._sync_threads)

    # -- creating and reading ------------------------------------------------------------------------------

    async def create_many(self, jobs: Sequence[NewJob], *, now: datetime | None = None) -> list[JobRecord]:
        """Insert ``jobs`` as pending jobs in one statement; their records come back in the same order."""
        if not jobs:
            return []
        now = _now(now)
        rows: builtins.list[dict[str, Any]] = [
            {
                "user_id": job.user_id,
                "file_id": job.file_id,
                "source_path": job.source_path,
                "source_etag": job.source_etag,
                "target": job.target,
                "options": dict(job.options),
                "status": JobStatus.PENDING.value,
                "progress": 0.0,
                "created_at": now,
                "queue_at": now - SMALL_JOB_HEAD_START if job.small else now,
                "updated_at": now,
                "retry_count": 0,
                "language": job.language,
                "notes": [],
            }
            for job in jobs
        ]
        # executemany + RETURNING becomes one multi-row INSERT per 1,000 rows ("insertmanyvalues"). RETURNING
        # order is not promised by either database. PostgreSQL gets SQLAlchemy's sort_by_parameter_order (a
        # sentinel it orders by); SQLite cannot do that in one statement, but it inserts the VALUES rows one
        # after another, each taking the next AUTOINCREMENT id, so sorting by id restores the input order.
        ordered_by_sqlalchemy = self._dialect != "sqlite"
        statement = insert(jobs_table).returning(*jobs_table.c, sort_by_parameter_order=ordered_by_sqlalchemy)
        async with self._writing() as conn:
            result = await conn.execute(statement, rows)
            records = [JobRecord.from_row(row) for row in result.mappings()]
        if not ordered_by_sqlalchemy:
            records.sort(key=lambda record: record.id)
        return records

    async def get(self, job_id: int, *, user_id: str | None = None) -> JobRecord:
        """The job ``job_id``; ``NotFound`` if it does not exist or (``user_id`` given) is not that user's."""
        async with self._reading() as conn:
            record = await self._get(conn, job_id, user_id)
        if record is None:
            raise NotFound(f"Job {job_id} not found")
        return record

    async def list(
        self,
        *,
        user_id: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[JobRecord], int]:
        """One page of jobs, newest first, and how many jobs match in total."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be at least 1 and offset at least 0")
        page, count = _list_statements(by_user=user_id is not None, by_status=status is not None)
        params = _list_params(user_id, status, limit, offset)

        def read(conn: Connection) -> tuple[builtins.list[JobRecord], int]:
            records = [JobRecord.from_row(row) for row in conn.execute(page, params).mappings()]
            return records, conn.execute(count, params).scalar_one()

        return await self._read(read)

    async def list_version(self, *, user_id: str) -> ListVersion:
        """How many jobs ``user_id`` has and when the latest of them last changed.

        Every change to a job row sets ``updated_at``; creating a job raises the maximum and deleting one lowers
        the count, so the pair changes whenever that user's job list does. It is what the list's ETag is made
        of: one indexed aggregate instead of reading and serialising the page.
        """
        return await self._read(lambda conn: self._list_version(conn, user_id))

    async def list_if_changed(
        self,
        unchanged: Callable[[ListVersion], bool],
        *,
        user_id: str,
        status: JobStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[ListVersion, tuple[builtins.list[JobListing], int] | None]:
        """:meth:`list_version`, and — unless ``unchanged(version)`` says the caller has that version
        already — :meth:`list`'s page (as :class:`JobListing` records) and total, read in one transaction (on SQLite in
        one thread hand-over, see :meth:`_read`). ``unchanged`` runs in that transaction, so it must be quick and
        must not block."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be at least 1 and offset at least 0")
        page, count = _list_statements(by_user=True, by_status=status is not None, listing=True)
        params = _list_params(user_id, status, limit, offset)

        def read(conn: Connection) -> tuple[ListVersion, tuple[builtins.list[JobListing], int] | None]:
            version = self._list_version(conn, user_id)
            if unchanged(version):
                return version, None
            records = [JobListing.from_row(row) for row in conn.execute(page, params)]
            # Unfiltered, the total is the version's count: one query fewer.
            total = version[0] if status is None else conn.execute(count, params).scalar_one()
            return version, (records, total)

        return await self._read(read)

    @staticmethod
    def _list_version(conn: Connection, user_id: str) -> ListVersion:
        count, latest = conn.execute(_LIST_VERSION, {"user_id": user_id}).one()
        # max() is an aggregate, so the column's type decorator does not run on it: SQLite gives text.
        if isinstance(latest, str):
            latest = datetime.fromisoformat(latest)
        return int(count), as_utc(latest)

    async def count_by_status(self, *, user_id: str | None = None) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status is present, zero if none)."""
        statement = select(J.status, func.count()).group_by(J.status)
        if user_id is not None:
            statement = statement.where(J.user_id == user_id)
        counts = dict.fromkeys(JobStatus, 0)
        async with self._reading() as conn:
            for status, count in await conn.execute(statement):
                counts[JobStatus(status)] = count
        return counts

    async def unfinished_count(self, user_id: str) -> int:
        """How many of this user's jobs are pending or processing (for the per-user limit)."""
        statement = select(func.count()).where(J.user_id == user_id, J.status.in_(_ACTIVE_VALUES))
        async with self._reading() as conn:
            return int((await conn.execute(statement)).scalar_one())

    async def active_ids(self) -> set[int]:
        """Ids of the pending and processing jobs (whose scratch files must be kept)."""
        async with self._reading() as conn:
            result = await conn.execute(select(J.id).where(J.status.in_(_ACTIVE_VALUES)))
            return set(result.scalars())

    # -- the worker's side ---------------------------------------------------------------------------------

    async def claim(
        self,
        worker_id: str,
        lease_seconds: float,
        *,
        max_running_per_user: int | None = None,
        now: datetime | None = None,
    ) -> JobRecord | None:
        """Take the next job that may run now, sharing the workers fairly between users; ``None`` if there
        is none.

        Among the jobs that may run now (pending, ``not_before`` passed) whose owner has fewer than
        ``max_running_per_user`` jobs processing (no cap when ``None`` or 0), the claim picks the user with the
        fewest jobs processing; on a tie, the one whose last turn (their latest job's start) is longest ago, users
        who never had one first — round robin —; then the one whose oldest such job has waited longest; then by
        user id.
        Within that user's queue the job with the earliest ``queue_at`` goes first — oldest first, small jobs
        with a head start (:data:`SMALL_JOB_HEAD_START`).

        The job becomes ``processing`` under a lease held by ``worker_id`` until ``now + lease_seconds``.
        However many workers in however many processes claim at once, each job goes to exactly one of them,
        and no user ever has more than ``max_running_per_user`` jobs processing.
        """
        now = _now(now)
        cap = max_running_per_user or None
        lease_expires_at = now + timedelta(seconds=lease_seconds)
        params: dict[str, Any] = {"now": now, "cap": cap, "worker_id": worker_id, "lease_expires_at": lease_expires_at}
        if self._dialect != "postgresql":
            # SQLite: one statement, inside a transaction that holds the database's write lock from the start
            # (BEGIN IMMEDIATE), so choosing the user and taking the job is atomic and the cap exact.
            statement = _sqlite_claim(with_cap=cap is not None)
            row = await self._write(lambda conn: conn.execute(statement, params).mappings().first())
            return JobRecord.from_row(row) if row is not None else None
        # PostgreSQL: claimers run side by side. Each claims for a user only while holding that user's advisory
        # lock, and re-counts the user's running jobs under it (READ COMMITTED: a statement sees every claim
        # committed before it), so two claimers can never both take a user's last free place. The ranking
        # itself takes the lock of the first user, in fair-share order, whose lock is free (one round trip,
        # and claimers that race spread over the users instead of queueing on the first); a claimer waits for
        # a lock only when every user with work is being claimed for at that moment.
        lock_first_free, ranking, claim_for = _pg_claim_statements(with_cap=cap is not None)
        tried: builtins.list[str] = []
        async with self._writing() as conn:
            while (user_id := await conn.scalar(lock_first_free, {**params, "tried": tried})) is not None:
                tried.append(user_id)
                row = (await conn.execute(claim_for, {**params, "claim_user": user_id})).mappings().first()
                if row is not None:
                    return JobRecord.from_row(row)
        async with self._reading() as conn:
            contended = [u for u in (await conn.execute(ranking, params)).scalars() if u not in tried]
        for user_id in contended:
            # One lock per transaction: a claimer that waits holds no other user's lock, so no deadlock.
            async with self._writing() as conn:
                await conn.execute(_user_lock(user_id, wait=True))
                row = (await conn.execute(claim_for, {**params, "claim_user": user_id})).mappings().first()
                if row is not None:
                    return JobRecord.from_row(row)
        return None

    @staticmethod
    def _lock_first_free_user(now: datetime, cap: int | None, tried: Any) -> Select[tuple[str]]:
        """PostgreSQL: the first user in fair-share order, except ``tried`` (an expanding parameter), whose claim
        lock this transaction could take — taken until the transaction ends."""
        ranking = JobStore._fair_order(now, cap)
        ranking = ranking.where(ranking.selected_columns.user_id.not_in(tried))
        # OFFSET 0 keeps the ordered ranking a subquery of its own; PostgreSQL never pushes a volatile condition
        # (the lock) into it, so the condition runs on the sorted rows one by one and LIMIT 1 stops at the first
        # lock taken: no other user's lock is touched.
        in_order = ranking.offset(0).subquery("in_order")
        lock = func.pg_try_advisory_xact_lock(_CLAIM_LOCK_SPACE, func.hashtext(in_order.c.user_id))
        return select(in_order.c.user_id).where(lock).limit(1)

    @staticmethod
    def _fair_order(now: datetime, cap: int | None) -> Select[tuple[str]]:
        """The users with a job that may run now and room under ``cap``, in fair-share order."""
        # Who has work, how much of it runs and when their last turn was: one row each in queue_users (kept by
        # triggers, see models.QueueUser); only how long each one's oldest job has waited is read from the jobs.
        waiting_jobs = _ALIASES["waiting_jobs"]
        # ORDER BY … LIMIT 1 rather than min(): it walks ix_jobs_waiting from the oldest job and stops at the
        # first one without a pending retry delay, where min() with that filter would read them all.
        waiting_since = (
            select(waiting_jobs.c.created_at)
            .where(
                waiting_jobs.c.status == _PENDING,
                waiting_jobs.c.user_id == Q.user_id,
                or_(waiting_jobs.c.not_before.is_(None), waiting_jobs.c.not_before <= now),
            )
            .order_by(waiting_jobs.c.created_at)
            .limit(1)
            .scalar_subquery()
        )
        with_work = [Q.pending > 0]
        if cap is not None:
            with_work.append(Q.running < cap)
        ranked = (
            select(Q.user_id, Q.running, Q.last_turn, waiting_since.label("waiting_since"))
            .where(*with_work)
            .cte("ranked")
            # Evaluated once per user: inlined, the subquery would run again for the ORDER BY.
            .prefix_with("MATERIALIZED")
        )
        statement = select(ranked.c.user_id).where(ranked.c.waiting_since.is_not(None))  # not all delayed
        # Without the last turn, a user whose job just ended would be tied with a newcomer (both 0 running) and
        # win by the age of their batch: with one place, everyone would queue behind the whole batch again.
        last_turn_first = ranked.c.last_turn.asc().nulls_first()
        return statement.order_by(ranked.c.running, last_turn_first, ranked.c.waiting_since, ranked.c.user_id)

    @staticmethod
    def _claim_for(user_id: str | ColumnElement[str], now: datetime, cap: int | None, values: dict[str, Any]) -> Any:
        """``UPDATE … RETURNING`` taking ``user_id``'s next job (a user id or an expression choosing one) if
        the user is still under ``cap``."""
        candidates = _ALIASES["candidates"]
        head = (
            select(candidates.c.id)
            .where(
                candidates.c.status == _PENDING,
                candidates.c.user_id == user_id,
                or_(candidates.c.not_before.is_(None), candidates.c.not_before <= now),
            )
            .order_by(candidates.c.queue_at, candidates.c.id)
            .limit(1)
            # PostgreSQL: skip a row another transaction has locked (a user cancelling it) instead of waiting
            # for it. SQLite drops the clause; its writers are serialised anyway.
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        conditions = [J.id == head, J.status == _PENDING]
        if cap is not None:
            running_jobs = _ALIASES["running_jobs"]
            running = (
                select(func.count())
                .select_from(running_jobs)
                .where(running_jobs.c.status == _PROCESSING, running_jobs.c.user_id == user_id)
                .scalar_subquery()
            )
            conditions.append(running < cap)
        return update(jobs_table).where(*conditions).values(**values).returning(*jobs_table.c)

    async def renew(
        self,
        job_id: int,
        worker_id: str,
        lease_seconds: float,
        *,
        progress: float | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Extend ``worker_id``'s lease on the job (and record ``progress``, 0–100, if given).

        ``False`` means the job is no longer this worker's to run — it was cancelled, or reaped after the lease
        ran out — and the worker must stop working on it.
        """
        now = _now(now)
        values: dict[str, Any] = {"lease_expires_at": now + timedelta(seconds=lease_seconds), "updated_at": now}
        if progress is not None:
            values["progress"] = _clamp_progress(progress)
        statement = update(jobs_table).where(self._held_by(job_id, worker_id)).values(**values).returning(J.id)
        async with self._writing_one() as conn:
            return (await conn.execute(statement)).first() is not None

    async def complete(
        self,
        job_id: int,
        worker_id: str,
        *,
        output_path: str,
        output_file_id: int | None,
        notes: Sequence[str] | None = None,
        now: datetime | None = None,
    ) -> JobRecord | None:
        """Mark the job ``completed`` with its output; ``None`` if ``worker_id`` no longer holds it."""
        now = _now(now)
        values: dict[str, Any] = {
            "status": JobStatus.COMPLETED.value,
            "progress": 100.0,
            "finished_at": now,
            "updated_at": now,
            "output_path": output_path,
            "output_file_id": output_file_id,
            "error_message": None,
            "error_ref": None,
            **_NO_LEASE,
        }
        if notes is not None:
            values["notes"] = [stored(note) for note in notes]
        return await self._release(job_id, worker_id, values)

    async def fail(self, job_id: int, worker_id: str, message: str, *, now: datetime | None = None) -> JobRecord | None:
        """Mark the job ``failed`` with ``message`` (shown to the user); ``None`` if ``worker_id`` no longer
        holds it."""
        now = _now(now)
        values = {
            "status": JobStatus.FAILED.value,
            "finished_at": now,
            "updated_at": now,
            **_error(message),
            **_NO_LEASE,
        }
        return await self._release(job_id, worker_id, values)

    async def requeue(
        self,
        job_id: int,
        worker_id: str,
        message: str,
        delay_seconds: float,
        *,
        count_attempt: bool = True,
        now: datetime | None = None,
    ) -> JobRecord | None:
        """Put the job back in the queue after a transient failure, claimable again ``delay_seconds`` from
        now; ``retry_count`` goes up by one (unless ``count_attempt`` is false: the job only waits, e.g. for
        disk space) and ``error_message`` keeps ``message``. ``None`` if ``worker_id`` no longer holds it."""
        now = _now(now)
        values = {
            "status": JobStatus.PENDING.value,
            "retry_count": J.retry_count + (1 if count_attempt else 0),
            "not_before": now + timedelta(seconds=max(0.0, delay_seconds)),
            "started_at": None,
            "progress": 0.0,
            "updated_at": now,
            **_error(message),
            **_NO_LEASE,
        }
        return await self._release(job_id, worker_id, values)

    async def release(
        self, job_id: int, worker_id: str, *, message: str | None = None, now: datetime | None = None
    ) -> JobRecord | None:
        """Hand the job back untouched (a worker shutting down, or Nextcloud down): pending again, claimable at
        once, no attempt counted; ``message`` (if given) tells the user why it waits. ``None`` if
        ``worker_id`` no longer holds it."""
        now = _now(now)
        values = {
            "status": JobStatus.PENDING.value,
            "not_before": None,
            "started_at": None,
            "progress": 0.0,
            "updated_at": now,
            **(_error(message) if message is not None else {}),
            **_NO_LEASE,
        }
        return await self._release(job_id, worker_id, values)

    async def keep_output(
        self, job_id: int, worker_id: str, kept: dict[str, Any] | None, *, now: datetime | None = None
    ) -> bool:
        """Record (or with ``None`` forget) the finished output waiting in scratch for its upload, so that a
        later attempt — even in another process — uploads it instead of encoding again. ``False`` if
        ``worker_id`` no longer holds the job."""
        statement = (
            update(jobs_table)
            .where(self._held_by(job_id, worker_id))
            .values(kept_output=kept, updated_at=_now(now))
            .returning(J.id)
        )
        async with self._writing_one() as conn:
            return (await conn.execute(statement)).first() is not None

    async def fail_pending(self, message: str, *, now: datetime | None = None) -> builtins.list[JobRecord]:
        """Fail every pending job with ``message`` (Nextcloud has been down longer than the admin allows jobs
        to wait); returns the jobs this call failed."""
        now = _now(now)
        statement = (
            update(jobs_table)
            .where(J.status == JobStatus.PENDING.value)
            .values(status=JobStatus.FAILED.value, finished_at=now, updated_at=now, **_error(message), **_NO_LEASE)
            .returning(*jobs_table.c)
        )
        async with self._writing() as conn:
            return [JobRecord.from_row(row) for row in (await conn.execute(statement)).mappings()]

    # -- the outbox: notifications waiting for Nextcloud -------------------------------------------------

    async def queue_notification(
        self,
        user_id: str,
        subject: str,
        message: str,
        link: str = "",
        *,
        job_id: int | None = None,
        now: datetime | None = None,
    ) -> OutboxRecord:
        """Keep a notification that could not be delivered, to send it when Nextcloud is back."""
        statement = (
            insert(outbox_table)
            .values(user_id=user_id, job_id=job_id, subject=subject, message=message, link=link, created_at=_now(now))
            .returning(*outbox_table.c)
        )
        async with self._writing() as conn:
            return OutboxRecord.from_row((await conn.execute(statement)).mappings().one())

    async def take_notification(self) -> OutboxRecord | None:
        """Remove the oldest queued notification and return it; ``None`` when there is none to take now (the
        outbox is empty, or — PostgreSQL — the row it picked was just taken by another worker).

        Taking deletes: whoever took it is the only one to send it, so each is delivered at most once — a
        sender that cannot deliver puts it back with :meth:`queue_notification`.
        """
        oldest = select(OB.id).order_by(OB.id).limit(1).with_for_update(skip_locked=True).scalar_subquery()
        statement = delete(outbox_table).where(OB.id == oldest).returning(*outbox_table.c)
        async with self._writing() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return OutboxRecord.from_row(row) if row is not None else None

    async def outbox(self) -> builtins.list[OutboxRecord]:
        """The queued notifications, oldest first."""
        async with self._reading() as conn:
            result = await conn.execute(select(outbox_table).order_by(OB.id))
            return [OutboxRecord.from_row(row) for row in result.mappings()]

    async def reap_expired(
        self, max_attempts: int, *, now: datetime | None = None
    ) -> tuple[builtins.list[int], builtins.list[int]]:
        """Take back the jobs whose worker stopped renewing its lease (it crashed or was killed).

        A job that has now been attempted ``max_attempts`` times fails with a message saying so; every other
        one goes back to pending (``retry_count`` + 1), claimable at once. Returns ``(requeued_ids,
        failed_ids)``, each sorted.
        """
        now = _now(now)
        expired = and_(J.status == JobStatus.PROCESSING.value, J.lease_expires_at < now)
        return await self._reap(expired, max_attempts, now)

    async def predecessor_jobs(self, name: str, worker_id: str) -> builtins.list[int]:
        """Ids of the processing jobs leased by an earlier incarnation of the worker named ``name`` (a
        ``lease_owner`` of the form ``name/…`` other than ``worker_id``), sorted."""
        async with self._reading() as conn:
            result = await conn.execute(select(J.id).where(self._predecessors_of(name, worker_id)))
            return sorted(result.scalars())

    async def reap_predecessor(
        self, name: str, worker_id: str, max_attempts: int, *, now: datetime | None = None
    ) -> tuple[builtins.list[int], builtins.list[int]]:
        """Take back at once the jobs an earlier incarnation of the worker named ``name`` held, lease or not.

        Only for a caller that knows that incarnation is dead (it holds the name's :meth:`lock_name`); the jobs
        are treated exactly as :meth:`reap_expired` treats expired ones, and the predecessors' heartbeats are
        forgotten. Returns ``(requeued_ids, failed_ids)``, each sorted.
        """
        now = _now(now)
        reaped = await self._reap(self._predecessors_of(name, worker_id), max_attempts, now)
        forget = delete(workers_table).where(_owned_by_name(W.worker_id, name), W.worker_id != worker_id)
        async with self._writing() as conn:
            await conn.execute(forget)
        return reaped

    def lock_name(self, name: str, lock_dir: Path | None = None) -> NameLock:
        """A lock that at most one live process holds per worker ``name`` (see :mod:`.identity`)."""
        return NameLock(self.engine, name, lock_dir)

    @staticmethod
    def _predecessors_of(name: str, worker_id: str) -> ColumnElement[bool]:
        return and_(
            J.status == JobStatus.PROCESSING.value,
            _owned_by_name(J.lease_owner, name),
            J.lease_owner != worker_id,
        )

    async def _reap(
        self, expired: ColumnElement[bool], max_attempts: int, now: datetime
    ) -> tuple[builtins.list[int], builtins.list[int]]:
        attempts = J.retry_count + 1
        give_up = (
            update(jobs_table)
            .where(expired, attempts >= max_attempts)
            .values(
                status=JobStatus.FAILED.value,
                retry_count=attempts,
                finished_at=now,
                updated_at=now,
                # Built in SQL because each row has its own count.
                error_message=literal("The conversion was interrupted ")
                + cast(attempts, String)
                + literal(" times; giving up."),
                error_ref=literal(json.dumps({"id": GAVE_UP_INTERRUPTED, "params": {"count": 0}})[:-3])
                + cast(attempts, String)
                + literal("}}"),
                **_NO_LEASE,
            )
            .returning(J.id)
        )
        # Runs second, in the same transaction: the rows that gave up are no longer "processing".
        again = (
            update(jobs_table)
            .where(expired)
            .values(
                status=JobStatus.PENDING.value,
                retry_count=attempts,
                not_before=None,
                started_at=None,
                progress=0.0,
                updated_at=now,
                **_error(INTERRUPTED_MESSAGE),
                **_NO_LEASE,
            )
            .returning(J.id)
        )
        async with self._writing() as conn:
            failed = sorted((await conn.execute(give_up)).scalars())
            requeued = sorted((await conn.execute(again)).scalars())
        return requeued, failed

    # -- the user's side -----------------------------------------------------------------------------------

    async def cancel(self, job_id: int, *, user_id: str | None = None, now: datetime | None = None) -> JobRecord:
        """Cancel a pending or processing job; its worker learns of it when :meth:`renew` returns ``False``.

        ``NotFound`` if the job does not exist or is not ``user_id``'s; ``Conflict`` if it already finished.
        """
        now = _now(now)
        statement = (
            update(jobs_table)
            .where(self._owned(job_id, user_id), J.status.in_(_ACTIVE_VALUES))
            .values(status=JobStatus.CANCELLED.value, finished_at=now, updated_at=now, **_NO_LEASE)
            .returning(*jobs_table.c)
        )
        async with self._writing() as conn:
            row = (await conn.execute(statement)).mappings().first()
            if row is not None:
                return JobRecord.from_row(row)
            current = await self._get(conn, job_id, user_id)
        raise self._refusal(job_id, current, _("Job {id} is already {status}"))

    async def retry(self, job_id: int, *, user_id: str | None = None, now: datetime | None = None) -> JobRecord:
        """Queue a failed or cancelled job again, as if new (attempts, error, times and output cleared).

        ``NotFound`` if the job does not exist or is not ``user_id``'s; ``Conflict`` in any other status.
        """
        now = _now(now)
        statement = (
            update(jobs_table)
            .where(self._owned(job_id, user_id), J.status.in_(_RETRYABLE_VALUES))
            .values(
                status=JobStatus.PENDING.value,
                retry_count=0,
                progress=0.0,
                error_message=None,
                error_ref=None,
                started_at=None,
                finished_at=None,
                not_before=None,
                output_path=None,
                output_file_id=None,
                notes=[],
                kept_output=None,
                updated_at=now,
                **_NO_LEASE,
            )
            .returning(*jobs_table.c)
        )
        async with self._writing() as conn:
            row = (await conn.execute(statement)).mappings().first()
            if row is not None:
                return JobRecord.from_row(row)
            current = await self._get(conn, job_id, user_id)
        raise self._refusal(job_id, current, _("Job {id} is {status}; only failed or cancelled jobs can be retried"))

    async def delete(self, job_id: int, *, user_id: str | None = None) -> None:
        """Delete a finished job. ``NotFound`` if it does not exist or is not ``user_id``'s; ``Conflict`` while
        it is pending or processing."""
        statement = (
            delete(jobs_table).where(self._owned(job_id, user_id), J.status.in_(_FINISHED_VALUES)).returning(J.id)
        )
        async with self._writing() as conn:
            if (await conn.execute(statement)).first() is not None:
                return
            current = await self._get(conn, job_id, user_id)
        raise self._refusal(job_id, current, _("Job {id} is {status}; cancel it before deleting it"))

    # -- housekeeping --------------------------------------------------------------------------------------

    async def delete_finished_before(self, cutoff: datetime, *, dry_run: bool = False) -> builtins.list[int]:
        """Delete the finished jobs that finished before ``cutoff``; returns their ids, sorted.

        With ``dry_run`` nothing is deleted and the ids are those that would be.
        """
        cutoff = _now(cutoff)
        condition = and_(J.status.in_(_FINISHED_VALUES), J.finished_at < cutoff)
        if dry_run:
            async with self._reading() as conn:
                return sorted((await conn.execute(select(J.id).where(condition))).scalars())
        async with self._writing() as conn:
            return sorted((await conn.execute(delete(jobs_table).where(condition).returning(J.id))).scalars())

    async def beat(
        self,
        worker_id: str,
        host: str,
        pid: int,
        jobs_running: int,
        *,
        nextcloud_unreachable_since: datetime | None = None,
        nextcloud_error: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record that ``worker_id`` is alive now and running ``jobs_running`` jobs, and since when it finds
        Nextcloud unreachable (``None``: it answers)."""
        now = _now(now)
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        health = {"nextcloud_unreachable_since": nextcloud_unreachable_since, "nextcloud_error": nextcloud_error}
        statement = dialect_insert(workers_table).values(
            worker_id=worker_id, host=host, pid=pid, started_at=now, last_seen=now, jobs_running=jobs_running, **health
        )
        statement = statement.on_conflict_do_update(
            index_elements=[W.worker_id],
            set_={"host": host, "pid": pid, "last_seen": now, "jobs_running": jobs_running, **health},
        )
        async with self._writing() as conn:
            await conn.execute(statement)

    async def workers(self) -> builtins.list[WorkerRecord]:
        """Every worker that has beaten and not been removed, by ``worker_id``."""
        async with self._reading() as conn:
            result = await conn.execute(select(workers_table).order_by(W.worker_id))
            return [WorkerRecord.from_row(row) for row in result.mappings()]

    async def remove_worker(self, worker_id: str) -> None:
        """Forget ``worker_id`` (a worker calls this when it shuts down cleanly)."""
        async with self._writing() as conn:
            await conn.execute(delete(workers_table).where(W.worker_id == worker_id))

    # -- helpers -------------------------------------------------------------------------------------------

    @staticmethod
    def _owned(job_id: int, user_id: str | None) -> ColumnElement[bool]:
        if user_id is None:
            return J.id == job_id
        return and_(J.id == job_id, J.user_id == user_id)

    @staticmethod
    def _held_by(job_id: int, worker_id: str) -> ColumnElement[bool]:
        return and_(J.id == job_id, J.status == JobStatus.PROCESSING.value, J.lease_owner == worker_id)

    async def _release(self, job_id: int, worker_id: str, values: dict[str, Any]) -> JobRecord | None:
        statement = update(jobs_table).where(self._held_by(job_id, worker_id)).values(**values).returning(*jobs_table.c)
        async with self._writing_one() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return JobRecord.from_row(row) if row is not None else None

    @staticmethod
    async def _get(conn: AsyncConnection, job_id: int, user_id: str | None) -> JobRecord | None:
        row = (await conn.execute(select(jobs_table).where(JobStore._owned(job_id, user_id)))).mappings().first()
        return JobRecord.from_row(row) if row is not None else None

    @staticmethod
    def _refusal(job_id: int, current: JobRecord | None, reason: str) -> NotFound | Conflict:
        if current is None:
            return NotFound(_("Job {id} not found"), id=job_id)
        return Conflict(reason, id=job_id, status=Message(STATUS_WORDS[current.status]))

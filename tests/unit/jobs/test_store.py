"""The job store's promises, proven on SQLite and on PostgreSQL by the same tests."""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import pytest

from ex_app.lib.errors import Conflict, NotFound
from ex_app.lib.jobs import FINISHED, JobListing, JobRecord, JobStatus, JobStore, NewJob, create_engine

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
_older = itertools.count(1)


def new_job(n: int = 0, *, user_id: str = "alice", **changes: object) -> NewJob:
    values: dict[str, object] = {
        "user_id": user_id,
        "file_id": 1000 + n,
        "source_path": f"/Videos/clip{n}.mov",
        "target": "mp4",
        "source_etag": f"etag{n}",
        "options": {"crf": 23},
        "language": "de",
    }
    values.update(changes)
    return NewJob(**values)  # type: ignore[arg-type]


async def job_in(store: JobStore, status: JobStatus, *, user_id: str = "alice", worker: str = "w1") -> JobRecord:
    """A job brought to ``status`` through the store's own transitions."""
    # Each helper job is older than every job made before, so claim() is sure to pick it.
    created = T0 - timedelta(days=365, seconds=next(_older))
    (job,) = await store.create_many([new_job(user_id=user_id)], now=created)
    if status is JobStatus.PENDING:
        return job
    if status is JobStatus.CANCELLED:
        return await store.cancel(job.id)
    claimed = await store.claim(worker, 60)
    assert claimed is not None and claimed.id == job.id
    if status is JobStatus.PROCESSING:
        return claimed
    if status is JobStatus.COMPLETED:
        done = await store.complete(job.id, worker, output_path="/Videos/clip.mp4", output_file_id=7)
    else:
        done = await store.fail(job.id, worker, "ffmpeg could not decode the file")
    assert done is not None
    return done


# -- creating and reading ----------------------------------------------------------------------------------


async def test_create_many_inserts_1000_jobs_in_one_statement_keeping_order(store: JobStore) -> None:
    from sqlalchemy import event

    # How fast is the E1 benchmark's business; here: one INSERT for the whole batch, not one per file.
    inserts: list[str] = []

    def count(conn, cursor, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO JOBS"):
            inserts.append(statement)

    jobs = [new_job(n, user_id=f"user{n % 7}") for n in range(1000)]
    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        records = await store.create_many(jobs)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1, f"{len(inserts)} INSERT statements for one batch"
    assert [(r.file_id, r.user_id) for r in records] == [(j.file_id, j.user_id) for j in jobs]
    assert len({r.id for r in records}) == 1000
    assert (await store.list(limit=1))[1] == 1000


async def test_create_many_of_nothing_inserts_nothing(store: JobStore) -> None:
    assert await store.create_many([]) == []


async def test_new_job_is_pending_with_defaults_and_aware_utc_times(store: JobStore) -> None:
    (job,) = await store.create_many([new_job(1)])
    assert job.status is JobStatus.PENDING
    assert (job.progress, job.retry_count, job.notes, job.language) == (0.0, 0, (), "de")
    assert (job.source_path, job.source_etag, job.options, job.target) == (
        "/Videos/clip1.mov",
        "etag1",
        {"crf": 23},
        "mp4",
    )
    assert job.started_at is job.finished_at is job.not_before is job.lease_owner is job.lease_expires_at is None
    assert job.created_at.tzinfo is UTC and job.updated_at == job.created_at
    assert await store.get(job.id) == job


async def test_datetimes_in_any_zone_come_back_as_the_same_instant_in_utc(store: JobStore) -> None:
    paris_noon = datetime(2030, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    (job,) = await store.create_many([new_job()], now=paris_noon)
    claimed = await store.claim("w1", 30, now=paris_noon)
    assert claimed is not None
    for value in (job.created_at, claimed.started_at, claimed.lease_expires_at):
        assert value is not None and value.tzinfo is UTC
    assert claimed.started_at == paris_noon and claimed.started_at.hour == 10
    assert claimed.lease_expires_at == paris_noon + timedelta(seconds=30)
    fetched = await store.get(job.id)
    assert fetched.created_at.tzinfo is UTC and fetched.created_at == paris_noon


async def test_naive_datetimes_are_refused(store: JobStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.claim("w1", 30, now=datetime(2030, 1, 1))


async def test_get_of_a_missing_job_is_not_found(store: JobStore) -> None:
    with pytest.raises(NotFound, match=r"^Job 12 not found$"):
        await store.get(12)


async def test_get_of_another_users_job_is_not_found(store: JobStore) -> None:
    (job,) = await store.create_many([new_job(user_id="alice")])
    assert (await store.get(job.id, user_id="alice")).id == job.id
    with pytest.raises(NotFound, match=f"Job {job.id} not found"):
        await store.get(job.id, user_id="bob")


async def test_list_is_newest_first_with_the_total_and_filters(store: JobStore) -> None:
    first = await store.create_many([new_job(n) for n in range(3)], now=T0)
    later = await store.create_many([new_job(9, user_id="bob")], now=T0 + timedelta(minutes=1))
    await store.cancel(first[0].id)

    page, total = await store.list(limit=2)
    assert total == 4
    # Same created_at: the higher id is newer.
    assert [j.id for j in page] == [later[0].id, first[2].id]
    page, total = await store.list(limit=2, offset=2)
    assert ([j.id for j in page], total) == ([first[1].id, first[0].id], 4)

    assert [j.id for j in (await store.list(user_id="bob"))[0]] == [later[0].id]
    cancelled, total = await store.list(user_id="alice", status=JobStatus.CANCELLED)
    assert ([j.id for j in cancelled], total) == ([first[0].id], 1)
    assert await store.list(user_id="nobody") == ([], 0)


async def test_list_version_changes_with_every_change_to_the_users_jobs(store: JobStore) -> None:
    assert await store.list_version(user_id="alice") == (0, None)
    created = await store.create_many([new_job(n) for n in range(2)], now=T0)
    assert await store.list_version(user_id="alice") == (2, T0)

    await store.create_many([new_job(5, user_id="bob")], now=T0 + timedelta(minutes=5))
    assert await store.list_version(user_id="alice") == (2, T0), "another user's job changes nothing"

    claimed = await store.claim("w1", 60, now=T0 + timedelta(minutes=1))
    assert claimed is not None
    assert await store.list_version(user_id="alice") == (2, T0 + timedelta(minutes=1))
    await store.renew(claimed.id, "w1", 60, progress=40, now=T0 + timedelta(minutes=2))
    assert await store.list_version(user_id="alice") == (2, T0 + timedelta(minutes=2))

    await store.cancel(created[1].id, now=T0 + timedelta(minutes=3))
    await store.delete(created[1].id, user_id="alice")
    # A deleted job that was not the latest change still changes the pair, through the count.
    assert await store.list_version(user_id="alice") == (1, T0 + timedelta(minutes=2))


async def test_list_refuses_a_bad_page(store: JobStore) -> None:
    with pytest.raises(ValueError):
        await store.list(limit=0)
    with pytest.raises(ValueError):
        await store.list(offset=-1)


# -- claiming ------------------------------------------------------------------------------------------------


async def test_claim_takes_the_oldest_pending_job_first(store: JobStore) -> None:
    newer = await store.create_many([new_job(1)], now=T0 + timedelta(seconds=5))
    older = await store.create_many([new_job(2), new_job(3)], now=T0)
    order = []
    while (job := await store.claim("w1", 30, now=T0 + timedelta(minutes=1))) is not None:
        order.append(job.id)
    assert order == [older[0].id, older[1].id, newer[0].id]


async def test_claim_makes_the_job_processing_under_a_lease(store: JobStore) -> None:
    (job,) = await store.create_many([new_job()], now=T0)
    claimed = await store.claim("worker-a", 45, now=T0 + timedelta(seconds=1))
    assert claimed is not None and claimed.id == job.id
    assert claimed.status is JobStatus.PROCESSING
    assert claimed.lease_owner == "worker-a"
    assert claimed.lease_expires_at == T0 + timedelta(seconds=46)
    assert claimed.started_at == claimed.updated_at == T0 + timedelta(seconds=1)
    assert claimed.progress == 0 and claimed.error_message is None


async def test_claim_returns_none_when_nothing_is_pending(store: JobStore) -> None:
    assert await store.claim("w1", 30) is None
    await job_in(store, JobStatus.PROCESSING)
    await job_in(store, JobStatus.COMPLETED)
    assert await store.claim("w1", 30) is None


async def test_claim_waits_for_not_before_of_a_requeued_job(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    requeued = await store.requeue(job.id, "w1", "Nextcloud answered 503", 60, now=T0)
    assert requeued is not None and requeued.not_before == T0 + timedelta(seconds=60)
    assert await store.claim("w2", 30, now=T0 + timedelta(seconds=59)) is None
    again = await store.claim("w2", 30, now=T0 + timedelta(seconds=60))
    assert again is not None and again.id == job.id and again.lease_owner == "w2"
    assert again.retry_count == 1 and again.error_message is None


async def test_concurrent_claimers_on_separate_engines_never_get_the_same_job(db_url: str) -> None:
    setup = await JobStore.open(db_url)
    await setup.create_many([new_job(n) for n in range(20)])
    stores = [JobStore(create_engine(db_url)) for _ in range(8)]
    claimed: list[int] = []
    claimers: set[str] = set()

    async def claim_loop(store: JobStore, worker_id: str) -> None:
        while (job := await store.claim(worker_id, 30)) is not None:
            claimed.append(job.id)
            claimers.add(worker_id)

    try:
        async with anyio.create_task_group() as tg:
            for n, store in enumerate(stores):
                tg.start_soon(claim_loop, store, f"w{n}")
        assert sorted(claimed) == sorted(j.id for j in (await setup.list(limit=100))[0])
        assert len(claimers) > 1, "the claimers did not overlap; the test proved nothing"
        assert (await setup.count_by_status())[JobStatus.PROCESSING] == 20
    finally:
        for store in stores:
            await store.close()
        await setup.close()


async def test_claimers_in_separate_processes_never_get_the_same_job(db_url: str) -> None:
    setup = await JobStore.open(db_url)
    try:
        jobs = await setup.create_many([new_job(n) for n in range(40)])
    finally:
        await setup.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    outputs: list[str] = []
    # The processes start claiming together, once all of them have had time to import.
    start_at = time.time() + 1.0

    async def run(worker_id: str) -> None:
        command = [sys.executable, "-m", "tests.unit.jobs.claim_worker", db_url, worker_id, str(start_at)]
        result = await anyio.run_process(command, cwd=REPO_ROOT, env=env)
        outputs.append(result.stdout.decode())

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(run, f"proc{n}")
    claimed = [int(line) for output in outputs for line in output.split()]
    assert Counter(claimed) == Counter(j.id for j in jobs)


# -- the worker's transitions ------------------------------------------------------------------------------


async def test_renew_extends_the_lease_and_records_progress_clamped_to_100(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    assert await store.renew(job.id, "w1", 60, progress=42.5, now=T0)
    current = await store.get(job.id)
    assert (current.progress, current.lease_expires_at) == (42.5, T0 + timedelta(seconds=60))
    assert await store.renew(job.id, "w1", 60, now=T0 + timedelta(seconds=30))
    assert (await store.get(job.id)).progress == 42.5
    assert await store.renew(job.id, "w1", 60, progress=100.7)
    assert (await store.get(job.id)).progress == 100.0


async def test_renew_is_false_for_a_worker_that_does_not_hold_the_job(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING, worker="w1")
    assert not await store.renew(job.id, "w2", 60)
    assert not await store.renew(job.id + 1000, "w1", 60)


async def test_renew_is_false_once_the_user_cancelled(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    await store.cancel(job.id, user_id="alice")
    assert not await store.renew(job.id, "w1", 60, progress=50)
    assert (await store.get(job.id)).status is JobStatus.CANCELLED


async def test_complete_records_output_notes_and_full_progress(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    done = await store.complete(
        job.id, "w1", output_path="/Videos/clip.mp4", output_file_id=99, notes=["subtitle track dropped"], now=T0
    )
    assert done is not None and done.status is JobStatus.COMPLETED
    assert (done.output_path, done.output_file_id, done.notes) == ("/Videos/clip.mp4", 99, ("subtitle track dropped",))
    assert (done.progress, done.finished_at, done.lease_owner, done.lease_expires_at) == (100.0, T0, None, None)


async def test_fail_records_the_message_and_finishes_the_job(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    failed = await store.fail(job.id, "w1", "The file is not a video.", now=T0)
    assert failed is not None and failed.status is JobStatus.FAILED
    assert (failed.error_message, failed.finished_at, failed.lease_owner) == ("The file is not a video.", T0, None)


async def test_requeue_puts_the_job_back_with_backoff_and_one_more_retry(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    back = await store.requeue(job.id, "w1", "Nextcloud timed out", 20, now=T0)
    assert back is not None and back.status is JobStatus.PENDING
    assert (back.retry_count, back.error_message, back.not_before) == (
        1,
        "Nextcloud timed out",
        T0 + timedelta(seconds=20),
    )
    assert back.lease_owner is back.lease_expires_at is back.started_at is None


async def test_requeue_without_counting_an_attempt_waits_but_keeps_the_retry_count(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    back = await store.requeue(job.id, "w1", "Waiting for free space", 60, count_attempt=False, now=T0)
    assert back is not None and back.status is JobStatus.PENDING
    assert (back.retry_count, back.error_message, back.not_before) == (
        0,
        "Waiting for free space",
        T0 + timedelta(seconds=60),
    )


async def test_release_hands_the_job_back_claimable_at_once_without_counting_an_attempt(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    back = await store.release(job.id, "w1", now=T0)
    assert back is not None and back.status is JobStatus.PENDING
    assert (back.retry_count, back.not_before, back.lease_owner, back.started_at) == (0, None, None, None)
    again = await store.claim("w2", 30)
    assert again is not None and again.id == job.id


@pytest.mark.parametrize("action", ["complete", "fail", "requeue", "release"])
async def test_worker_transitions_only_apply_to_a_processing_job_the_worker_holds(store: JobStore, action: str) -> None:
    async def attempt(job_id: int, worker: str) -> JobRecord | None:
        if action == "complete":
            return await store.complete(job_id, worker, output_path="/x.mp4", output_file_id=1)
        if action == "fail":
            return await store.fail(job_id, worker, "boom")
        if action == "release":
            return await store.release(job_id, worker)
        return await store.requeue(job_id, worker, "later", 5)

    for status in JobStatus:
        job = await job_in(store, status, worker="w1")
        if status is not JobStatus.PROCESSING:
            assert await attempt(job.id, "w1") is None, status
            assert (await store.get(job.id)) == job, status
    job = await job_in(store, JobStatus.PROCESSING, worker="w1")
    assert await attempt(job.id, "intruder") is None
    assert await attempt(job.id + 1000, "w1") is None
    assert await attempt(job.id, "w1") is not None


# -- the user's transitions --------------------------------------------------------------------------------


async def test_cancel_stops_pending_and_processing_jobs(store: JobStore) -> None:
    for status in (JobStatus.PENDING, JobStatus.PROCESSING):
        job = await job_in(store, status)
        cancelled = await store.cancel(job.id, user_id="alice", now=T0)
        assert cancelled.status is JobStatus.CANCELLED
        assert (cancelled.finished_at, cancelled.lease_owner, cancelled.lease_expires_at) == (T0, None, None)


async def test_cancel_of_a_finished_job_is_a_conflict_naming_its_status(store: JobStore) -> None:
    for status in sorted(FINISHED):
        job = await job_in(store, status)
        with pytest.raises(Conflict, match=f"^Job {job.id} is already {status.value}$"):
            await store.cancel(job.id)
        assert (await store.get(job.id)) == job


async def test_user_transitions_on_someone_elses_or_a_missing_job_are_not_found(store: JobStore) -> None:
    job = await job_in(store, JobStatus.FAILED, user_id="alice")
    for call in (store.cancel, store.retry, store.delete):
        with pytest.raises(NotFound, match=f"Job {job.id} not found"):
            await call(job.id, user_id="bob")
        with pytest.raises(NotFound, match="Job 4242 not found"):
            await call(4242)
    assert (await store.get(job.id)) == job


async def test_retry_queues_a_failed_or_cancelled_job_again_as_new(store: JobStore) -> None:
    for status in (JobStatus.FAILED, JobStatus.CANCELLED):
        job = await job_in(store, status)
        again = await store.retry(job.id, user_id="alice", now=T0)
        assert again.status is JobStatus.PENDING
        assert (again.retry_count, again.progress, again.notes, again.updated_at) == (0, 0.0, (), T0)
        assert again.error_message is again.started_at is again.finished_at is again.not_before is None
        assert again.output_path is again.output_file_id is again.lease_owner is None


async def test_retry_clears_the_output_and_count_of_a_job_requeued_before_it_failed(store: JobStore) -> None:
    job = await job_in(store, JobStatus.PROCESSING)
    await store.requeue(job.id, "w1", "later", 0)
    await store.claim("w1", 30)
    await store.fail(job.id, "w1", "gave up")
    assert (await store.get(job.id)).retry_count == 1
    assert (await store.retry(job.id)).retry_count == 0


async def test_retry_of_a_pending_processing_or_completed_job_is_a_conflict(store: JobStore) -> None:
    for status in (JobStatus.PENDING, JobStatus.PROCESSING, JobStatus.COMPLETED):
        job = await job_in(store, status)
        with pytest.raises(Conflict, match=f"^Job {job.id} is {status.value}; only failed or cancelled"):
            await store.retry(job.id)
        assert (await store.get(job.id)) == job


async def test_delete_removes_only_finished_jobs(store: JobStore) -> None:
    for status in JobStatus:
        job = await job_in(store, status)
        if status in FINISHED:
            await store.delete(job.id, user_id="alice")
            with pytest.raises(NotFound):
                await store.get(job.id)
        else:
            with pytest.raises(Conflict, match=f"^Job {job.id} is {status.value}; cancel it"):
                await store.delete(job.id)
            assert (await store.get(job.id)) == job


# -- crash recovery ----------------------------------------------------------------------------------------


async def test_reap_leaves_jobs_with_a_live_lease_alone(store: JobStore) -> None:
    (job,) = await store.create_many([new_job()], now=T0)
    await store.claim("w1", 30, now=T0)
    assert await store.reap_expired(3, now=T0 + timedelta(seconds=29)) == ([], [])
    assert await store.renew(job.id, "w1", 30, now=T0 + timedelta(seconds=29))
    assert await store.reap_expired(3, now=T0 + timedelta(seconds=45)) == ([], [])


async def test_reap_requeues_expired_jobs_then_fails_them_after_max_attempts(store: JobStore) -> None:
    (job,) = await store.create_many([new_job()], now=T0)
    now = T0
    for attempt in (1, 2):
        assert (await store.claim(f"w{attempt}", 10, now=now)) is not None
        now += timedelta(seconds=11)
        assert await store.reap_expired(3, now=now) == ([job.id], [])
        current = await store.get(job.id)
        assert (current.status, current.retry_count, current.lease_owner) == (JobStatus.PENDING, attempt, None)
        assert current.error_message and "interrupted" in current.error_message
        # The dead worker's lease is gone: it can no longer touch the job.
        assert not await store.renew(job.id, f"w{attempt}", 10)
    assert (await store.claim("w3", 10, now=now)) is not None
    now += timedelta(seconds=11)
    assert await store.reap_expired(3, now=now) == ([], [job.id])
    failed = await store.get(job.id)
    assert (failed.status, failed.retry_count, failed.finished_at) == (JobStatus.FAILED, 3, now)
    assert failed.error_message == "The conversion was interrupted 3 times; giving up."


async def test_reap_with_one_attempt_fails_at_once_and_sorts_many_jobs(store: JobStore) -> None:
    jobs = await store.create_many([new_job(n) for n in range(3)], now=T0)
    for _ in jobs:
        await store.claim("w1", 10, now=T0)
    assert await store.reap_expired(1, now=T0 + timedelta(minutes=1)) == ([], [j.id for j in jobs])


# -- housekeeping ------------------------------------------------------------------------------------------


async def test_delete_finished_before_removes_old_finished_jobs_only(store: JobStore) -> None:
    old_done = await job_in(store, JobStatus.COMPLETED)
    old_failed = await job_in(store, JobStatus.FAILED)
    pending = await job_in(store, JobStatus.PENDING)
    processing = await job_in(store, JobStatus.PROCESSING)
    recent = await job_in(store, JobStatus.CANCELLED)
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    # A job that finishes after the cutoff must stay.
    late = await job_in(store, JobStatus.PROCESSING)
    await store.complete(late.id, "w1", output_path="/late.mp4", output_file_id=None, now=cutoff + timedelta(hours=1))

    expected = sorted([old_done.id, old_failed.id, recent.id])
    assert await store.delete_finished_before(cutoff, dry_run=True) == expected
    assert (await store.list())[1] == 6
    assert await store.delete_finished_before(cutoff) == expected
    assert {j.id for j in (await store.list())[0]} == {pending.id, processing.id, late.id}
    assert await store.delete_finished_before(cutoff) == []


async def test_count_by_status_and_active_ids(store: JobStore) -> None:
    assert await store.count_by_status() == dict.fromkeys(JobStatus, 0)
    made = {status: await job_in(store, status) for status in JobStatus}
    await job_in(store, JobStatus.PENDING, user_id="bob")
    counts = await store.count_by_status()
    assert counts == {**dict.fromkeys(JobStatus, 1), JobStatus.PENDING: 2}
    assert await store.count_by_status(user_id="bob") == {**dict.fromkeys(JobStatus, 0), JobStatus.PENDING: 1}
    active = await store.active_ids()
    assert {made[JobStatus.PENDING].id, made[JobStatus.PROCESSING].id} < active and len(active) == 3


async def test_beat_upserts_a_worker_and_remove_worker_forgets_it(store: JobStore) -> None:
    await store.beat("host-a:12", "host-a", 12, 0, now=T0)
    await store.beat("host-b:7", "host-b", 7, 1, now=T0)
    await store.beat("host-a:12", "host-a", 12, 2, now=T0 + timedelta(seconds=5))
    a, b = await store.workers()
    assert (a.worker_id, a.host, a.pid, a.jobs_running) == ("host-a:12", "host-a", 12, 2)
    assert (a.started_at, a.last_seen) == (T0, T0 + timedelta(seconds=5))
    assert a.last_seen.tzinfo is UTC and b.worker_id == "host-b:7"
    await store.remove_worker("host-a:12")
    await store.remove_worker("never-there")
    assert [w.worker_id for w in await store.workers()] == ["host-b:7"]


async def test_list_if_changed_reads_the_page_only_for_a_version_the_caller_does_not_have(store: JobStore) -> None:
    jobs = await store.create_many([new_job(n) for n in range(3)], now=T0)
    await store.create_many([new_job(7, user_id="bob")], now=T0)
    await store.cancel(jobs[0].id, now=T0 + timedelta(minutes=1))
    seen: list[tuple[int, datetime | None]] = []

    def unchanged(version: tuple[int, datetime | None]) -> bool:
        seen.append(version)
        return version == (3, T0 + timedelta(minutes=1))

    version, page = await store.list_if_changed(unchanged, user_id="alice", limit=2)
    assert (version, page, seen) == ((3, T0 + timedelta(minutes=1)), None, [version])

    version, page = await store.list_if_changed(lambda _: False, user_id="alice", limit=2)
    assert page is not None and version == (3, T0 + timedelta(minutes=1))
    assert ([j.id for j in page[0]], page[1]) == ([jobs[2].id, jobs[1].id], 3)
    records, total = await store.list(user_id="alice", limit=2)
    assert page == ([listed(r) for r in records], total), "the listing shows exactly what the row holds"
    cancelled = await store.list_if_changed(lambda _: False, user_id="alice", status=JobStatus.CANCELLED)
    assert cancelled[1] == ([listed(await store.get(jobs[0].id))], 1)


def listed(record: JobRecord) -> JobListing:
    """What the job list shows of ``record``: its fields of the same names."""
    return JobListing(**{field.name: getattr(record, field.name) for field in dataclasses.fields(JobListing)})


async def test_sqlite_file_stores_read_the_job_list_in_a_worker_thread(store: JobStore) -> None:
    # The list's reads and the claim run on a synchronous engine in one thread hand-over on a SQLite file (see
    # _read): each side must see what the other just committed.
    assert (store._sqlite_sync is not None) == (store.engine.dialect.name == "sqlite")
    (job,) = await store.create_many([new_job()], now=T0)
    assert await store.list_version(user_id="alice") == (1, T0)
    await store.cancel(job.id, now=T0 + timedelta(seconds=1))
    assert (await store.list(user_id="alice"))[0][0].status is JobStatus.CANCELLED
    assert await store.list_version(user_id="alice") == (1, T0 + timedelta(seconds=1))
    await store.retry(job.id, user_id="alice", now=T0 + timedelta(seconds=2))
    claimed = await store.claim("w1", 60, now=T0 + timedelta(seconds=3))
    assert claimed is not None and (await store.get(job.id)).status is JobStatus.PROCESSING


async def test_job_messages_keep_their_id_and_parameters_and_render_in_the_readers_language(store: JobStore) -> None:
    from ex_app.lib.i18n import Message

    (job,) = await store.create_many([new_job()], now=T0)
    assert (await store.claim("w1", 10, now=T0)) is not None
    reason = Message(
        "{file} could not be converted: {reason}", file="a.mov", reason=Message("Conversion failed: {file}", file="b")
    )
    failed = await store.fail(job.id, "w1", reason, now=T0)
    assert failed is not None
    # English stays in error_message for the CLI, the statistics and English API clients…
    assert failed.error_message == "a.mov could not be converted: Conversion failed: b"
    # …and the stored id and parameters render it again, nested message included, in another language.
    again = await store.get(job.id)
    assert again.error is not None and again.error.id == "{file} could not be converted: {reason}"
    assert again.error.render("fr") == "a.mov n'a pas pu être converti : Échec de la conversion : b"
    assert again.error.render("de") == "a.mov konnte nicht umgewandelt werden: Umwandlung fehlgeschlagen: b"


async def test_notes_are_stored_as_messages_and_old_plain_notes_still_read(store: JobStore) -> None:
    from ex_app.lib.i18n import Message

    jobs = await store.create_many([new_job(1), new_job(2)], now=T0)
    for job, notes in zip(
        jobs, ([Message("Conversion finished: {file}", file="x")], ["Conversion finished: {file}"]), strict=True
    ):
        claimed = await store.claim("w1", 10, now=T0)
        assert claimed is not None and claimed.id == job.id
        await store.complete(job.id, "w1", output_path="/o.mp4", output_file_id=1, notes=notes)
    with_ids, plain = [await store.get(j.id) for j in jobs]
    assert [m.render("fr") for m in with_ids.messages] == ["Conversion terminée : x"]
    # A row from before message ids: shown as it was stored (English), never lost.
    assert [str(m) for m in plain.messages] == ["Conversion finished: {file}"]


async def test_the_reapers_give_up_message_renders_in_the_readers_language(store: JobStore) -> None:
    (job,) = await store.create_many([new_job()], now=T0)
    assert (await store.claim("w1", 10, now=T0)) is not None
    assert await store.reap_expired(1, now=T0 + timedelta(minutes=1)) == ([], [job.id])
    failed = await store.get(job.id)
    assert failed.error is not None and failed.error.params == {"count": 1}
    assert str(failed.error) == failed.error_message == "The conversion was interrupted 1 times; giving up."
    assert failed.error.render("fr") != failed.error_message

"""The outbox and the outage transitions of the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import anyio
import pytest

from ex_app.lib.jobs import JobStatus, JobStore, NewJob

pytestmark = pytest.mark.anyio


async def test_each_queued_notification_is_taken_once_oldest_first(store: JobStore):
    for n in range(3):
        await store.queue_notification("alice", f"subject {n}", f"message {n}", "link", job_id=n)

    first = await store.take_notification()
    assert first is not None and (first.subject, first.job_id, first.link) == ("subject 0", 0, "link")
    assert [queued.subject for queued in await store.outbox()] == ["subject 1", "subject 2"]


async def test_concurrent_takers_never_get_the_same_notification(store: JobStore):
    for n in range(20):
        await store.queue_notification("bob", f"s{n}", f"m{n}")
    taken: list[str] = []

    async def taker() -> None:
        while await store.outbox():
            queued = await store.take_notification()
            if queued is not None:
                taken.append(queued.subject)

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(taker)
    assert sorted(taken) == sorted(f"s{n}" for n in range(20))  # every one, none twice
    assert await store.take_notification() is None


async def test_handing_back_spends_no_attempt_and_keeps_the_kept_output(store: JobStore):
    (job,) = await store.create_many([NewJob(user_id="alice", file_id=1, source_path="/a.mov", target="mp4")])
    assert await store.claim("w1", 60) is not None
    kept = {"path": "/scratch/job-1/output.mp4", "size": 10, "extension": "mp4", "notes": [], "source_etag": "e"}
    assert await store.keep_output(job.id, "w1", kept)

    back = await store.release(job.id, "w1", message="Waiting for Nextcloud")

    assert back is not None
    assert (back.status, back.retry_count, back.error_message) == (JobStatus.PENDING, 0, "Waiting for Nextcloud")
    assert back.kept_output == kept
    assert not await store.keep_output(job.id, "w1", None)  # no longer held by w1


async def test_past_the_outage_budget_every_pending_job_fails(store: JobStore):
    pending = await store.create_many(
        [NewJob(user_id="alice", file_id=n, source_path=f"/{n}.mov", target="mp4") for n in range(3)]
    )
    running = await store.claim("w1", 60)
    assert running is not None

    failed = await store.fail_pending("Nextcloud could not be reached for more than 6 hours")

    assert sorted(job.id for job in failed) == sorted(job.id for job in pending if job.id != running.id)
    assert {job.status for job in failed} == {JobStatus.FAILED}
    assert (await store.get(running.id)).status is JobStatus.PROCESSING  # decided when its own step fails


async def test_the_heartbeat_carries_since_when_nextcloud_is_unreachable(store: JobStore):
    from datetime import UTC, datetime

    since = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    await store.beat("w1", "host", 1, 0, nextcloud_unreachable_since=since, nextcloud_error="refused")
    (worker,) = await store.workers()
    assert (worker.nextcloud_unreachable_since, worker.nextcloud_error) == (since, "refused")
    await store.beat("w1", "host", 1, 0)
    (worker,) = await store.workers()
    assert (worker.nextcloud_unreachable_since, worker.nextcloud_error) == (None, None)

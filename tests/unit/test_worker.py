"""The worker's bookkeeping against a real SQLite store; Nextcloud is a recording stand-in for the gateway."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import anyio
import pytest

from ex_app.lib.jobs import JobStatus, JobStore, NewJob
from ex_app.lib.settings import Settings
from ex_app.lib.worker import Worker
from tests.unit.test_admin_settings import StoredSettings

pytestmark = pytest.mark.anyio


class RecordingGateway:
    """Only what the reaper path needs: notifications, remembered."""

    sent: ClassVar[list[tuple[str, str, str]]] = []

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id

    async def notify(self, subject: str, message: str, link: str = "") -> None:
        RecordingGateway.sent.append((self.user_id, subject, message))

    def folder_link(self, path: str) -> str:
        return f"folder of {path}"


async def test_a_job_interrupted_too_often_fails_and_its_owner_is_told(store: JobStore, tmp_path: Path):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path), max_attempts=2, lease_seconds=5)
    (job,) = await store.create_many([NewJob(user_id="alice", file_id=7, source_path="/V/a.mov", target="mp4")])
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    for _ in range(2):  # claimed by workers that then died, twice
        await store.claim("dead-worker", 5, now=long_ago)
        RecordingGateway.sent.clear()
        await Worker(store, settings, RecordingGateway)._maintain_once()

    failed = await store.get(job.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error_message == "The conversion was interrupted 2 times; giving up."
    assert RecordingGateway.sent == [
        ("alice", "Conversion failed: a.mov", "a.mov could not be converted: " + failed.error_message)
    ]


async def test_an_interrupted_job_is_queued_again_without_a_notification(store: JobStore, tmp_path: Path):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path), max_attempts=3, lease_seconds=5)
    (job,) = await store.create_many([NewJob(user_id="bob", file_id=8, source_path="/b.mov", target="mkv")])
    await store.claim("dead-worker", 5, now=datetime.now(UTC) - timedelta(minutes=10))
    RecordingGateway.sent.clear()

    await Worker(store, settings, RecordingGateway)._maintain_once()

    again = await store.get(job.id)
    assert (again.status, again.retry_count, again.lease_owner) == (JobStatus.PENDING, 1, None)
    assert RecordingGateway.sent == []


async def test_the_worker_caps_one_users_running_jobs_at_half_of_all_workers_places(store: JobStore, tmp_path: Path):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path), concurrency=4, lease_seconds=30)
    await store.create_many(
        [NewJob(user_id="alice", file_id=n, source_path=f"/V/{n}.mov", target="mp4") for n in range(10)]
    )
    worker = Worker(store, settings, RecordingGateway)
    assert [await worker._claim() is not None for _ in range(3)] == [True, True, False]
    # A second live worker process doubles the places, and so the cap; a long-dead one does not count.
    await store.beat("other-host:1:aaaa", "other-host", 1, 0)
    await store.beat("gone-host:2:bbbb", "gone-host", 2, 0, now=datetime.now(UTC) - timedelta(hours=1))
    await worker._maintain_once()
    assert worker.workers_alive == 2
    assert [await worker._claim() is not None for _ in range(3)] == [True, True, False]


async def test_idle_polls_read_no_settings_and_each_job_starts_with_the_latest_ones(store: JobStore, tmp_path: Path):
    settings = Settings(
        APP_PERSISTENT_STORAGE=str(tmp_path), poll_seconds=0.05, settings_refresh_seconds=0.01, lease_seconds=30
    )
    live = StoredSettings(settings)
    polls: list[int] = []
    started: list[tuple[int, int]] = []  # (job id, max_input_minutes in force when it started)

    class Watched(Worker):
        async def _claim(self):
            polls.append(live.reads)
            return await super()._claim()

        async def _run_job(self, job, slot):
            started.append((job.id, live.current.max_input_minutes))
            await super()._run_job(job, slot)

    async def claimed(job_id: int) -> None:
        for _ in range(500):
            if (await store.get(job_id)).status is not JobStatus.PENDING:
                return
            await anyio.sleep(0.02)
        raise AssertionError(f"job #{job_id} was never claimed")

    worker = Watched(store, settings, RecordingGateway, live)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        for _ in range(200):
            if len(polls) >= 6:  # polls of an empty queue ...
                break
            await anyio.sleep(0.05)
        assert live.reads == 1  # ... and one read, at the start

        # Work queued by another process, found by a poll.
        live.stored["max_input_minutes"] = "1"
        (first,) = await store.create_many([NewJob(user_id="alice", file_id=1, source_path="/a.mov", target="mp4")])
        await claimed(first.id)
        await anyio.sleep(0.3)
        # Work created in this process, which wakes the worker.
        live.stored["max_input_minutes"] = "2"
        (second,) = await store.create_many([NewJob(user_id="alice", file_id=2, source_path="/b.mov", target="mp4")])
        worker.wake()
        await claimed(second.id)
        # The claim is committed (and seen above) a moment before the worker starts the job's task.
        for _ in range(500):
            if len(started) >= 2:
                break
            await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert started == [(first.id, 1), (second.id, 2)]


async def test_with_every_encoder_busy_the_next_claim_waits_a_poll_round_for_other_workers(
    store: JobStore, tmp_path: Path
):
    """A job claimed into a transfer place would wait here for an encoder while another worker may be idle."""
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path), concurrency=1, poll_seconds=0.4, lease_seconds=30)
    worker = Worker(store, settings, RecordingGateway)

    async def held_back() -> bool:
        """Whether the worker is still holding back its claim a third of a poll round later."""
        with anyio.move_on_after(0.4 / 3) as timeout:
            await worker._let_idle_replicas_go_first()
        return timeout.cancelled_caught

    # Alone, nobody else could take the job: claim into the transfer place at once.
    worker.running = {1}
    assert not await held_back()
    # Another live worker, and the only encoder here busy: hold back ...
    worker.workers_alive = 2
    assert await held_back()
    # ... but not past a round and a half of polling: the job then downloads here while the encoder works.
    with anyio.fail_after(5):
        await worker._let_idle_replicas_go_first()
    # A wake-up that frees nothing here (a new job queued) does not end the wait; one of our jobs ending does.
    async with anyio.create_task_group() as tg:
        waited = anyio.Event()

        async def wait() -> None:
            await worker._let_idle_replicas_go_first()
            waited.set()

        tg.start_soon(wait)
        await anyio.sleep(0.05)
        worker.wake()
        await anyio.sleep(0.05)
        assert not waited.is_set()
        worker.running = set()
        worker.wake()
        with anyio.fail_after(0.2):
            await waited.wait()
    # With a free encoder here there is nothing to wait for.
    assert not await held_back()

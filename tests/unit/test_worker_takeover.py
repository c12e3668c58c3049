"""A worker restarted under its name takes back its dead predecessor's jobs at once; a second live worker with
the same name takes nothing and runs under a name of its own (real SQLite store, real locks)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ex_app.lib.jobs import JobStatus, JobStore, NewJob
from ex_app.lib.settings import Settings
from ex_app.lib.worker import Worker

from .test_worker import RecordingGateway

pytestmark = pytest.mark.anyio


def settings_for(tmp_path: Path, name: str) -> Settings:
    return Settings(APP_PERSISTENT_STORAGE=str(tmp_path), worker_name=name, lease_seconds=60, max_attempts=3)


async def test_a_restarted_worker_takes_back_its_dead_predecessors_jobs_at_once(store: JobStore, tmp_path: Path):
    settings = settings_for(tmp_path, "node-1")
    jobs = await store.create_many(
        [NewJob(user_id="alice", file_id=n, source_path=f"/v{n}.mov", target="mkv") for n in (1, 2)]
    )
    # The dead run of node-1 holds job 1 with a fresh lease; another replica holds job 2.
    await store.claim("node-1/100-dead", 60)
    await store.claim("node-2/200-alive", 60)
    await store.beat("node-1/100-dead", "host", 100, 1)
    dead_scratch = settings.scratch / f"job-{jobs[0].id}-{'0' * 32}"
    dead_scratch.mkdir(parents=True)
    (dead_scratch / "output.mkv").write_bytes(b"half a video")
    worker = Worker(store, settings, RecordingGateway)

    await worker._claim_name()
    await worker._take_back_from_predecessor()

    assert worker.name == "node-1"
    taken = await store.get(jobs[0].id)
    assert (taken.status, taken.retry_count, taken.lease_owner) == (JobStatus.PENDING, 1, None)
    assert not dead_scratch.exists()
    assert (await store.get(jobs[1].id)).status is JobStatus.PROCESSING  # not ours: its lease decides
    assert [w.worker_id for w in await store.workers()] == []  # the dead run's heartbeat is forgotten
    await worker.name_lock.release()


async def test_a_second_live_worker_with_the_same_name_takes_nothing_and_runs_under_its_own(
    store: JobStore, tmp_path: Path
):
    settings = settings_for(tmp_path, "node-1")
    (job,) = await store.create_many([NewJob(user_id="alice", file_id=1, source_path="/v.mov", target="mkv")])
    first = Worker(store, settings, RecordingGateway)
    await first._claim_name()
    claimed = await store.claim(first.worker_id, 60, now=datetime.now(UTC))
    assert claimed is not None and claimed.id == job.id

    second = Worker(store, settings, RecordingGateway)
    await second._claim_name()
    await second._take_back_from_predecessor()

    assert second.name.startswith("node-1-") and second.worker_id.startswith(second.name + "/")
    assert (await store.get(job.id)).lease_owner == first.worker_id  # the live one keeps its job
    await second.name_lock.release()
    await first.name_lock.release()

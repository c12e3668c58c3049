"""Worker names: one live holder per name, freed when the holder dies, and the fast takeover of a dead
predecessor's jobs — on SQLite and on PostgreSQL."""

from __future__ import annotations

import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from ex_app.lib.jobs import JobStatus, JobStore
from ex_app.lib.jobs.store import INTERRUPTED_MESSAGE

from .test_store import T0, new_job

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[3]

HOLDER = """
import sys, anyio
from ex_app.lib.jobs import JobStore, create_engine

async def main():
    store = JobStore(create_engine(sys.argv[1]))
    lock = store.lock_name(sys.argv[2])
    print("held" if await lock.acquire() else "taken", flush=True)
    await anyio.sleep(3600)

anyio.run(main)
"""


async def test_a_name_has_one_holder_at_a_time(store: JobStore) -> None:
    first, second, other = store.lock_name("node-1"), store.lock_name("node-1"), store.lock_name("node-2")
    assert await first.acquire()
    assert not await second.acquire()
    assert await other.acquire()  # another name is another lock
    await first.release()
    await first.release()  # idempotent
    assert await second.acquire()
    await second.release()
    await other.release()


async def test_a_name_is_free_again_once_its_holder_is_killed(store: JobStore, db_url: str) -> None:
    holder = await anyio.open_process([sys.executable, "-c", HOLDER, db_url, "node-1"], cwd=REPO_ROOT)
    try:
        assert holder.stdout is not None
        with anyio.fail_after(30):
            assert (await holder.stdout.receive()).startswith(b"held")
        lock = store.lock_name("node-1")
        assert not await lock.acquire()
        holder.send_signal(signal.SIGKILL)  # no cleanup code runs: the OS / the server must free the lock
        await holder.wait()
        deadline = time.monotonic() + 10
        while not await lock.acquire():
            assert time.monotonic() < deadline, "the dead holder's lock was not freed within 10 s"
            await anyio.sleep(0.1)
        await lock.release()
    finally:
        if holder.returncode is None:
            holder.kill()
        await holder.aclose()


async def test_reap_predecessor_takes_back_only_the_earlier_runs_of_that_name(store: JobStore) -> None:
    jobs = await store.create_many([new_job(n) for n in range(5)], now=T0)
    # Leases far from expiring: the takeover does not wait for them.
    owners = ["node_1/100-dead", "node_1/300-self", "node_10/5-other", "nodex1/6-other", "node_1/101-dead"]
    for job, owner in zip(jobs, owners, strict=True):
        claimed = await store.claim(owner, 3600, now=T0)
        assert claimed is not None and claimed.id == job.id
    for owner in owners:
        await store.beat(owner, "host", 1, 1, now=T0)
    later = T0 + timedelta(seconds=1)

    assert await store.predecessor_jobs("node_1", "node_1/300-self") == [jobs[0].id, jobs[4].id]
    requeued, failed = await store.reap_predecessor("node_1", "node_1/300-self", 3, now=later)

    assert (requeued, failed) == ([jobs[0].id, jobs[4].id], [])
    for job_id in requeued:
        job = await store.get(job_id)
        assert (job.status, job.retry_count, job.lease_owner) == (JobStatus.PENDING, 1, None)
        assert job.error_message == INTERRUPTED_MESSAGE
    for job in (jobs[1], jobs[2], jobs[3]):  # ourselves, and other names (a prefix, "_" as a letter)
        assert (await store.get(job.id)).status is JobStatus.PROCESSING
    # The dead runs' heartbeats are forgotten; everybody else's stay.
    assert sorted(w.worker_id for w in await store.workers()) == [
        "node_1/300-self",
        "node_10/5-other",
        "nodex1/6-other",
    ]
    assert not await store.renew(jobs[0].id, "node_1/100-dead", 60)  # the dead run can no longer touch it


async def test_reap_predecessor_fails_a_job_out_of_attempts(store: JobStore) -> None:
    (job,) = await store.create_many([new_job()], now=T0)
    now = T0
    for attempt in (1, 2):
        assert await store.claim(f"node/{attempt}", 3600, now=now) is not None
        now += timedelta(seconds=1)
        assert await store.reap_predecessor("node", f"node/{attempt + 1}", 3, now=now) == ([job.id], [])
    assert await store.claim("node/3", 3600, now=now) is not None
    assert await store.reap_predecessor("node", "node/4", 3, now=now) == ([], [job.id])
    failed = await store.get(job.id)
    assert (failed.status, failed.retry_count) == (JobStatus.FAILED, 3)

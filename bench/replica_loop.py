"""One worker replica of the P7 benchmark: ``python -m bench.replica_loop URL NAME TASKS START_AT``.

What a real worker does with the queue, without ffmpeg and Nextcloud: it takes its name's lock, takes back the
jobs a dead earlier run under that name held (as ``Worker.run`` does), then runs ``TASKS`` claim → complete
loops at once (a worker's concurrency) with the real :class:`JobStore` until the queue is empty. From the epoch
time ``START_AT`` on; it prints ``C <id>`` for every job it completed and ``R <id>`` for every job it took back.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import anyio

from ex_app.lib.admin_settings import AdminSettings
from ex_app.lib.jobs import JobStatus, JobStore, create_engine
from ex_app.lib.settings import Settings

LEASE_SECONDS = 30.0
REPLICAS = 4


async def main(url: str, name: str, tasks: int, start_at: float) -> None:
    store = JobStore(create_engine(url, pool_size=tasks + 2))
    worker_id = f"{name}/{os.getpid()}-{uuid.uuid4().hex[:8]}"
    lock = store.lock_name(name)
    # The default per-user cap of a deployment of REPLICAS workers running `tasks` jobs each.
    cap = AdminSettings.defaults(Settings(concurrency=tasks)).running_per_user(REPLICAS)
    try:
        if not await lock.acquire():
            raise SystemExit(f"{name}: another live process holds this name")
        requeued, failed = await store.reap_predecessor(name, worker_id, max_attempts=3)
        for job_id in requeued + failed:
            print(f"R {job_id}", flush=True)
        await anyio.sleep(max(0.0, start_at - time.time()))

        async def loop() -> None:
            while True:
                job = await store.claim(worker_id, LEASE_SECONDS, max_running_per_user=cap)
                if job is None:
                    # Nothing for us now: the queue is empty, or every waiting user is at the cap.
                    if not (await store.count_by_status())[JobStatus.PENDING]:
                        return
                    await anyio.sleep(0.005)
                    continue
                done = await store.complete(job.id, worker_id, output_path=f"/out/{job.id}.mp4", output_file_id=None)
                if done is not None:
                    print(f"C {job.id}", flush=True)

        async with anyio.create_task_group() as tg:
            for _ in range(tasks):
                tg.start_soon(loop)
    finally:
        await lock.release()
        await store.close()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))

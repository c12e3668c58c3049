"""A claim loop run as a separate process by the concurrency tests: ``python -m tests.unit.jobs.claim_worker
URL WORKER_ID START_AT`` waits until the epoch time START_AT, then claims until the queue is empty, completing
each job, and prints the ids it got, one a line."""

from __future__ import annotations

import sys
import time

import anyio

from ex_app.lib.jobs import JobStore, create_engine


async def main(url: str, worker_id: str, start_at: str) -> None:
    store = JobStore(create_engine(url))
    try:
        await store.count_by_status()  # connect before the start, so that all processes contend from the first claim
        await anyio.sleep(max(0.0, float(start_at) - time.time()))
        while (job := await store.claim(worker_id, 30)) is not None:
            print(job.id, flush=True)
            await anyio.sleep(0.005)  # "work": keeps the processes overlapping
            await store.complete(job.id, worker_id, output_path=f"/out/{job.id}.mp4", output_file_id=None)
    finally:
        await store.close()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3])

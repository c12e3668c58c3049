"""P7: worker replicas on one PostgreSQL queue — exactly once, claims per second, and a replica killed mid-run.

P7  4 worker processes (``bench/replica_loop.py``: the real JobStore's claim → complete, 4 at once per process,
    the default per-user cap, no ffmpeg) drain 10,000 short jobs of 100 users: jobs done twice (completed by
    two claims) and lost (not completed at the end) — goal 0 and 0 — and claims per second (goal ≥ 500/s).
    Then the same with 10,000 new jobs, one replica SIGKILLed once 3,000 are done and restarted under its name
    at once: its jobs in flight are taken back by the restarted process (fast takeover), not after the lease.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from bench.replica_loop import LEASE_SECONDS, REPLICAS
from ex_app.lib.jobs import JobStatus, JobStore, NewJob, create_engine
from tests.postgres import PostgresServer, reachable

if TYPE_CHECKING:
    from .run import Bench

ROOT = Path(__file__).resolve().parents[1]
# 10,000 as the issue asks; VCFM_BENCH_P7_JOBS for a quick look on a busy machine.
JOBS = int(os.environ.get("VCFM_BENCH_P7_JOBS", "10000"))
USERS = 100
TASKS = 4
KILL_AFTER = JOBS * 3 // 10


async def _fill(url: str) -> None:
    store = await JobStore.open(url)
    try:
        now = datetime.now(UTC) - timedelta(minutes=1)
        jobs = [
            NewJob(user_id=f"user{n % USERS:03d}", file_id=n + 1, source_path=f"/Videos/{n:05d}.mov", target="mkv")
            for n in range(JOBS)
        ]
        await store.create_many(jobs, now=now)
    finally:
        await store.close()


async def _counts(url: str) -> tuple[dict[JobStatus, int], int]:
    store = JobStore(create_engine(url))
    try:
        counts = await store.count_by_status()
        async with store.engine.begin() as conn:
            retried = (await conn.exec_driver_sql("SELECT count(*) FROM jobs WHERE retry_count > 0")).scalar_one()
        return counts, int(retried)
    finally:
        await store.close()


class Replica:
    """One ``bench/replica_loop.py`` process; its output goes to a file (a pipe could fill up unread)."""

    def __init__(self, url: str, name: str, work: Path) -> None:
        self.url, self.name, self.work = url, name, work
        self.outputs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, start_at: float) -> None:
        out = self.work / f"{self.name}-{len(self.outputs)}.out"
        self.outputs.append(out)
        with out.open("wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.replica_loop", self.url, self.name, str(TASKS), str(start_at)],
                stdout=fh,
                cwd=ROOT,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def wait(self) -> None:
        assert self.proc is not None
        assert self.proc.wait(timeout=1800) == 0, f"{self.name} exited with {self.proc.returncode}"

    def lines(self) -> list[str]:
        return [line for out in self.outputs for line in out.read_text().splitlines()]


def _run(url: str, work: Path, *, kill: bool) -> tuple[float, int, int, list[str]]:
    """Drain 10,000 jobs with 4 replicas; (claims/s, done twice, lost, lines to print)."""
    anyio.run(_fill, url)
    start_at = time.time() + 3  # every process connected and holding its name before the first claim
    replicas = [Replica(url, f"replica-{n}", work) for n in range(REPLICAS)]
    for replica in replicas:
        replica.start(start_at)
    if kill:
        while anyio.run(_counts, url)[0][JobStatus.COMPLETED] < KILL_AFTER:
            time.sleep(0.05)
        replicas[0].kill()
        replicas[0].start(time.time())  # restarted at once, under the same name
    for replica in replicas:
        replica.wait()
    seconds = time.time() - start_at  # until the last replica found the queue empty
    lines = [line for replica in replicas for line in replica.lines()]
    completions = Counter(int(line[2:]) for line in lines if line.startswith("C "))
    taken_back = sum(line.startswith("R ") for line in lines)
    counts, retried = anyio.run(_counts, url)
    twice = sum(1 for n in completions.values() if n > 1)
    lost = JOBS - counts[JobStatus.COMPLETED]
    claims = sum(completions.values()) + taken_back
    rate = claims / seconds
    label = f"one replica SIGKILLed after {KILL_AFTER:,} jobs and restarted" if kill else "no failure"
    report = [
        f"   {label}: {JOBS:,} jobs in {seconds:.1f} s, {claims:,} claims = {rate:.0f} claims/s (goal ≥ 500), "
        f"done twice {twice}, lost {lost}"
    ]
    if kill:
        report.append(
            f"   the killed replica's {taken_back} job(s) in flight were taken back by its restart at once "
            f"(retry_count 1 on {retried} job(s)), not after the {LEASE_SECONDS:.0f} s lease"
        )
    return rate, twice, lost, report


def p7(bench: Bench) -> None:
    server = PostgresServer()
    if (why := reachable(server)) is not None:
        print(f"P7 not measured ({why})", flush=True)
        return
    try:
        runs = [_run(anyio.run(server.create_database), bench.work, kill=kill) for kill in (False, True)]
    finally:
        anyio.run(server.drop_all)
    rate = min(run[0] for run in runs)
    twice, lost = sum(run[1] for run in runs), sum(run[2] for run in runs)
    print(f"P7 {rate:.0f}    (claims/s, {REPLICAS} worker processes × {TASKS} at once on PostgreSQL, the lower of "
          f"the two runs; done twice {twice}, lost {lost}; the real store's claim → complete loop, no ffmpeg)",
          flush=True)  # fmt: skip
    for run in runs:
        for line in run[3]:
            print(line, flush=True)

"""P4 (queue throughput) and R1 (what each job and an idle minute cost Nextcloud), through the stand-in.

P4  20 AVI → MP4 transcodes queued at once (one Files action), wall time from the first job's creation to the
    last one's end, divided by the same 20 ffmpeg commands run bare on local files, as many at a time as the
    ExApp's concurrency (2). Goal ≤ 1.10. One user's jobs, with the per-user cap lifted to the worker's places:
    the fair-share cap is F1's subject, here the question is whether the pipeline keeps the CPUs busy.
R1  requests the ExApp sends Nextcloud (the stand-in's request log, by EX-APP-ID) per job for a ~30 MB result
    (an MP4 remuxed to MKV): one job alone after an idle spell (not the process's first, which also fetches the
    capabilities), and three queued together; then per idle
    minute, counted over ``VCFM_BENCH_R1_IDLE_SECONDS`` (60) of a registered ExApp with nothing to do and
    scaled to a minute. Goals ≤ 6 and ≤ 1.
"""

from __future__ import annotations

import collections
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ex_app.lib.media import build_command, get_target, parse_ffprobe
from ex_app.lib.worker.worker import jobs_in_flight
from tests.integration.harness import APP_ID
from tests.integration.jobs_helpers import action_entry, trigger, wait_job
from tests.media import ffprobe, make_video

if TYPE_CHECKING:
    from bench.run import Bench

P4_JOBS = 20
P4_CONCURRENCY = 2


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _bare(sources: list[Path], target_id: str, work: Path, at_once: int) -> float:
    """The ExApp's own ffmpeg commands for ``sources``, ``at_once`` at a time; seconds for all of them."""
    target = get_target(target_id)
    commands = []
    for n, source in enumerate(sources):
        info = parse_ffprobe(ffprobe(source))
        commands.append(build_command(target, info, source, work / f"bare{n}.{target.extension}"))
    started = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        for result in pool.map(lambda c: subprocess.run(c, capture_output=True), commands):
            result.check_returncode()
    elapsed = time.perf_counter() - started
    for n in range(len(sources)):
        (work / f"bare{n}.{target.extension}").unlink()
    return elapsed


def p4(bench: Bench) -> None:
    clip = make_video(bench.work / "p4.avi", seconds=6, size="640x360", codec="mpeg4", extra=("-q:v", "4"))
    bench.start_exapp(
        VCFM_CONCURRENCY=str(P4_CONCURRENCY), VCFM_MAX_RUNNING_PER_USER=str(jobs_in_flight(P4_CONCURRENCY))
    )
    folder = f"/bench/p4-{time.monotonic_ns()}"
    bench.nextcloud.mkdir("alice", folder)
    entries = []
    for n in range(P4_JOBS):
        bench.nextcloud.upload("alice", f"{folder}/clip{n:02d}.avi", clip)
        entries.append(action_entry(bench.nextcloud, "alice", f"{folder}/clip{n:02d}.avi"))
    jobs = [j["job_id"] for j in trigger(bench.nextcloud, "alice", "mp4", entries)["jobs"]]
    done = [wait_job(bench.nextcloud, "alice", job_id, timeout=3600) for job_id in jobs]
    failed = [j for j in done if j["status"] != "completed"]
    if failed:
        raise SystemExit(f"bench P4: {len(failed)} jobs failed: {failed[0]}")
    queue = (max(_time(j["finished_at"]) for j in done) - min(_time(j["created_at"]) for j in done)).total_seconds()
    bare = _bare([clip] * P4_JOBS, "mp4", bench.work, P4_CONCURRENCY)
    print(
        f"P4 {queue / bare:.3f}    ({P4_JOBS} queued AVI → MP4 jobs {queue:.1f} s / the same {P4_JOBS} bare ffmpeg "
        f"runs {bare:.1f} s, {P4_CONCURRENCY} at a time; goal ≤ 1.10)",
        flush=True,
    )
    bench.nextcloud.delete("alice", folder)


def _sent(bench: Bench, since: int) -> list[dict]:
    return [r for r in bench.nextcloud.faults.requests(since) if r["ex_app_id"] == APP_ID]


def _last_seq(bench: Bench) -> int:
    return max((r["seq"] for r in bench.nextcloud.faults.requests()), default=0)


def _kinds(requests: list[dict]) -> str:
    def kind(r: dict) -> str:
        path = r["path"]
        if "/cloud/capabilities" in path:
            return "capabilities"
        if "/ex-app/config" in path or "get-values" in path:
            return "settings"
        if "/notification" in path:
            return "notification"
        return r["method"]

    counts = collections.Counter(kind(r) for r in requests)
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def r1(bench: Bench) -> None:
    # ~30 MB of H.264 that the MKV target only remuxes: the result is as big as the source.
    source = make_video(
        bench.work / "r1.mp4", seconds=16, size="1280x720", extra=("-preset", "ultrafast", "-b:v", "20M")
    )
    bench.start_exapp(VCFM_SETTINGS_REFRESH_SECONDS="10")
    idle_seconds = float(os.environ.get("VCFM_BENCH_R1_IDLE_SECONDS", "60"))
    folder = f"/bench/r1-{time.monotonic_ns()}"
    bench.nextcloud.mkdir("alice", folder)
    for n in range(5):
        bench.nextcloud.upload("alice", f"{folder}/clip{n}.mp4", source)

    def run(names: list[str]) -> tuple[int, list[dict], int]:
        since = _last_seq(bench)
        entries = [action_entry(bench.nextcloud, "alice", f"{folder}/{name}") for name in names]
        jobs = [j["job_id"] for j in trigger(bench.nextcloud, "alice", "mkv", entries)["jobs"]]
        done = [wait_job(bench.nextcloud, "alice", job_id, timeout=600) for job_id in jobs]
        assert all(j["status"] == "completed" for j in done), done
        time.sleep(1)  # the notification follows the job's completion
        size = bench.nextcloud.standin.state.get("alice", done[0]["output"]["path"].strip("/")).size
        return len(jobs), _sent(bench, since), size

    # A new process asks for the capabilities once for its settings client and once for its jobs (then every
    # ten minutes): its first job, after the settings read at registration has aged, pays for that, and is not
    # counted.
    time.sleep(12)
    _, first, _ = run(["clip4.mp4"])
    time.sleep(12)  # past the settings' busy age, as after any idle spell
    count, alone, size = run(["clip0.mp4"])
    time.sleep(12)
    count3, together, _ = run(["clip1.mp4", "clip2.mp4", "clip3.mp4"])

    time.sleep(12)
    since = _last_seq(bench)
    time.sleep(idle_seconds)
    idle = _sent(bench, since)
    per_minute = len(idle) * 60 / idle_seconds
    print(
        f"R1 {len(alone) / count:.1f} per job, {per_minute:.2f} per idle minute    (a {size / 1e6:.0f} MB result; one "
        f"job after an idle spell: {_kinds(alone)}; three queued together: {len(together) / count3:.1f} per job "
        f"({_kinds(together)}); a new process's first job: {len(first)}; idle: {len(idle)} requests in "
        f"{idle_seconds:.0f} s; goals ≤ 6 and ≤ 1)",
        flush=True,
    )
    bench.nextcloud.delete("alice", folder)

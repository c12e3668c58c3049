"""Nextcloud stopped, then in maintenance mode, for many times the old retry budget: no job is lost.

Measured on a real Nextcloud 29 before this worked: a 41 s stop during a 13 s transcode failed the job for good
("gave up after 3 attempts"), threw the finished encode away, and the failure notification was never sent.
Here the outage (first connections refused — the stand-in's port closed — then 503 maintenance mode) outlasts
the retry budget of this ExApp (2 attempts, 0.5 s backoff) more than ten times over, hits one job during its
encode and one during its upload, with a third job queued: all three complete, each encoded and downloaded once,
no attempt is spent, and every notification arrives.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.media import make_video

from .conftest import FAST_ENV, ExAppInPlace
from .harness import ROOT, ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, new_folder, trigger, wait_job, wait_running

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 6  # each phase; the old budget (2 attempts, 0.5 s backoff) was spent after 0.5 s


@pytest.fixture
def patient(nextcloud: NextcloudTarget, in_place_of_the_session_exapp: ExAppInPlace) -> Iterator[ExAppProcess]:
    if not nextcloud.is_standin:
        pytest.skip("stopping Nextcloud and maintenance mode on cue need the stand-in")
    env = {**FAST_ENV, "VCFM_CONCURRENCY": "1", "VCFM_MAX_ATTEMPTS": "2", "VCFM_RETRY_BACKOFF_SECONDS": "0.5"}
    with in_place_of_the_session_exapp(**env) as process:
        try:
            yield process
        finally:
            nextcloud.faults.maintenance(False)


def _status(process: ExAppProcess) -> dict:
    """``video-converter-fm status --json`` against the ExApp's database, as an admin would run it."""
    result = subprocess.run(
        [sys.executable, "-m", "ex_app.lib.cli", "status", "--json"],
        cwd=ROOT,
        env=process.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


def test_an_outage_then_maintenance_lose_no_job_and_spend_no_attempt(
    nextcloud: NextcloudTarget, patient: ExAppProcess, tmp_path: Path
):
    standin = nextcloud.standin
    assert standin is not None
    folder = new_folder(nextcloud, "alice")
    # Long enough to stop Nextcloud while ffmpeg works on it; the others are short.
    long_clip = make_video(tmp_path / "long.mp4", seconds=10)
    short_clip = make_video(tmp_path / "short.mp4", seconds=2)
    names = {"encode.mp4": long_clip, "upload.mp4": short_clip, "queued.mp4": short_clip}
    for name, clip in names.items():
        nextcloud.upload("alice", f"{folder}/{name}", clip)
    entries = [action_entry(nextcloud, "alice", f"{folder}/{name}") for name in names]
    first_request = nextcloud.faults.requests()[-1]["seq"]
    jobs = [job["job_id"] for job in trigger(nextcloud, "alice", "webm", entries)["jobs"]]
    encode_job, upload_job, _queued_job = jobs

    # Phase 1: Nextcloud stops (connection refused) while the first job encodes.
    wait_running(nextcloud, "alice", encode_job)
    standin.stop()
    try:
        _wait_for(
            "the worker noticing Nextcloud is down",
            lambda: f"Job #{encode_job} waits for Nextcloud (no attempt spent)" in patient.log(),
        )
        report = _status(patient)
        assert report["nextcloud"]["reachable"] is False
        assert report["nextcloud"]["summary"].startswith("Nextcloud unreachable since ")
        assert any(p.startswith("Nextcloud unreachable since ") for p in report["problems"])
        time.sleep(OUTAGE_SECONDS)
        # Nothing was claimed meanwhile: all three wait, none failed.
        queue = _status(patient)["queue"]
        assert (queue["pending"], queue["processing"], queue["counts"]["failed"]) == (3, 0, 0), queue
    finally:
        standin.start()  # same port, same state

    # The first job only uploads what it had encoded; then the second job runs.
    assert wait_job(nextcloud, "alice", encode_job, timeout=60)["status"] == "completed"

    # Phase 2: maintenance mode begins while the second job uploads (its result's PUT is held for 2 s).
    nextcloud.faults.hang(2.0, method="PUT", path_prefix=f"/remote.php/dav/files/alice{folder}/upload")
    _wait_for(
        "the second job's upload",
        lambda: any(r.get("fault") == "hang" for r in nextcloud.faults.requests(first_request)),
        timeout=120,
    )
    nextcloud.faults.maintenance(True)
    try:
        _wait_for(
            "the worker noticing maintenance mode",
            lambda: f"Job #{upload_job} waits for Nextcloud (no attempt spent)" in patient.log(),
        )
        time.sleep(OUTAGE_SECONDS)
        assert "maintenance" in (_status(patient)["nextcloud"]["summary"])
    finally:
        nextcloud.faults.maintenance(False)

    finished = [wait_job(nextcloud, "alice", job_id, timeout=180) for job_id in jobs]
    assert [job["status"] for job in finished] == ["completed"] * 3, finished
    assert [job["retry_count"] for job in finished] == [0, 0, 0]
    log = patient.log()
    for job_id in jobs:
        assert log.count(f"Job #{job_id}: encoding ") == 1, job_id  # ffmpeg ran once per job
    for job_id in (encode_job, upload_job):
        assert f"Job #{job_id}: its converted file waited in scratch; only uploading it" in log
    requests = nextcloud.faults.requests(first_request)
    for name in names:
        downloads = [r for r in requests if r["method"] == "GET" and r["path"].endswith(f"{folder}/{name}")]
        assert len([r for r in downloads if r["status"] == 200]) == 1, name  # each source downloaded once
    outputs = sorted(n for n in nextcloud.listdir("alice", folder) if n.endswith(".webm"))
    assert outputs == ["encode.webm", "queued.webm", "upload.webm"]  # no "(1)" twins
    _wait_for("Nextcloud reported reachable again", lambda: _status(patient)["nextcloud"]["reachable"] is True)
    finished_notes = [n["subject"] for n in nextcloud.notifications("alice") if "finished" in n["subject"]]
    for name in names:
        assert finished_notes.count(f"Conversion finished: {name}") == 1, finished_notes

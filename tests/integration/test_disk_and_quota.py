"""Full disks on both sides: the converter's scratch disk (ENOSPC, too little room) and the user's quota (507).

The scratch-disk tests run the ExApp with its scratch folder on a small tmpfs that the test fills and empties;
mounting needs root (CAP_SYS_ADMIN), so elsewhere they skip with the reason. They are not the only proof: that a
full disk becomes "the converter's disk is full" (and not a broken video or a Nextcloud outage) is also shown
portably through ``/dev/full`` (tests/unit/media/test_real_ffmpeg.py, tests/integration/test_gateway.py), and the
go / wait / never decision is unit-tested (tests/unit/test_scratch_space.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.media import make_video

from .conftest import FAST_ENV, ExAppInPlace
from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, get_job, needs_faults, new_folder, trigger, wait_job, wait_running

pytestmark = pytest.mark.integration

DISK_FULL = "The converter's disk is full"
WAITING = "Waiting for free space on the converter's disk"
QUOTA_FULL = "Your storage is full: there is not enough free space in your Nextcloud for the converted file"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


# ---- the user's quota: 507 Insufficient Storage ------------------------------------------------------------------
def test_a_full_quota_fails_the_job_once_and_leaves_no_partial_file(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    needs_faults(nextcloud)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/clip.mp4")
    since = nextcloud.faults.requests()[-1]["seq"]
    seen = {n["notification_id"] for n in nextcloud.notifications("alice")}
    # Several in a row: a job that retried would meet the fault again and show it in its retry count.
    # The result is small, so it goes as one PUT (a full quota at a chunked upload's MOVE: test_gateway.py).
    nextcloud.faults.status(count=5, status=507, method="PUT", path_prefix=f"/remote.php/dav/files/alice{folder}/")
    try:
        job = wait_job(nextcloud, "alice", trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"])
        uploads_left = nextcloud.faults.uploads()
        faults_hit = sum(1 for r in nextcloud.faults.requests(since) if r["fault"] == "status")
    finally:
        nextcloud.faults.clear()

    assert job["status"] == "failed", job
    assert job["error_message"] == QUOTA_FULL
    assert job["retry_count"] == 0 and faults_hit == 1  # no retry loop
    assert nextcloud.listdir("alice", folder) == ["clip.mp4"]  # nothing partial in the user's folder
    assert [u for u in uploads_left if u["user"] == "alice"] == []  # the chunks were removed too
    fresh = wait_for(
        lambda: [n for n in nextcloud.notifications("alice") if n["notification_id"] not in seen],
        "the failure notification",
    )
    assert [n["subject"] for n in fresh] == ["Conversion failed: clip.mp4"]
    assert "Your storage is full" in fresh[0]["message"]


def test_a_killed_exapp_during_the_upload_leaves_no_partial_file_and_finishes_once(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    needs_faults(nextcloud)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    since = nextcloud.faults.requests()[-1]["seq"]
    # The result's PUT hangs, so the process is surely in the middle of its upload when it is killed.
    nextcloud.faults.hang(seconds=30, count=1, method="PUT", path_prefix=f"/remote.php/dav/files/alice{folder}/")
    try:
        job_id = trigger(nextcloud, "alice", "mkv", [action_entry(nextcloud, "alice", f"{folder}/clip.mp4")])["jobs"][
            0
        ]["job_id"]
        wait_for(lambda: any(r["fault"] == "hang" for r in nextcloud.faults.requests(since)), "the upload to start")
        exapp.kill()  # SIGKILL: no cleanup code runs
        assert nextcloud.listdir("alice", folder) == ["clip.mp4"]
    finally:
        nextcloud.faults.clear()
        exapp.start()

    job = wait_job(nextcloud, "alice", job_id, timeout=120)
    assert job["status"] == "completed", job
    assert job["retry_count"] == 1
    assert sorted(nextcloud.listdir("alice", folder)) == ["clip.mkv", "clip.mp4"]  # once: no "clip (1).mkv"


# ---- the converter's disk: a small tmpfs as scratch ------------------------------------------------------------
@pytest.fixture
def small_scratch(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs for the ExApp's scratch folder (root only)."""
    mount = tmp_path / "scratch"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; ENOSPC is also proven through /dev/full elsewhere")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); ENOSPC is also proven through /dev/full")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def disk_exapp(in_place_of_the_session_exapp: ExAppInPlace, small_scratch: Path) -> Iterator[ExAppProcess]:
    """An ExApp whose scratch is the small tmpfs: one job at a time, a 3 s backoff (so the "disk is full" state
    can be seen before the retry), a 1 s wait for space, no reserve (the test decides what is free)."""
    env = {
        **FAST_ENV,
        "VCFM_SCRATCH_DIR": str(small_scratch),
        "VCFM_CONCURRENCY": "1",
        "VCFM_RETRY_BACKOFF_SECONDS": "3",
        "VCFM_SCRATCH_WAIT_SECONDS": "1",
        "VCFM_SCRATCH_RESERVE_MB": "0",
    }
    with in_place_of_the_session_exapp(**env) as process:
        yield process


@contextlib.contextmanager
def disk_filled(folder: Path) -> Iterator[Path]:
    """Fill ``folder``'s filesystem to the last byte; free it again on leaving."""
    filler = folder / f"filler-{uuid.uuid4().hex[:6]}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * (1024 * 1024)
        while True:
            try:
                os.write(fd, block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    try:
        yield filler
    finally:
        filler.unlink(missing_ok=True)


def scratch_contents(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.startswith("filler-"))


def wait_message(nextcloud: NextcloudTarget, job_id: int, message: str, timeout: float = 60) -> dict:
    return wait_for(  # type: ignore[return-value]
        lambda: (job := get_job(nextcloud, "alice", job_id))["error_message"] == message and job,
        f"job {job_id} to say {message!r}",
        timeout,
    )


def test_a_disk_full_during_the_download_is_retried_and_the_worker_goes_on(
    nextcloud: NextcloudTarget, disk_exapp: ExAppProcess, small_scratch: Path, clip: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/first.mp4", clip)
    nextcloud.upload("alice", f"{folder}/second.mp4", clip)
    since = nextcloud.faults.requests()[-1]["seq"]
    # The download of the first source waits 3 s at the server: time to fill the disk under the running job.
    nextcloud.faults.hang(seconds=3, count=1, method="GET", path_prefix=f"/remote.php/dav/files/alice{folder}/first")
    try:
        first = trigger(nextcloud, "alice", "mkv", [action_entry(nextcloud, "alice", f"{folder}/first.mp4")])
        second = trigger(nextcloud, "alice", "mkv", [action_entry(nextcloud, "alice", f"{folder}/second.mp4")])
        first_id, second_id = first["jobs"][0]["job_id"], second["jobs"][0]["job_id"]
        wait_for(lambda: any(r["fault"] == "hang" for r in nextcloud.faults.requests(since)), "the download")
        with disk_filled(small_scratch):
            failed = wait_message(nextcloud, first_id, DISK_FULL)
            assert failed["status"] == "pending" and failed["retry_count"] == 1, failed
            assert scratch_contents(small_scratch) == []  # the partial download is gone
            # While the disk stays full, jobs wait for room instead of spending attempts.
            waiting = wait_message(nextcloud, first_id, WAITING)
            assert waiting["status"] == "pending" and waiting["retry_count"] == 1, waiting
    finally:
        nextcloud.faults.clear()

    done = [wait_job(nextcloud, "alice", job_id, timeout=120) for job_id in (first_id, second_id)]
    assert [job["status"] for job in done] == ["completed", "completed"], done
    assert [job["retry_count"] for job in done] == [1, 0]
    assert sorted(nextcloud.listdir("alice", folder)) == ["first.mkv", "first.mp4", "second.mkv", "second.mp4"]
    assert scratch_contents(small_scratch) == []


def test_a_disk_full_during_the_encode_is_retried_and_scratch_is_removed(
    nextcloud: NextcloudTarget, disk_exapp: ExAppProcess, small_scratch: Path, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    # Long enough that ffmpeg is still writing when the disk fills up.
    source = make_video(tmp_path / "long.mp4", seconds=20, size="640x360")
    nextcloud.upload("alice", f"{folder}/long.mp4", source)
    job_id = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/long.mp4")])["jobs"][0][
        "job_id"
    ]
    wait_running(nextcloud, "alice", job_id)

    with disk_filled(small_scratch):
        failed = wait_message(nextcloud, job_id, DISK_FULL, timeout=120)
        assert failed["status"] == "pending" and failed["retry_count"] == 1, failed
        assert scratch_contents(small_scratch) == []

    job = wait_job(nextcloud, "alice", job_id, timeout=240)
    assert job["status"] == "completed", job
    assert job["retry_count"] == 1
    assert sorted(nextcloud.listdir("alice", folder)) == ["long.mp4", "long.webm"]
    assert disk_exapp.proc is not None and disk_exapp.proc.poll() is None  # the worker process lives on


def test_a_job_that_could_never_fit_on_the_disk_fails_at_once(
    nextcloud: NextcloudTarget, disk_exapp: ExAppProcess, small_scratch: Path, clip: Path
):
    needs_faults(nextcloud)  # to see in the request log that the source was never downloaded
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    since = nextcloud.faults.requests()[-1]["seq"]

    # A GIF is expected to need 64 MB of working space: more than the whole 24 MB scratch disk.
    job = wait_job(
        nextcloud,
        "alice",
        trigger(nextcloud, "alice", "gif", [action_entry(nextcloud, "alice", f"{folder}/clip.mp4")])["jobs"][0][
            "job_id"
        ],
    )

    assert job["status"] == "failed" and job["retry_count"] == 0, job
    assert job["error_message"].startswith("The video is too large for the converter's disk"), job
    assert "the disk holds 24 MB" in job["error_message"]
    downloads = [r for r in nextcloud.faults.requests(since) if r["method"] == "GET" and folder in r["path"]]
    assert downloads == []
    assert nextcloud.listdir("alice", folder) == ["clip.mp4"]

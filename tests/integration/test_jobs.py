"""Conversion jobs end to end: Files action → job → worker → ffmpeg → upload → notification.

Runs against the stand-in by default and unchanged against a real Nextcloud (``NC_URL``); the few tests that
need fault injection skip on a real server with a reason.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from tests.media import make_video

from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import (
    action_entry,
    codecs,
    get_job,
    new_folder,
    probe_remote,
    trigger,
    wait_job,
    wait_running,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s, 320x240, H.264 + AAC."""
    return make_video(tmp_path_factory.mktemp("media") / "clip.mov", seconds=2)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that a conversion is still running when a test acts on it (seconds, not milliseconds)."""
    return make_video(tmp_path_factory.mktemp("media") / "long.mp4", seconds=40, size="640x360")


def ffmpeg_children(exapp: ExAppProcess) -> list[psutil.Process]:
    assert exapp.proc is not None
    try:
        children = psutil.Process(exapp.proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE and "ffmpeg" in c.name()]


def test_a_multi_file_action_converts_each_video_next_to_its_source_and_notifies(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/one.mov", clip)
    nextcloud.upload("alice", f"{folder}/two clip.mov", clip)
    nextcloud.upload("alice", f"{folder}/notes.txt", b"not a video")
    nextcloud.mkdir("alice", f"{folder}/sub")
    entries = [
        action_entry(nextcloud, "alice", f"{folder}/one.mov"),
        action_entry(nextcloud, "alice", f"{folder}/two clip.mov"),
        action_entry(nextcloud, "alice", f"{folder}/notes.txt"),
        action_entry(nextcloud, "alice", f"{folder}/sub", is_dir=True),
    ]

    result = trigger(nextcloud, "alice", "mp4", entries)

    assert [j["name"] for j in result["jobs"]] == ["one.mov", "two clip.mov"]
    assert {s["name"]: s["reason"] for s in result["skipped"]} == {
        "notes.txt": "is not a video (text/plain)",
        "sub": "is a folder",
    }
    for created, stem in zip(result["jobs"], ["one", "two clip"], strict=True):
        job = wait_job(nextcloud, "alice", created["job_id"])
        assert job["status"] == "completed", job
        assert job["progress"] == 100
        assert job["started_at"] and job["finished_at"] and job["error_message"] is None
        assert job["output"]["path"] == f"{folder}/{stem}.mp4"
        info = probe_remote(nextcloud, "alice", job["output"]["path"], tmp_path)
        assert codecs(info) == {"video": "h264", "audio": "aac"}
        assert abs(float(info["format"]["duration"]) - 2.0) <= 0.2
    assert {"one.mov", "one.mp4", "two clip.mov", "two clip.mp4"} <= set(nextcloud.listdir("alice", folder))
    subjects = [n["subject"] for n in nextcloud.notifications("alice")]
    assert "Conversion finished: one.mov" in subjects and "Conversion finished: two clip.mov" in subjects
    done = next(n for n in nextcloud.notifications("alice") if n["subject"] == "Conversion finished: one.mov")
    assert done["message"] == "one.mov was converted to one.mp4"
    assert "/index.php/f/" in done["link"]


def test_the_user_is_the_authenticated_one_not_the_payload_user_id(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/mine.mov", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/mine.mov", userId=nextcloud.bob.name)

    job_id = trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"]

    assert wait_job(nextcloud, "alice", job_id)["status"] == "completed"
    assert nextcloud.proxy("bob", "GET", f"api/jobs/{job_id}").status_code == 404
    assert job_id not in [j["id"] for j in nextcloud.proxy("bob", "GET", "api/jobs").json()["items"]]
    assert "mine.mkv" in nextcloud.listdir("alice", folder)


def test_an_existing_name_is_never_overwritten(nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mov", clip)
    nextcloud.upload("alice", f"{folder}/clip.mp4", b"precious")
    nextcloud.upload("alice", f"{folder}/clip (1).mp4", b"also precious")

    job_id = trigger(nextcloud, "alice", "mp4", [action_entry(nextcloud, "alice", f"{folder}/clip.mov")])["jobs"][0][
        "job_id"
    ]

    job = wait_job(nextcloud, "alice", job_id)
    assert job["status"] == "completed", job
    assert job["output"]["path"] == f"{folder}/clip (2).mp4"
    assert nextcloud.download("alice", f"{folder}/clip.mp4") == b"precious"
    assert nextcloud.download("alice", f"{folder}/clip (1).mp4") == b"also precious"


def test_a_corrupt_video_fails_with_a_readable_message_and_a_failure_notification(
    nextcloud: NextcloudTarget, exapp: ExAppProcess
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/broken.mp4", os.urandom(64 * 1024))

    job_id = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/broken.mp4")])["jobs"][0][
        "job_id"
    ]

    job = wait_job(nextcloud, "alice", job_id)
    assert job["status"] == "failed"
    message = job["error_message"]
    assert message and "Traceback" not in message and "/" not in message.split(":")[0]
    assert "video" in message.lower() or "read" in message.lower(), message
    assert job["retry_count"] == 0  # a broken file is not retried
    assert nextcloud.listdir("alice", folder) == ["broken.mp4"]
    failure = next(n for n in nextcloud.notifications("alice") if n["subject"] == "Conversion failed: broken.mp4")
    assert failure["message"].startswith("broken.mp4 could not be converted: ")
    assert failure["link"].endswith(f"/index.php/apps/files/?dir={folder}")


def test_cancel_kills_ffmpeg_and_leaves_no_file(nextcloud: NextcloudTarget, exapp: ExAppProcess, long_clip: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/long.mp4", long_clip)
    job_id = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/long.mp4")])["jobs"][0][
        "job_id"
    ]
    wait_running(nextcloud, "alice", job_id)
    assert ffmpeg_children(exapp), "ffmpeg should be running for the job"

    response = nextcloud.proxy("alice", "POST", f"api/jobs/{job_id}/cancel")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while ffmpeg_children(exapp) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ffmpeg_children(exapp) == []
    time.sleep(1)  # give a wrongly-continuing worker the chance to upload something
    assert nextcloud.listdir("alice", folder) == ["long.mp4"]
    job = get_job(nextcloud, "alice", job_id)
    assert job["status"] == "cancelled" and job["output"] is None
    assert list((exapp.storage / "scratch").glob(f"job-{job_id}-*")) == []


def test_a_killed_exapp_completes_the_job_exactly_once_after_restart(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, long_clip: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/long.mp4", long_clip)
    job_id = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/long.mp4")])["jobs"][0][
        "job_id"
    ]
    wait_running(nextcloud, "alice", job_id)

    exapp.kill()  # SIGKILL mid-conversion: no shutdown code runs, the job keeps its (now dead) lease
    exapp.start()

    job = wait_job(nextcloud, "alice", job_id, timeout=240)
    assert job["status"] == "completed", job
    assert job["retry_count"] == 1
    assert sorted(nextcloud.listdir("alice", folder)) == ["long.mp4", "long.webm"]

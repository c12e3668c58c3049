"""Jobs against an unreliable or changing Nextcloud: outages, moved, deleted and read-only files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media import make_video

from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, new_folder, trigger, wait_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2)


def needs_faults(nextcloud: NextcloudTarget) -> None:
    if not nextcloud.is_standin:
        pytest.skip("fault injection needs the stand-in; a real Nextcloud cannot be told to fail on cue")


def test_nextcloud_answering_503_for_a_while_is_survived(nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path):
    needs_faults(nextcloud)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/clip.mp4")
    # The next three WebDAV requests (the worker's look-up of the source, each attempt) answer 503.
    nextcloud.faults.status(count=3, status=503)
    try:
        job_id = trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"]
        job = wait_job(nextcloud, "alice", job_id, timeout=60)
    finally:
        nextcloud.faults.clear()
    assert job["status"] == "completed", job
    assert job["retry_count"] == 3
    assert "clip.mkv" in nextcloud.listdir("alice", folder)


def test_a_connection_reset_during_the_upload_is_retried(nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path):
    needs_faults(nextcloud)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/clip.mp4")
    nextcloud.faults.drop(count=1, method="MOVE", path_prefix="/remote.php/dav/uploads")
    try:
        job_id = trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"]
        job = wait_job(nextcloud, "alice", job_id, timeout=60)
    finally:
        nextcloud.faults.clear()
    assert job["status"] == "completed", job
    assert job["retry_count"] == 1
    assert sorted(nextcloud.listdir("alice", folder)) == ["clip.mkv", "clip.mp4"]


def test_a_moved_source_is_found_by_its_file_id(nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.mkdir("alice", f"{folder}/later")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    stale = action_entry(nextcloud, "alice", f"{folder}/clip.mp4")
    nextcloud.move("alice", f"{folder}/clip.mp4", f"{folder}/later/renamed.mp4")

    job = wait_job(nextcloud, "alice", trigger(nextcloud, "alice", "mkv", [stale])["jobs"][0]["job_id"])

    assert job["status"] == "completed", job
    assert job["output"]["path"] == f"{folder}/later/renamed.mkv"


def test_a_deleted_source_fails_without_retrying(nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/gone.mp4", clip)
    stale = action_entry(nextcloud, "alice", f"{folder}/gone.mp4")
    nextcloud.delete("alice", f"{folder}/gone.mp4")

    job = wait_job(nextcloud, "alice", trigger(nextcloud, "alice", "mp4", [stale])["jobs"][0]["job_id"])

    assert job["status"] == "failed"
    assert job["error_message"] == "The source file no longer exists"
    assert job["retry_count"] == 0


def test_a_read_only_folder_fails_with_permission_denied_and_leaves_nothing(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    needs_faults(nextcloud)  # a read-only share needs a second user's share on a real server
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/clip.mp4")
    nextcloud.faults.mark_readonly("alice", folder)

    job = wait_job(nextcloud, "alice", trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"])

    assert job["status"] == "failed"
    assert "refused" in job["error_message"], job
    assert job["retry_count"] == 0
    assert nextcloud.listdir("alice", folder) == ["clip.mp4"]

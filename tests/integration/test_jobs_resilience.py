"""Jobs against an unreliable or changing Nextcloud: outages, moved, deleted and read-only files."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from ex_app.lib.admin_settings import FORM_ID
from tests.media import make_video

from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, needs_faults, new_folder, trigger, wait_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2)


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
    # A result this small goes as one PUT (a bigger one in chunks: test_gateway.py).
    nextcloud.faults.drop(count=1, method="PUT", path_prefix=f"/remote.php/dav/files/alice{folder}/clip.mkv")
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


def test_a_read_only_folder_gets_its_result_in_the_users_converted_videos_folder(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    needs_faults(nextcloud)  # a read-only share needs a second user's share on a real server
    folder = new_folder(nextcloud, "alice")
    name = f"clip-{uuid.uuid4().hex[:8]}"
    nextcloud.upload("alice", f"{folder}/{name}.mp4", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/{name}.mp4")
    nextcloud.faults.mark_readonly("alice", folder)  # what alice sees of a folder bob shared read-only: SGD
    since = nextcloud.faults.requests()[-1]["seq"]
    seen = {n["notification_id"] for n in nextcloud.notifications("alice")}

    job = wait_job(nextcloud, "alice", trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"])

    assert job["status"] == "completed", job
    assert job["retry_count"] == 0
    assert job["output"]["path"] == f"/Converted videos/{name}.mkv"
    note = f"Saved in Converted videos because you cannot add files to {folder.strip('/')}."
    assert note in job["notes"]
    assert nextcloud.listdir("alice", folder) == [f"{name}.mp4"]
    assert f"{name}.mkv" in nextcloud.listdir("alice", "/Converted videos")
    # Decided before the encode from the folder's permissions, not learnt from a refused upload at the end.
    # (A result this small goes as one PUT into place; a chunked one would end with a MOVE there.)
    sent = nextcloud.faults.requests(since)
    puts = [r["path"] for r in sent if r["method"] == "PUT" and r["ex_app_id"] and "/dav/files/" in r["path"]]
    moves = [unquote(r["headers"]["destination"]) for r in sent if r["method"] == "MOVE"]
    assert [target.split("/files/alice", 1)[1] for target in puts + moves] == [f"/Converted videos/{name}.mkv"]
    fresh = [n for n in nextcloud.notifications("alice") if n["notification_id"] not in seen]
    assert [n["subject"] for n in fresh] == [f"Conversion finished: {name}.mp4"]
    assert fresh[0]["message"] == f"{name}.mp4 was converted to {name}.mkv {note}"


@pytest.fixture
def fallback_folder(nextcloud: NextcloudTarget, exapp: ExAppProcess) -> Iterator[Callable[[str], None]]:
    """Set the admin's fallback folder (and wait until the ExApp uses it); the default comes back afterwards."""

    def change(value: str) -> None:
        nextcloud.set_admin_setting(FORM_ID, "fallback_folder", value)
        deadline = time.monotonic() + 10
        while admin_settings_in_force(nextcloud)["fallback_folder"] != value:
            assert time.monotonic() < deadline, "the fallback folder setting did not take effect"
            time.sleep(0.2)

    yield change
    change("Converted videos")


def admin_settings_in_force(nextcloud: NextcloudTarget) -> dict:
    response = nextcloud.proxy("admin", "GET", "api/admin/status")
    assert response.status_code == 200, response.text
    return response.json()["admin_settings"]


def test_when_not_even_the_fallback_folder_takes_files_the_job_fails_before_any_download(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, fallback_folder: Callable[[str], None]
):
    needs_faults(nextcloud)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", clip)
    entry = action_entry(nextcloud, "alice", f"{folder}/clip.mp4")
    nextcloud.faults.mark_readonly("alice", folder)
    blocked = f"{folder.strip('/')} results"
    nextcloud.faults.mark_readonly("alice", blocked)  # a read-only share where the fallback folder would be
    fallback_folder(blocked)
    since = nextcloud.faults.requests()[-1]["seq"]

    job = wait_job(nextcloud, "alice", trigger(nextcloud, "alice", "mkv", [entry])["jobs"][0]["job_id"])

    assert job["status"] == "failed", job
    assert job["retry_count"] == 0
    assert job["error_message"] == (
        f"You cannot add files to {folder.strip('/')}, and the folder {blocked} for such results cannot be used "
        "either. Ask your administrator."
    )
    # Failed fast: the source was never downloaded, so ffmpeg never ran.
    assert [
        r for r in nextcloud.faults.requests(since) if r["method"] == "GET" and "/remote.php/dav" in r["path"]
    ] == []
    assert nextcloud.listdir("alice", folder) == ["clip.mp4"]
    assert nextcloud.listdir("alice", blocked) == []

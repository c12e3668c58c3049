"""The admin's side: settings changed in Nextcloud apply without a restart, limits are enforced, status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ex_app.lib.admin_settings import FORM_ID
from ex_app.lib.media import TARGETS
from tests.media import make_video

from .harness import APP_ID, ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, get_job, new_folder, trigger, wait_job

pytestmark = pytest.mark.integration

ALL_TARGETS = json.dumps({target: True for target in TARGETS})


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Settings are re-read when they matter and older than half a second in tests; give it a moment."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the change did not take effect in time")
        time.sleep(0.2)


@pytest.fixture
def admin_settings(nextcloud: NextcloudTarget, exapp: ExAppProcess) -> Iterator[Callable[[str, object], None]]:
    """Change settings as an admin would; everything is put back afterwards."""
    changed: set[str] = set()

    def change(field: str, value: object) -> None:
        changed.add(field)
        nextcloud.set_admin_setting(FORM_ID, field, value)

    yield change
    # Put back as the admin found them: unset, so that the ExApp's environment decides again. A number stored
    # here would outlive this test and override the next ExApp's environment (a stored concurrency of 2 once
    # made the replica tests' processes hold twice the jobs they were started for).
    unset = {"targets": ALL_TARGETS, "quick_targets": "{}"}
    for field in changed:
        nextcloud.set_admin_setting(FORM_ID, field, unset.get(field, ""))
    eventually(lambda: admin_looks(nextcloud) == ["Convert into…"])


def our_actions(nextcloud: NextcloudTarget) -> list[str]:
    """Our Files entries as the menu shows them: by ``order`` (a real AppAPI lists them by name)."""
    ours = [a for a in nextcloud.file_actions("alice") if a["appid"] == APP_ID]
    return [a["display_name"] for a in sorted(ours, key=lambda a: int(a["order"]))]


def admin_looks(nextcloud: NextcloudTarget) -> list[str]:
    """The admin opens the status (a moment the settings matter, so the ExApp re-reads them), then the Files
    menu. An idle ExApp does not poll Nextcloud for its settings (admin_settings.py, "the rule")."""
    admin_status(nextcloud)
    return our_actions(nextcloud)


def admin_status(nextcloud: NextcloudTarget) -> dict:
    response = nextcloud.proxy("admin", "GET", "api/admin/status")
    assert response.status_code == 200, response.text
    return response.json()


def test_quick_entries_follow_the_admins_choice_and_only_for_offered_conversions(
    nextcloud: NextcloudTarget, admin_settings, tmp_path: Path
):
    admin_settings("quick_targets", json.dumps({"mp4": True, "mp3": True, "webm": False}))
    eventually(lambda: admin_looks(nextcloud) == ["Convert into…", "Convert into MP4", "Extract audio (MP3)"])
    actions = {a["name"]: a for a in nextcloud.file_actions("alice") if a["appid"] == APP_ID}
    assert actions["vcfm_mp4"]["mime"] == "video" and actions["vcfm_mp3"]["mime"] == "video,audio"
    assert actions["vcfm_mp4"]["action_handler"] == "api/actions/mp4"

    # A quick entry for a conversion the admin no longer offers disappears with it.
    admin_settings("targets", json.dumps({target: target == "mp4" for target in TARGETS}))
    eventually(lambda: admin_looks(nextcloud) == ["Convert into…", "Convert into MP4"])


def test_turning_a_conversion_off_refuses_it(nextcloud: NextcloudTarget, admin_settings, tmp_path: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/a.mp4", make_video(tmp_path / "a.mp4", seconds=1))

    admin_settings("targets", json.dumps({target: target == "mp4" for target in TARGETS}))

    eventually(lambda: admin_status(nextcloud)["admin_settings"]["targets"] == ["mp4"])
    refused = nextcloud.proxy(
        "alice", "POST", "api/actions/webm", json={"files": [action_entry(nextcloud, "alice", f"{folder}/a.mp4")]}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "Your administrator does not offer 'Convert into WebM'"
    batch = nextcloud.proxy(
        "alice",
        "POST",
        "api/jobs/batch",
        json={"file_ids": [nextcloud.file_id("alice", f"{folder}/a.mp4")], "target": "webm"},
    )
    assert batch.status_code == 403
    files = nextcloud.proxy("alice", "GET", "api/files", params={"ids": nextcloud.file_id("alice", f"{folder}/a.mp4")})
    assert list(files.json()["files"][0]["targets"]) == ["mp4"]


def test_size_and_per_user_limits_are_enforced_when_jobs_are_created(
    nextcloud: NextcloudTarget, admin_settings, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))
    nextcloud.upload("alice", f"{folder}/big.mp4", big)
    nextcloud.upload("alice", f"{folder}/small.mp4", make_video(tmp_path / "small.mp4", seconds=1))

    admin_settings("max_input_mb", 1)
    eventually(lambda: admin_status(nextcloud)["admin_settings"]["max_input_mb"] == 1)

    entries = [
        action_entry(nextcloud, "alice", f"{folder}/big.mp4", size=big.stat().st_size),
        action_entry(nextcloud, "alice", f"{folder}/small.mp4", size=(tmp_path / "small.mp4").stat().st_size),
    ]
    result = trigger(nextcloud, "alice", "mkv", entries)
    assert [j["name"] for j in result["jobs"]] == ["small.mp4"]
    assert result["skipped"] == [
        {"file_id": entries[0]["fileId"], "name": "big.mp4", "reason": "is larger than the 1 MB limit"}
    ]
    too_big = nextcloud.proxy("alice", "POST", "api/jobs", json={"path": f"{folder}/big.mp4", "target": "mkv"})
    assert too_big.status_code == 413 and too_big.json()["error"] == "big.mp4 is larger than the 1 MB limit"
    # Finished before the per-user limit of 1 is set, so that the limit counts only the jobs made below (ffmpeg
    # runs at a lower priority: on a busy machine this small job can still be running).
    assert wait_job(nextcloud, "alice", result["jobs"][0]["job_id"])["status"] == "completed"

    # small.mp4's job must be done before alice's one allowed unfinished job is counted.
    assert wait_job(nextcloud, "alice", result["jobs"][0]["job_id"])["status"] == "completed"
    admin_settings("max_jobs_per_user", 1)
    eventually(lambda: admin_status(nextcloud)["admin_settings"]["max_jobs_per_user"] == 1)
    slow = make_video(tmp_path / "slow.mp4", seconds=20)
    admin_settings("max_input_mb", 0)
    eventually(lambda: admin_status(nextcloud)["admin_settings"]["max_input_mb"] == 0)
    nextcloud.upload("alice", f"{folder}/slow.mp4", slow)
    first = nextcloud.proxy("alice", "POST", "api/jobs", json={"path": f"{folder}/slow.mp4", "target": "webm"})
    assert first.status_code == 201, first.text
    second = nextcloud.proxy("alice", "POST", "api/jobs", json={"path": f"{folder}/slow.mp4", "target": "webm"})
    assert second.status_code == 429
    assert second.json()["error"] == "You already have 1 unfinished conversions (the limit is 1)"
    nextcloud.proxy("alice", "POST", f"api/jobs/{first.json()['id']}/cancel")


def test_admin_status_reports_a_live_worker_and_is_for_admins_only(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    status = admin_status(nextcloud)
    assert status["alive_workers"] >= 1
    assert status["ffmpeg"]["version"].startswith("ffmpeg version")
    assert status["database"]["reachable"] is True and status["database"]["revision"] == status["database"]["head"]
    assert nextcloud.proxy("alice", "GET", "api/admin/status").status_code == 404


def test_concurrency_changes_while_running(nextcloud: NextcloudTarget, exapp: ExAppProcess, admin_settings):
    admin_settings("concurrency", 1)
    eventually(lambda: admin_status(nextcloud)["admin_settings"]["concurrency"] == 1)
    assert "Now converting up to 1 videos at once" in exapp.log()


def test_the_duration_limit_is_enforced_when_the_job_runs(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, admin_settings, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/long.mp4", make_video(tmp_path / "long.mp4", seconds=65, size="160x120"))
    admin_settings("max_input_minutes", 1)
    eventually(lambda: admin_status(nextcloud)["admin_settings"]["max_input_minutes"] == 1)

    job_id = trigger(nextcloud, "alice", "mkv", [action_entry(nextcloud, "alice", f"{folder}/long.mp4")])["jobs"][0][
        "job_id"
    ]

    job = wait_job(nextcloud, "alice", job_id)
    assert job["status"] == "failed"
    assert job["error_message"] == "The video is longer than the 1-minute limit set by your administrator"
    assert nextcloud.listdir("alice", folder) == ["long.mp4"]


def test_errors_also_reach_the_nextcloud_log(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    nextcloud.faults  # noqa: B018 - reading nextcloud.log needs the stand-in (skips on a real server)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/broken.mp4", b"\0" * 4096)
    job_id = trigger(nextcloud, "alice", "mp4", [action_entry(nextcloud, "alice", f"{folder}/broken.mp4")])["jobs"][0][
        "job_id"
    ]
    assert wait_job(nextcloud, "alice", job_id)["status"] == "failed"

    def logged() -> bool:
        return any(
            e["app"] == APP_ID and e["level"] == 3 and f"Job #{job_id} failed" in e["message"]
            for e in nextcloud.faults.nextcloud_log()
        )

    eventually(logged)
    entry = next(e for e in nextcloud.faults.nextcloud_log() if f"Job #{job_id} failed" in e["message"])
    assert f"job={job_id} user=alice" in entry["message"]


def test_an_idle_exapp_sends_nextcloud_nothing_and_a_change_still_applies_to_the_next_job(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, admin_settings, tmp_path: Path
):
    nextcloud.faults  # noqa: B018 - the request log needs the stand-in (skips on a real server)
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/long.mp4", make_video(tmp_path / "long.mp4", seconds=65, size="160x120"))
    deadline = time.monotonic() + 120
    while (queue := admin_status(nextcloud)["queue"])["pending"] or queue["processing"]:
        assert time.monotonic() < deadline, f"earlier tests' jobs did not finish: {queue}"
        time.sleep(0.5)

    # Ten times the worker's poll and the settings' busy age in this suite: the old timer read them ten times.
    since = max(r["seq"] for r in nextcloud.faults.requests())
    time.sleep(5)
    assert [(r["method"], r["path"]) for r in nextcloud.faults.requests(since) if r["ex_app_id"] == APP_ID] == []

    # What the settings page sends reaches only Nextcloud; the next job still runs under the new value.
    admin_settings("max_input_minutes", 1)
    job_id = trigger(nextcloud, "alice", "mkv", [action_entry(nextcloud, "alice", f"{folder}/long.mp4")])["jobs"][0][
        "job_id"
    ]
    job = wait_job(nextcloud, "alice", job_id)
    assert job["status"] == "failed"
    assert job["error_message"] == "The video is longer than the 1-minute limit set by your administrator"


def test_a_job_uploading_leaves_the_cpu_to_another_jobs_encode(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, admin_settings, tmp_path: Path
):
    nextcloud.faults  # noqa: B018 - slowing an upload needs the stand-in (skips on a real server)
    admin_settings("concurrency", 1)
    eventually(lambda: admin_status(nextcloud)["admin_settings"]["concurrency"] == 1)
    first, second = new_folder(nextcloud, "alice"), new_folder(nextcloud, "bob")
    nextcloud.upload("alice", f"{first}/a.mp4", make_video(tmp_path / "a.mp4", seconds=1))
    nextcloud.upload("bob", f"{second}/b.mp4", make_video(tmp_path / "b.mp4", seconds=1))
    # alice's result reaches Nextcloud only after 8 s, as over a slow link.
    nextcloud.faults.hang(seconds=8, method="PUT", path_prefix=f"/remote.php/dav/files/alice{first}/")
    try:
        a = trigger(nextcloud, "alice", "mkv", [action_entry(nextcloud, "alice", f"{first}/a.mp4")])["jobs"][0]
        uploading = lambda: any(  # noqa: E731
            r["method"] == "PUT" and r["path"].startswith(f"/remote.php/dav/files/alice{first}/")
            for r in nextcloud.faults.requests()
        )
        eventually(uploading, timeout=30)
        b = trigger(nextcloud, "bob", "webm", [action_entry(nextcloud, "bob", f"{second}/b.mp4")])["jobs"][0]
        # With one conversion at a time, bob's ffmpeg starts while alice's upload still hangs.
        eventually(lambda: f"Job #{b['job_id']}: encoding b.mp4" in exapp.log(), timeout=6)
        assert get_job(nextcloud, "alice", a["job_id"])["status"] == "processing"  # still uploading
        assert wait_job(nextcloud, "alice", a["job_id"])["status"] == "completed"
        assert wait_job(nextcloud, "bob", b["job_id"])["status"] == "completed"
    finally:
        nextcloud.faults.clear()

"""The REST API as scripts use it through the AppAPI proxy: scoped to the caller, clear 4xx on bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.media import make_video

from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, new_folder, trigger, wait_job

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=1)


@pytest.fixture
def folder(nextcloud: NextcloudTarget) -> str:
    return new_folder(nextcloud, "alice")


def create(nextcloud: NextcloudTarget, user: str, **body) -> dict:
    response = nextcloud.proxy(user, "POST", "api/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_script_creates_a_job_by_path_or_by_file_id(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, folder: str
):
    nextcloud.upload("alice", f"{folder}/a.mp4", clip)
    by_path = create(nextcloud, "alice", path=f"{folder}/a.mp4", target="mkv")
    by_id = create(nextcloud, "alice", file_id=nextcloud.file_id("alice", f"{folder}/a.mp4"), target="mp3")

    assert by_path["status"] == "pending" and by_path["source"]["path"] == f"{folder}/a.mp4"
    assert by_id["source"]["file_id"] == by_path["source"]["file_id"]
    assert wait_job(nextcloud, "alice", by_path["id"])["output"]["path"] == f"{folder}/a.mkv"
    assert wait_job(nextcloud, "alice", by_id["id"])["output"]["path"] == f"{folder}/a.mp3"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"target": "mp4"}, 422, "exactly one of 'file_id' or 'path'"),
        ({"path": "/x.mp4", "file_id": 3, "target": "mp4"}, 422, "exactly one of 'file_id' or 'path'"),
        ({"path": "/x.mp4", "target": "nope"}, 400, "Unknown target 'nope'"),
        ({"path": "/does/not/exist.mp4", "target": "mp4"}, 404, "does not exist"),
        ({"file_id": "abc", "target": "mp4"}, 422, "file_id"),
        ({"path": "/x.mp4", "target": "mp4", "colour": "red"}, 422, "colour"),
    ],
)
def test_wrong_input_is_a_4xx_with_a_message(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, body: dict, status: int, says: str
):
    response = nextcloud.proxy("alice", "POST", "api/jobs", json=body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]


def test_a_non_video_is_refused_with_a_message(nextcloud: NextcloudTarget, exapp: ExAppProcess, folder: str):
    nextcloud.upload("alice", f"{folder}/notes.txt", b"hello")
    response = nextcloud.proxy("alice", "POST", "api/jobs", json={"path": f"{folder}/notes.txt", "target": "mp4"})
    assert response.status_code == 400
    assert response.json()["error"] == "notes.txt is not a video (text/plain)"


def test_an_unknown_action_target_is_a_clear_error(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    response = nextcloud.proxy("alice", "POST", "api/actions/nope", json={"files": [{"fileId": 1, "name": "a"}]})
    assert response.status_code == 400
    assert "Unknown target 'nope'" in response.json()["error"]
    response = nextcloud.proxy("alice", "POST", "api/actions/mp4", json={"files": []})
    assert response.status_code == 422


def test_another_users_file_and_job_are_not_found(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, folder: str
):
    nextcloud.upload("alice", f"{folder}/private.mp4", clip)
    file_id = nextcloud.file_id("alice", f"{folder}/private.mp4")
    response = nextcloud.proxy("bob", "POST", "api/jobs", json={"file_id": file_id, "target": "mp4"})
    assert response.status_code == 404
    job = create(nextcloud, "alice", file_id=file_id, target="mkv")
    for method, path in [
        ("GET", f"api/jobs/{job['id']}"),
        ("POST", f"api/jobs/{job['id']}/cancel"),
        ("POST", f"api/jobs/{job['id']}/retry"),
        ("DELETE", f"api/jobs/{job['id']}"),
    ]:
        response = nextcloud.proxy("bob", method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == f"Job {job['id']} not found"
    wait_job(nextcloud, "alice", job["id"])


def test_listing_is_newest_first_filtered_and_paginated(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, folder: str
):
    nextcloud.upload("alice", f"{folder}/ok.mp4", clip)
    nextcloud.upload("alice", f"{folder}/bad.mp4", b"\x00" * 2048)
    entries = [action_entry(nextcloud, "alice", f"{folder}/{n}") for n in ("ok.mp4", "bad.mp4")]
    ids = [j["job_id"] for j in trigger(nextcloud, "alice", "mkv", entries)["jobs"]]
    for job_id in ids:
        wait_job(nextcloud, "alice", job_id)

    page = nextcloud.proxy("alice", "GET", "api/jobs", params={"limit": 2}).json()
    assert [j["id"] for j in page["items"]] == sorted(ids, reverse=True)
    assert page["total"] >= 2 and page["limit"] == 2 and page["offset"] == 0
    failed = nextcloud.proxy("alice", "GET", "api/jobs", params={"status": "failed", "limit": 500}).json()
    assert ids[1] in [j["id"] for j in failed["items"]] and ids[0] not in [j["id"] for j in failed["items"]]
    assert all(j["status"] == "failed" for j in failed["items"])
    second = nextcloud.proxy("alice", "GET", "api/jobs", params={"limit": 1, "offset": 1}).json()
    assert second["items"][0]["id"] == ids[0]
    assert nextcloud.proxy("alice", "GET", "api/jobs", params={"status": "weird"}).status_code == 422
    assert nextcloud.proxy("alice", "GET", "api/jobs", params={"limit": 0}).status_code == 422


def test_retry_puts_a_failed_job_back_and_delete_forgets_finished_jobs(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, folder: str
):
    nextcloud.upload("alice", f"{folder}/v.mp4", b"\x00" * 2048)
    job = create(nextcloud, "alice", path=f"{folder}/v.mp4", target="mkv")
    assert wait_job(nextcloud, "alice", job["id"])["status"] == "failed"
    nextcloud.upload("alice", f"{folder}/v.mp4", clip)  # the user fixes the file (same id), then retries

    retried = nextcloud.proxy("alice", "POST", f"api/jobs/{job['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["retry_count"] == 0 and retried.json()["error_message"] is None
    done = wait_job(nextcloud, "alice", job["id"])
    assert done["status"] == "completed", done

    again = nextcloud.proxy("alice", "POST", f"api/jobs/{job['id']}/retry")
    assert again.status_code == 409 and "only failed or cancelled jobs can be retried" in again.json()["error"]
    assert nextcloud.proxy("alice", "POST", f"api/jobs/{job['id']}/cancel").status_code == 409
    assert nextcloud.proxy("alice", "DELETE", f"api/jobs/{job['id']}").status_code == 204
    assert nextcloud.proxy("alice", "GET", f"api/jobs/{job['id']}").status_code == 404
    assert "v.mkv" in nextcloud.listdir("alice", folder)  # deleting the job keeps the converted file


def test_an_unfinished_job_cannot_be_deleted(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, folder: str, tmp_path: Path
):
    nextcloud.upload("alice", f"{folder}/slow.mp4", make_video(tmp_path / "slow.mp4", seconds=20))
    job = create(nextcloud, "alice", path=f"{folder}/slow.mp4", target="webm")
    response = nextcloud.proxy("alice", "DELETE", f"api/jobs/{job['id']}")
    assert response.status_code == 409
    assert "cancel it before deleting it" in response.json()["error"]
    assert nextcloud.proxy("alice", "POST", f"api/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    assert nextcloud.proxy("alice", "DELETE", f"api/jobs/{job['id']}").status_code == 204


def test_an_unchanged_list_is_answered_304_through_the_proxy_and_a_change_gives_200(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path
):
    # Not alice: jobs other tests leave running for her would change the list under us.
    user = "bob"
    folder = new_folder(nextcloud, user)
    nextcloud.upload(user, f"{folder}/a.mp4", clip)
    job = create(nextcloud, user, path=f"{folder}/a.mp4", target="mkv")
    wait_job(nextcloud, user, job["id"])

    first = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 5})
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    # Our own Cache-Control keeps AppAPI from adding max-age=3600, which would let the browser skip the poll.
    assert first.headers["cache-control"] == "no-cache"
    listed = next(j for j in first.json()["items"] if j["id"] == job["id"])
    assert listed["source"]["name"] == "a.mp4" and listed["output"]["name"] == "a.mkv"
    assert listed["eta_seconds"] is None  # finished

    again = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 5}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "no-cache"
    # Another page or filter is another list.
    other = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 4}, headers={"If-None-Match": etag})
    assert other.status_code == 200

    assert nextcloud.proxy(user, "DELETE", f"api/jobs/{job['id']}").status_code == 204
    changed = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 5}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert job["id"] not in [j["id"] for j in changed.json()["items"]]


def test_a_running_job_reports_an_estimated_time_left(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, folder: str, tmp_path: Path
):
    nextcloud.upload("alice", f"{folder}/long.mp4", make_video(tmp_path / "long.mp4", seconds=30))
    job = create(nextcloud, "alice", path=f"{folder}/long.mp4", target="webm")
    deadline = time.monotonic() + 60
    seen = None
    while seen is None and time.monotonic() < deadline:
        current = nextcloud.proxy("alice", "GET", f"api/jobs/{job['id']}").json()
        assert current["status"] in {"pending", "processing"}, current
        if current["eta_seconds"] is not None:
            seen = current
        time.sleep(0.2)
    assert seen is not None, "no estimate while the job ran"
    assert seen["eta_seconds"] >= 0 and seen["progress"] > 0
    assert nextcloud.proxy("alice", "POST", f"api/jobs/{job['id']}/cancel").json()["eta_seconds"] is None

"""The conversions page's chooser API: the selected files described, and the jobs for one target made in one
request; files that cannot be used are listed per file with the reason, and nothing is created for them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ex_app.lib.admin_settings import FORM_ID
from tests.media import make_video, run_ffmpeg

from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import new_folder, wait_job

pytestmark = pytest.mark.integration

UNKNOWN_ID = 987654321


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("chooser-media")
    song = where / "song.mp3"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "libmp3lame", str(song))
    return {"clip": make_video(where / "clip.mp4", seconds=2), "song": song}


@pytest.fixture
def selection(nextcloud: NextcloudTarget, exapp: ExAppProcess, media: dict[str, Path]) -> dict[str, int]:
    """alice's selection: a video, an audio file, a folder, a text file; plus bob's video and an unknown id."""
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/a.mp4", media["clip"])
    nextcloud.upload("alice", f"{folder}/song.mp3", media["song"])
    nextcloud.upload("alice", f"{folder}/notes.txt", b"hello")
    nextcloud.mkdir("alice", f"{folder}/sub")
    bobs = new_folder(nextcloud, "bob")
    nextcloud.upload("bob", f"{bobs}/private.mp4", media["clip"])
    ids = {name: nextcloud.file_id("alice", f"{folder}/{name}") for name in ("a.mp4", "song.mp3", "notes.txt", "sub")}
    ids["bob"] = nextcloud.file_id("bob", f"{bobs}/private.mp4")
    ids["unknown"] = UNKNOWN_ID
    return ids


def describe(nextcloud: NextcloudTarget, ids: list[int], **params: object) -> dict:
    response = nextcloud.proxy(
        "alice",
        "GET",
        "api/files",
        params={"ids": ",".join(map(str, ids)), **params},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def job_file_ids(nextcloud: NextcloudTarget, user: str) -> list[int]:
    page = nextcloud.proxy(user, "GET", "api/jobs", params={"limit": 500}).json()
    return [job["source"]["file_id"] for job in page["items"]]


def test_the_chooser_describes_each_file_and_what_it_can_become(nextcloud: NextcloudTarget, selection: dict):
    answer = describe(nextcloud, [selection["a.mp4"], selection["song.mp3"]])
    assert answer["skipped"] == []
    video, song = answer["files"]

    assert (video["file_id"], video["name"], video["mime"]) == (selection["a.mp4"], "a.mp4", "video/mp4")
    assert video["path"].endswith("/a.mp4") and video["size"] > 0
    assert video["media"]["video_codec"] == "h264" and video["media"]["audio_codec"] == "aac"
    assert (video["media"]["width"], video["media"]["height"]) == (320, 240)
    assert video["media"]["duration"] == pytest.approx(2, abs=0.2)
    # H.264 + AAC fit MP4 and MKV as they are; WebM needs VP9 + Opus.
    assert video["targets"]["mp4"] == {"fast_copy": True, "output_name": "a (converted).mp4"}
    assert video["targets"]["mkv"] == {"fast_copy": True, "output_name": "a.mkv"}
    assert video["targets"]["webm"] == {"fast_copy": False, "output_name": "a.webm"}
    assert video["targets"]["mp3"]["output_name"] == "a.mp3"
    assert video["targets"]["compress"] == {"fast_copy": False, "output_name": "a (compressed).mp4"}

    assert song["mime"] == "audio/mpeg" and song["media"]["video_codec"] is None
    assert song["media"]["audio_codec"] == "mp3"
    assert "mp4" not in song["targets"] and "webm" not in song["targets"], "an audio file cannot become a video"
    assert song["targets"]["mp3"]["output_name"] == "song (converted).mp3"

    # The options change what is a fast copy: a smaller quality means re-encoding.
    smaller = describe(nextcloud, [selection["a.mp4"]], quality="small")["files"][0]
    assert smaller["targets"]["mp4"]["fast_copy"] is False
    assert describe(nextcloud, [selection["a.mp4"]], max_height=1080)["files"][0]["targets"]["mp4"]["fast_copy"]


def test_files_that_cannot_be_used_are_listed_with_the_reason(nextcloud: NextcloudTarget, selection: dict):
    ids = [selection[k] for k in ("notes.txt", "sub", "bob", "unknown", "a.mp4")]
    answer = describe(nextcloud, ids)
    assert [f["file_id"] for f in answer["files"]] == [selection["a.mp4"]]
    skipped = {s["file_id"]: s for s in answer["skipped"]}
    assert skipped[selection["notes.txt"]] == {
        "file_id": selection["notes.txt"],
        "name": "notes.txt",
        "reason": "This is not a video or audio file (text/plain)",
    }
    assert skipped[selection["sub"]]["reason"] == "This is a folder"
    # Another user's file is not told apart from one that does not exist, and its name is not revealed.
    not_found = "This file does not exist, or you have no access to it"
    assert skipped[selection["bob"]] == {"file_id": selection["bob"], "name": None, "reason": not_found}
    assert skipped[UNKNOWN_ID] == {"file_id": UNKNOWN_ID, "name": None, "reason": not_found}


def test_reasons_follow_the_callers_language(nextcloud: NextcloudTarget, selection: dict):
    ids = f"{selection['sub']},{UNKNOWN_ID}"
    german = nextcloud.proxy("alice", "GET", "api/files", params={"ids": ids}, headers={"Accept-Language": "de-DE"})
    assert [s["reason"] for s in german.json()["skipped"]] == [
        "Das ist ein Ordner",
        "Diese Datei existiert nicht, oder Sie haben keinen Zugriff darauf",
    ]
    french = nextcloud.proxy("alice", "GET", "api/files", params={"ids": ids}, headers={"Accept-Language": "fr"})
    assert french.json()["skipped"][0]["reason"] == "C'est un dossier"


@pytest.mark.parametrize("ids", ["", "abc", "1,,x", "0", "-4", ",".join(["1"] * 101)])
def test_a_malformed_id_list_is_a_400(nextcloud: NextcloudTarget, exapp: ExAppProcess, ids: str):
    response = nextcloud.proxy("alice", "GET", "api/files", params={"ids": ids})
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("ids:")


def test_batch_creates_jobs_only_for_usable_files(nextcloud: NextcloudTarget, selection: dict):
    before = job_file_ids(nextcloud, "alice")
    ids = [selection[k] for k in ("a.mp4", "notes.txt", "sub", "bob", "unknown", "song.mp3")] + [selection["a.mp4"]]
    response = nextcloud.proxy(
        "alice",
        "POST",
        "api/jobs/batch",
        json={"file_ids": ids, "target": "webm", "options": {"max_height": 720, "quality": "small"}},
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    assert [(j["file_id"], j["name"]) for j in answer["jobs"]] == [(selection["a.mp4"], "a.mp4")]
    reasons = [(s["file_id"], s["reason"]) for s in answer["skipped"]]
    assert reasons == [
        (selection["notes.txt"], "This is not a video or audio file (text/plain)"),
        (selection["sub"], "This is a folder"),
        (selection["bob"], "This file does not exist, or you have no access to it"),
        (UNKNOWN_ID, "This file does not exist, or you have no access to it"),
        (selection["song.mp3"], "This file cannot be converted into WebM (audio/mpeg)"),
        (selection["a.mp4"], "This file was selected twice"),
    ]
    created = [f for f in job_file_ids(nextcloud, "alice") if f not in before]
    assert created == [selection["a.mp4"]], "nothing is created for the skipped files"
    assert selection["bob"] not in job_file_ids(nextcloud, "bob")

    job = wait_job(nextcloud, "alice", answer["jobs"][0]["job_id"])
    assert job["status"] == "completed", job
    assert job["options"] == {"quality": "small", "max_height": 720, "audio_bitrate": None}
    assert job["output"]["name"] == "a.webm"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"target": "webm", "options": {"quality": "ultra"}}, 400, "options.quality"),
        ({"target": "webm", "options": {"max_height": 719}}, 400, "options.max_height"),
        ({"target": "webm", "options": {"colour": "red"}}, 400, "options.colour"),
        ({"target": "nope"}, 400, "Unknown target 'nope'"),
        ({"target": "webm", "file_ids": []}, 422, "file_ids"),
        ({"target": "webm", "file_ids": [0]}, 422, "file_ids"),
        ({"target": "webm", "extra": 1}, 422, "extra"),
    ],
)
def test_bad_batch_input_is_refused_before_anything_is_created(
    nextcloud: NextcloudTarget, selection: dict, body: dict, status: int, says: str
):
    before = job_file_ids(nextcloud, "alice")
    body = {"file_ids": [selection["a.mp4"]], **body}
    response = nextcloud.proxy("alice", "POST", "api/jobs/batch", json=body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert job_file_ids(nextcloud, "alice") == before


@pytest.fixture
def size_limit(nextcloud: NextcloudTarget, exapp: ExAppProcess) -> Iterator[Callable[[int], None]]:
    def set_limit(mb: int) -> None:
        nextcloud.set_admin_setting(FORM_ID, "max_input_mb", mb)
        deadline = time.monotonic() + 10
        while nextcloud.proxy("admin", "GET", "api/admin/status").json()["admin_settings"]["max_input_mb"] != mb:
            assert time.monotonic() < deadline, "the limit did not take effect"
            time.sleep(0.2)

    yield set_limit
    set_limit(0)


def test_an_over_limit_file_is_listed_and_gets_no_job(nextcloud: NextcloudTarget, selection: dict, size_limit):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/big.mp4", b"\x00" * (2 * 1024 * 1024))
    big = nextcloud.file_id("alice", f"{folder}/big.mp4")
    size_limit(1)
    reason = "The file is larger than the 1 MB limit set by your administrator"
    assert describe(nextcloud, [big])["skipped"] == [{"file_id": big, "name": "big.mp4", "reason": reason}]
    response = nextcloud.proxy("alice", "POST", "api/jobs/batch", json={"file_ids": [big], "target": "mp4"})
    assert response.status_code == 201, response.text
    assert response.json() == {"jobs": [], "skipped": [{"file_id": big, "name": "big.mp4", "reason": reason}]}
    assert big not in job_file_ids(nextcloud, "alice")

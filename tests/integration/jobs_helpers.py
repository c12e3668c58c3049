"""What the job tests do again and again: build the Files payload, trigger an action, wait for a job."""

from __future__ import annotations

import mimetypes
import posixpath
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.media import ffprobe

from .harness import NextcloudTarget

FINISHED = {"completed", "failed", "cancelled"}


def needs_faults(nextcloud: NextcloudTarget) -> None:
    if not nextcloud.is_standin:
        pytest.skip("fault injection needs the stand-in; a real Nextcloud cannot be told to fail on cue")


def new_folder(nextcloud: NextcloudTarget, user: str) -> str:
    """A fresh folder in the user's files, so tests never see each other's outputs."""
    folder = f"/it-{uuid.uuid4().hex[:10]}"
    nextcloud.mkdir(user, folder)
    return folder


def action_entry(nextcloud: NextcloudTarget, user: str, path: str, *, is_dir: bool = False, **override: Any) -> dict:
    """One entry of the Files app's v2 action payload (shape of shared/contract/file-action-payload.json)."""
    directory, name = posixpath.split(path)
    mime = "httpd/unix-directory" if is_dir else (mimetypes.guess_type(name)[0] or "application/octet-stream")
    entry = {
        "fileId": nextcloud.file_id(user, path),
        "name": name,
        "directory": directory or "/",
        "etag": "0",
        "mime": mime,
        "favorite": "false",
        "permissions": 31,
        "fileType": "dir" if is_dir else "file",
        "size": 0,
        "mtime": int(time.time()),
        "shareTypes": None,
        "shareAttributes": None,
        "sharePermissions": None,
        "shareOwner": None,
        "shareOwnerId": None,
        "userId": nextcloud.user(user).name,
        "instanceId": "ocvt39tsgrv7",
    }
    entry.update(override)
    return entry


def trigger(nextcloud: NextcloudTarget, user: str, target: str, entries: list[dict]) -> dict:
    """What the Files UI does when the user picks "Convert into …" on the selection."""
    response = nextcloud.proxy(user, "POST", f"api/actions/{target}", json={"files": entries})
    assert response.status_code == 200, response.text
    return response.json()


def get_job(nextcloud: NextcloudTarget, user: str, job_id: int) -> dict:
    response = nextcloud.proxy(user, "GET", f"api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_job(
    nextcloud: NextcloudTarget, user: str, job_id: int, *, until: set[str] = FINISHED, timeout: float = 120
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(nextcloud, user, job_id)
        if job["status"] in until:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s: {job}")
        time.sleep(0.2)


def wait_running(nextcloud: NextcloudTarget, user: str, job_id: int, timeout: float = 60) -> dict:
    """Until ffmpeg is visibly working on the job (progress above zero)."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(nextcloud, user, job_id)
        if job["status"] == "processing" and job["progress"] > 0:
            return job
        assert job["status"] in {"pending", "processing"}, job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never showed progress: {job}")
        time.sleep(0.1)


def probe_remote(nextcloud: NextcloudTarget, user: str, path: str, tmp_path: Path) -> dict:
    local = tmp_path / f"probe-{uuid.uuid4().hex[:6]}{posixpath.splitext(path)[1]}"
    local.write_bytes(nextcloud.download(user, path))
    return ffprobe(local)


def codecs(info: dict) -> dict[str, str]:
    return {s["codec_type"]: s["codec_name"] for s in reversed(info["streams"])}

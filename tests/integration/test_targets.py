"""Every target through the whole pipeline (Files → job → ffmpeg → Nextcloud), checked with ffprobe."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media import make_video

from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import new_folder, probe_remote, wait_job

pytestmark = pytest.mark.integration

# target → (format_name contains, {stream type: codec}, video pix_fmt or None, (width, height) or None)
EXPECTED = {
    "mp4": ("mp4", {"video": "h264", "audio": "aac"}, "yuv420p", (320, 240)),
    "mp4_hevc": ("mp4", {"video": "hevc", "audio": "aac"}, "yuv420p", (320, 240)),
    "webm": ("webm", {"video": "vp9", "audio": "opus"}, "yuv420p", (320, 240)),
    "mkv": ("matroska", {"video": "h264", "audio": "aac"}, "yuv420p", (320, 240)),
    "mov": ("mov", {"video": "h264", "audio": "aac"}, "yuv420p", (320, 240)),
    "avi": ("avi", {"video": "mpeg4", "audio": "mp3"}, "yuv420p", (320, 240)),
    "m4v": ("mp4", {"video": "h264", "audio": "aac"}, "yuv420p", (320, 240)),
    "gif": ("gif", {"video": "gif"}, None, (320, 240)),
    "mp3": ("mp3", {"audio": "mp3"}, None, None),
    "m4a": ("mp4", {"audio": "aac"}, None, None),
    "opus": ("ogg", {"audio": "opus"}, None, None),
    "compress": ("mov", {"video": "h264", "audio": "aac"}, "yuv420p", (320, 240)),
}
NAMES = {"compress": "clip (compressed).mov", "mp4_hevc": "clip (1).mp4", "m4a": "clip.m4a"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mov", seconds=2)


def create(nextcloud: NextcloudTarget, user: str, **body) -> dict:
    response = nextcloud.proxy(user, "POST", "api/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_catalogue_is_listed_with_its_options(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    body = nextcloud.proxy("alice", "GET", "api/targets").json()
    assert [t["id"] for t in body["targets"]] == list(EXPECTED)
    compress = next(t for t in body["targets"] if t["id"] == "compress")
    assert compress["same_format"] is True and compress["extension"] is None
    assert body["options"]["quality"] == ["high", "normal", "small"]
    assert body["options"]["max_height"] == [None, 2160, 1080, 720, 480]


def test_every_target_converts_a_sample_correctly(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mov", clip)
    jobs = {target: create(nextcloud, "alice", path=f"{folder}/clip.mov", target=target) for target in EXPECTED}
    source_mtime = nextcloud.mtime("alice", f"{folder}/clip.mov")

    problems = []
    for target, created in jobs.items():
        job = wait_job(nextcloud, "alice", created["id"], timeout=180)
        if job["status"] != "completed":
            problems.append(f"{target}: {job['status']} {job['error_message']}")
            continue
        fmt, expected_codecs, pix_fmt, size = EXPECTED[target]
        info = probe_remote(nextcloud, "alice", job["output"]["path"], tmp_path)
        streams = {s["codec_type"]: s for s in reversed(info["streams"])}
        got = {
            "format": fmt in info["format"]["format_name"],
            "codecs": {kind: s["codec_name"] for kind, s in streams.items()} == expected_codecs,
            "duration": abs(float(info["format"].get("duration", 0)) - 2.0) <= 0.2,
            "pix_fmt": pix_fmt is None or streams["video"]["pix_fmt"] == pix_fmt,
            "size": size is None or (streams["video"]["width"], streams["video"]["height"]) == size,
            "mtime": abs(nextcloud.mtime("alice", job["output"]["path"]) - source_mtime) < 1.5,
        }
        if target == "mp4_hevc":
            got["hvc1"] = streams["video"]["codec_tag_string"] == "hvc1"
        if target in NAMES:
            got["name"] = job["output"]["path"].endswith(NAMES[target])
        if not all(got.values()):
            problems.append(f"{target}: {[k for k, ok in got.items() if not ok]} {info['format']} {info['streams']}")
    assert problems == []


def test_options_are_validated_stored_and_applied(nextcloud: NextcloudTarget, exapp: ExAppProcess, tmp_path: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/hd.mp4", make_video(tmp_path / "hd.mp4", seconds=1, size="1280x720"))
    nextcloud.upload("alice", f"{folder}/sd.mp4", make_video(tmp_path / "sd.mp4", seconds=1, size="640x360"))

    bad = nextcloud.proxy(
        "alice", "POST", "api/jobs", json={"path": f"{folder}/hd.mp4", "target": "mp4", "options": {"quality": "best"}}
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith("options.quality:")
    bad = nextcloud.proxy(
        "alice", "POST", "api/jobs", json={"path": f"{folder}/hd.mp4", "target": "mp4", "options": {"max_height": 500}}
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith("options.max_height:")

    down = create(nextcloud, "alice", path=f"{folder}/hd.mp4", target="webm", options={"max_height": 480})
    keep = create(nextcloud, "alice", path=f"{folder}/sd.mp4", target="webm", options={"max_height": 720})
    assert down["options"] == {"quality": "normal", "max_height": 480, "audio_bitrate": None}
    sizes = {}
    for job in (down, keep):
        done = wait_job(nextcloud, "alice", job["id"], timeout=120)
        assert done["status"] == "completed", done
        video = next(
            s for s in probe_remote(nextcloud, "alice", done["output"]["path"], tmp_path)["streams"]
            if s["codec_type"] == "video"
        )  # fmt: skip
        sizes[job["source"]["path"].rsplit("/", 1)[-1]] = (video["width"], video["height"])
    assert sizes == {"hd.mp4": (854, 480), "sd.mp4": (640, 360)}  # scaled down, never up


def test_a_remux_says_so_in_the_job_notes(nextcloud: NextcloudTarget, exapp: ExAppProcess, clip: Path):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mov", clip)
    job = wait_job(nextcloud, "alice", create(nextcloud, "alice", path=f"{folder}/clip.mov", target="mp4")["id"])
    assert job["status"] == "completed"
    assert any("copied" in note for note in job["notes"]), job["notes"]

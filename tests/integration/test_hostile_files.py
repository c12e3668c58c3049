"""Hostile files uploaded by a user: each job fails with a clear reason, nothing is uploaded, and nothing of the
media planted on the ExApp's disk (another user's file, at a path the attacker knows) reaches the user's Files.

The attacks themselves are proven to work on plain FFmpeg in tests/unit/media/test_hostile_inputs.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ex_app.lib.media._stderr import EMPTY_FILE, EXTERNAL_REFERENCE, NOT_ACCEPTED, NOT_MEDIA, TRUNCATED
from tests.hostile import (
    MEDIA_NAMES,
    endless_gif,
    external_reference_mov,
    ffconcat_list,
    hls_playlist,
    huge_gif,
    image_sequence,
    make_planted,
)
from tests.media import make_video, run_ffmpeg

from .conftest import FAST_ENV, ExAppInPlace
from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, new_folder, trigger, wait_job


def walk(nextcloud: NextcloudTarget, user: str, path: str = "") -> set[str]:
    """Every file and folder in ``user``'s Files."""
    found: set[str] = set()
    for name in nextcloud.listdir(user, path):
        child = f"{path}/{name.rstrip('/')}"
        found.add(child)
        if name.endswith("/"):
            found |= walk(nextcloud, user, child)
    return found


@pytest.fixture(scope="module")
def planted(exapp: ExAppProcess) -> dict[str, Path]:
    """Media on the ExApp's disk at known places, standing for another user's source in the scratch folder."""
    return make_planted(exapp.storage / "planted")


def test_hostile_files_fail_clearly_and_leak_nothing_into_files(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, planted: dict[str, Path], tmp_path: Path
):
    clip = make_video(tmp_path / "clip.mp4", seconds=1, audio=False)
    # A job's source is <storage>/scratch/job-<id>-<token>/source.mov: up 3 (its folder, scratch, storage),
    # then down 2 to planted/secret.mov.
    dref = external_reference_mov(planted["mov"], up=3, down=2, path="/planted/secret.mov")
    gif = tmp_path / "solid.gif"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=red:size=1280x720:rate=10:duration=5", "-f", "gif", str(gif))
    files: dict[str, tuple[bytes, str]] = {
        **{name: (hls_playlist(planted["ts"]), NOT_ACCEPTED) for name in MEDIA_NAMES},
        "list.mp4": (ffconcat_list("source.ts"), NOT_ACCEPTED),
        "img%03d.png": (image_sequence(tmp_path / "frames").read_bytes(), NOT_ACCEPTED),
        "reference.mov": (dref, EXTERNAL_REFERENCE),
        "empty.mp4": (b"", EMPTY_FILE),
        "noise.mp4": (bytes(range(256)) * 64, NOT_MEDIA),
        "cut.mp4": (clip.read_bytes()[: clip.stat().st_size // 2], TRUNCATED),
        # Decompression bombs: GIF is an accepted container, so the size checks on the probe refuse these.
        "huge.gif": (
            huge_gif(gif),
            "The picture of this video is 16000 x 16000 pixels, larger than the converter handles.",
        ),
        # (The full sentence also gives the hours, the picture size and the file's kilobytes.)
        "endless.gif": (endless_gif(gif), "This file is far too small for the video it claims to hold ("),
    }
    folder = new_folder(nextcloud, "alice")
    for name, (data, _message) in files.items():
        nextcloud.upload("alice", f"{folder}/{name}", data)
    before = walk(nextcloud, "alice")

    # mime as the client claims it: an attacker sends what gets the file past the action's type check.
    entries = [action_entry(nextcloud, "alice", f"{folder}/{name}", mime="video/mp4") for name in files]
    created = trigger(nextcloud, "alice", "mkv", entries)["jobs"]

    assert [job["name"] for job in created] == list(files)
    for job_ref in created:
        job = wait_job(nextcloud, "alice", job_ref["job_id"])
        assert job["status"] == "failed" and job["error_message"].startswith(files[job_ref["name"]][1]), job
        assert job["output"] is None
    assert walk(nextcloud, "alice") == before
    assert list((exapp.storage / "scratch").glob("job-*")) == []


@pytest.fixture
def bounded_exapp(in_place_of_the_session_exapp: ExAppInPlace) -> Iterator[ExAppProcess]:
    """An ExApp whose outputs may be no larger than their source, or 1 MB."""
    with in_place_of_the_session_exapp(**FAST_ENV, VCFM_MAX_OUTPUT_RATIO="1", VCFM_MIN_OUTPUT_MB="1") as process:
        yield process


def test_an_output_growing_past_its_bound_fails_the_job_and_leaves_nothing(
    nextcloud: NextcloudTarget, bounded_exapp: ExAppProcess, tmp_path: Path
):
    # 4 s of 720p H.264 (about 0.5 MB) becomes about 1.7 MB of MPEG-4 Part 2 in AVI.
    source = tmp_path / "small.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=4", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "30", "-pix_fmt", "yuv420p", str(source))  # fmt: skip
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/small.mp4", source)
    before = walk(nextcloud, "alice")

    [created] = trigger(nextcloud, "alice", "avi", [action_entry(nextcloud, "alice", f"{folder}/small.mp4")])["jobs"]

    job = wait_job(nextcloud, "alice", created["job_id"])
    assert (job["status"], job["error_message"]) == (
        "failed",
        "The converted file grew past 1 MB, far larger than the original, so the conversion was stopped.",
    )
    assert walk(nextcloud, "alice") == before
    assert list((bounded_exapp.storage / "scratch").glob("job-*")) == []

from dataclasses import replace

import pytest

from ex_app.lib.admin_settings import AdminSettings
from ex_app.lib.enqueue import (
    SMALL_SOURCE_BYTES,
    ActionEntry,
    accepts,
    is_small,
    is_small_probed,
    job_for_file,
    jobs_from_action,
)
from ex_app.lib.errors import LimitReached, NotOffered, TooLarge
from ex_app.lib.media import JobOptions, get_target
from ex_app.lib.nextcloud import RemoteFile
from ex_app.lib.settings import Settings

MP4 = get_target("mp4")
OPEN = AdminSettings.defaults(Settings())
MB = 1024 * 1024


def entry(
    file_id: int, name: str, mime: str = "video/mp4", is_dir: bool = False, directory: str = "/Videos", size: int = 0
):
    return ActionEntry(file_id, name, directory, "etag", mime, is_dir, size)


def test_each_selected_video_becomes_a_job_for_the_authenticated_user():
    jobs, skipped = jobs_from_action(
        [entry(1, "a.mov", "video/quicktime"), entry(2, "b.mkv", "video/x-matroska")],
        user_id="alice",
        target=MP4,
        language="de",
        limits=OPEN,
    )
    assert [(j.user_id, j.file_id, j.source_path, j.target, j.language) for j in jobs] == [
        ("alice", 1, "/Videos/a.mov", "mp4", "de"),
        ("alice", 2, "/Videos/b.mkv", "mp4", "de"),
    ]
    assert skipped == []


def test_folders_and_non_videos_are_skipped_with_a_reason():
    jobs, skipped = jobs_from_action(
        [entry(1, "Holiday", "httpd/unix-directory", is_dir=True), entry(2, "notes.txt", "text/plain")],
        user_id="alice",
        target=MP4,
        language="en",
        limits=OPEN,
    )
    assert jobs == []
    assert [(s.file_id, s.reason) for s in skipped] == [(1, "is a folder"), (2, "is not a video (text/plain)")]


def test_a_file_selected_twice_becomes_one_job():
    jobs, skipped = jobs_from_action(
        [entry(1, "a.mp4"), entry(1, "a.mp4")], user_id="u", target=MP4, language="en", limits=OPEN
    )
    assert len(jobs) == 1 and skipped[0].reason == "selected twice"


def test_files_in_the_root_folder_get_a_single_leading_slash():
    jobs, _ = jobs_from_action([entry(5, "t.mp4", directory="/")], user_id="u", target=MP4, language="en", limits=OPEN)
    assert jobs[0].source_path == "/t.mp4"


def test_accepts_matches_mime_prefixes():
    assert accepts(MP4, "video/webm")
    assert not accepts(MP4, "image/png")


def test_a_target_the_admin_turned_off_is_refused():
    limits = replace(OPEN, targets=frozenset({"webm"}))
    with pytest.raises(NotOffered, match="does not offer 'Convert into MP4'"):
        jobs_from_action([entry(1, "a.mp4")], user_id="u", target=MP4, language="en", limits=limits)


def test_files_over_the_size_limit_are_skipped_with_the_limit_named():
    limits = replace(OPEN, max_input_mb=10)
    jobs, skipped = jobs_from_action(
        [entry(1, "small.mp4", size=10 * MB), entry(2, "big.mp4", size=10 * MB + 1)],
        user_id="u",
        target=MP4,
        language="en",
        limits=limits,
    )
    assert [j.file_id for j in jobs] == [1]
    assert [(s.name, s.reason) for s in skipped] == [("big.mp4", "is larger than the 10 MB limit")]


def test_the_per_user_limit_counts_jobs_already_queued():
    limits = replace(OPEN, max_jobs_per_user=3)
    jobs, skipped = jobs_from_action(
        [entry(i, f"{i}.mp4") for i in range(1, 4)], user_id="u", target=MP4, language="en", limits=limits, unfinished=1
    )
    assert [j.file_id for j in jobs] == [1, 2]
    assert skipped[0].reason == "you already have 3 unfinished conversions (the limit is 3)"


def test_a_single_job_over_a_limit_is_a_clear_4xx():
    remote = RemoteFile(file_id=5, path="/v/a.mp4", etag="e", size=20 * MB, mime="video/mp4", mtime=0)
    with pytest.raises(TooLarge) as too_large:
        job_for_file(remote, user_id="u", target=MP4, language="en", limits=replace(OPEN, max_input_mb=10))
    assert (too_large.value.status_code, too_large.value.user_message) == (413, "a.mp4 is larger than the 10 MB limit")
    with pytest.raises(LimitReached) as limited:
        job_for_file(
            remote, user_id="u", target=MP4, language="en", limits=replace(OPEN, max_jobs_per_user=2), unfinished=2
        )
    assert limited.value.status_code == 429


GB = 1024 * MB


@pytest.mark.parametrize(
    ("target", "mime", "size", "options", "small"),
    [
        # A long transcode: a big AVI into MP4, or a big file with any option changed.
        ("mp4", "video/x-msvideo", 2 * GB, {}, False),
        ("mp4", "video/mp4", 2 * GB, {"quality": "high"}, False),
        ("mp4", "video/mp4", 2 * GB, {"max_height": 720}, False),
        ("webm", "video/mp4", 2 * GB, {}, False),
        ("compress", "video/mp4", 2 * GB, {}, False),
        ("mp4", "video/x-matroska", 2 * GB, {}, False),
        # Short: a source of at most 64 MB, whatever it becomes.
        ("webm", "video/x-msvideo", SMALL_SOURCE_BYTES, {"quality": "high"}, True),
        ("webm", "video/x-msvideo", SMALL_SOURCE_BYTES + 1, {}, False),
        # Quick: only the sound is encoded.
        ("mp3", "video/x-msvideo", 2 * GB, {}, True),
        # Quick: a plain click that only changes the container.
        ("mkv", "video/x-msvideo", 2 * GB, {}, True),
        ("mp4", "video/quicktime", 2 * GB, {}, True),
        ("mov", "video/mp4", 2 * GB, {}, True),
        ("mkv", "video/mp4", 2 * GB, {"audio_bitrate": "192k"}, False),
        # An unknown size (0) is not taken for a small one.
        ("webm", "video/x-msvideo", 0, {}, False),
    ],
)
def test_small_jobs_are_short_sources_audio_extractions_and_likely_remuxes(target, mime, size, options, small):
    assert is_small(get_target(target), mime, size, JobOptions.from_dict(options)) is small


def test_jobs_from_the_files_action_and_the_api_carry_whether_they_are_small():
    jobs, _ = jobs_from_action(
        [entry(1, "clip.mp4", size=10 * MB), entry(2, "film.avi", "video/x-msvideo", size=2 * GB)],
        user_id="alice",
        target=MP4,
        language="en",
        limits=OPEN,
    )
    assert [job.small for job in jobs] == [True, False]
    remote = RemoteFile(3, "/Videos/film.avi", "etag", 2 * GB, "video/x-msvideo", 0.0)
    assert not job_for_file(remote, user_id="u", target=MP4, language="en", limits=OPEN).small
    assert job_for_file(remote, user_id="u", target=get_target("mkv"), language="en", limits=OPEN).small


@pytest.mark.parametrize(
    ("target", "duration", "remux", "small"),
    [
        ("mp4", 3600.0, False, False),  # an hour re-encoded: long
        ("mp4", 3600.0, True, True),  # the same hour only changing container: quick
        ("webm", 120.0, False, True),  # two minutes: short whatever it becomes
        ("webm", 121.0, False, False),
        ("webm", None, False, False),  # no duration known: not taken for short
        ("mp3", 3600.0, False, True),  # only the sound
    ],
)
def test_a_probed_job_is_small_when_short_a_remux_or_audio_only(target, duration, remux, small):
    assert is_small_probed(get_target(target), duration, remux) is small

from dataclasses import replace

import pytest

from ex_app.lib.admin_settings import AdminSettings
from ex_app.lib.enqueue import ActionEntry, accepts, job_for_file, jobs_from_action
from ex_app.lib.errors import LimitReached, NotOffered, TooLarge
from ex_app.lib.media import get_target
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

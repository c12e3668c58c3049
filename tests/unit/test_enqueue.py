from ex_app.lib.enqueue import ActionEntry, accepts, jobs_from_action
from ex_app.lib.media import get_target

MP4 = get_target("mp4")


def entry(file_id: int, name: str, mime: str = "video/mp4", is_dir: bool = False, directory: str = "/Videos"):
    return ActionEntry(file_id, name, directory, "etag", mime, is_dir)


def test_each_selected_video_becomes_a_job_for_the_authenticated_user():
    jobs, skipped = jobs_from_action(
        [entry(1, "a.mov", "video/quicktime"), entry(2, "b.mkv", "video/x-matroska")],
        user_id="alice",
        target=MP4,
        language="de",
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
    )
    assert jobs == []
    assert [(s.file_id, s.reason) for s in skipped] == [(1, "is a folder"), (2, "is not a video (text/plain)")]


def test_a_file_selected_twice_becomes_one_job():
    jobs, skipped = jobs_from_action([entry(1, "a.mp4"), entry(1, "a.mp4")], user_id="u", target=MP4, language="en")
    assert len(jobs) == 1 and skipped[0].reason == "selected twice"


def test_files_in_the_root_folder_get_a_single_leading_slash():
    jobs, _ = jobs_from_action([entry(5, "t.mp4", directory="/")], user_id="u", target=MP4, language="en")
    assert jobs[0].source_path == "/t.mp4"


def test_accepts_matches_mime_prefixes():
    assert accepts(MP4, "video/webm")
    assert not accepts(MP4, "image/png")

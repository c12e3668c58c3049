"""The chooser's pure parts: what each target makes of a file, which files get probed within the budget."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ex_app.lib.admin_settings import AdminSettings
from ex_app.lib.chooser import (
    FOLDER,
    FULL_PROBE_BYTES,
    HEAD_PROBE_BYTES,
    NOT_FOUND,
    NOT_MEDIA,
    TOO_LARGE,
    TOO_LONG,
    ProbeCache,
    choices_for,
    first_refusal,
    jobs_for_batch,
    offered_targets,
    too_long,
    within_budget,
)
from ex_app.lib.media import TARGETS, JobOptions, MediaInfo
from ex_app.lib.media.probe import AudioStream, VideoStream
from ex_app.lib.nextcloud import RemoteFile
from ex_app.lib.settings import Settings

MB = 1024 * 1024
LIMITS = replace(AdminSettings.defaults(Settings()), max_input_mb=100, max_input_minutes=10, targets=frozenset(TARGETS))
H264 = MediaInfo(
    duration=12.0,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    video=(VideoStream(index=0, codec="h264", width=1280, height=720, pix_fmt="yuv420p"),),
    audio=(AudioStream(index=1, codec="aac", channels=2),),
    stream_count=2,
)
SONG = MediaInfo(duration=200.0, format_name="mp3", audio=(AudioStream(index=0, codec="mp3", channels=2),))


def remote(file_id: int = 1, name: str = "a.mp4", mime: str = "video/mp4", size: int = MB, **kw) -> RemoteFile:
    return RemoteFile(file_id=file_id, path=f"/V/{name}", etag=f"e{file_id}", size=size, mime=mime, mtime=0, **kw)


def test_refusals_without_looking_inside():
    assert first_refusal(None, 7, LIMITS).message == NOT_FOUND
    assert first_refusal(remote(is_dir=True, mime="httpd/unix-directory"), 1, LIMITS).message == FOLDER
    text = first_refusal(remote(name="n.txt", mime="text/plain"), 1, LIMITS)
    assert (text.message, text.params, text.reason("en")) == (
        NOT_MEDIA,
        {"mime": "text/plain"},
        "This is not a video or audio file (text/plain)",
    )
    big = first_refusal(remote(size=101 * MB), 1, LIMITS)
    assert (big.message, big.params) == (TOO_LARGE, {"limit": 100})
    assert first_refusal(remote(size=100 * MB), 1, LIMITS) is None
    assert first_refusal(remote(mime="audio/mpeg", name="s.mp3"), 1, LIMITS) is None


def test_a_too_long_video_is_refused_once_probed():
    long = MediaInfo(duration=601.0, format_name="mp4", video=H264.video)
    assert too_long(remote(), long, LIMITS).message == TOO_LONG
    assert too_long(remote(), H264, LIMITS) is None
    assert too_long(remote(), None, LIMITS) is None, "unknown duration: the worker checks again"


def test_each_target_says_whether_it_is_a_fast_copy_and_names_the_output():
    choices, why_not = choices_for(remote(), H264, offered_targets(LIMITS), JobOptions())
    assert why_not is None
    assert (choices["mp4"].fast_copy, choices["mp4"].output_name) == (True, "a (converted).mp4")
    assert (choices["mkv"].fast_copy, choices["mkv"].output_name) == (True, "a.mkv")
    assert (choices["webm"].fast_copy, choices["webm"].output_name) == (False, "a.webm")
    assert choices["compress"].output_name == "a (compressed).mp4"
    scaled, _ = choices_for(remote(), H264, offered_targets(LIMITS), JobOptions(max_height=480))
    assert scaled["mp4"].fast_copy is False, "scaling down means re-encoding"


def test_an_audio_file_only_offers_audio_targets_and_unknown_media_offers_all():
    song = remote(name="s.mp3", mime="audio/mpeg")
    choices, why_not = choices_for(song, SONG, offered_targets(LIMITS), JobOptions())
    assert set(choices) == {t.id for t in TARGETS.values() if t.kind == "audio"}
    assert why_not is None
    unknown, _ = choices_for(remote(), None, offered_targets(LIMITS), JobOptions())
    assert set(unknown) == set(TARGETS) and not any(c.fast_copy for c in unknown.values())


def test_a_video_without_a_video_track_says_why_no_video_target_fits():
    silent_video = remote(name="v.mp4")
    choices, why_not = choices_for(silent_video, SONG, [TARGETS["mp4"]], JobOptions())
    assert choices == {} and "no video track" in why_not.user_message


def test_probing_stays_within_the_byte_budget_and_cached_files_are_free():
    small = [remote(i, size=40 * MB) for i in range(1, 4)]
    big = remote(9, size=5000 * MB)
    cache = ProbeCache()
    assert [r.file_id for r in within_budget([*small, big], cache, budget=90 * MB)] == [1, 2, 9]
    cache.put((3, "e3"), H264)
    assert [r.file_id for r in within_budget([*small, big], cache, budget=90 * MB)] == [1, 2, 3, 9]
    assert within_budget([big], ProbeCache(), budget=HEAD_PROBE_BYTES - 1) == []
    assert FULL_PROBE_BYTES > HEAD_PROBE_BYTES


def test_the_probe_cache_drops_the_least_recently_used():
    cache = ProbeCache(size=2)
    cache.put((1, "a"), H264)
    cache.put((2, "b"), None)
    assert cache.get((1, "a")) is H264  # now 2 is the oldest
    cache.put((3, "c"), SONG)
    assert (2, "b") not in cache and (1, "a") in cache and (3, "c") in cache
    assert (2, "b") not in cache and cache.get((2, "b")) is None


class FindingGateway:
    """Only what jobs_for_batch asks of the gateway: a file by id."""

    def __init__(self, *files: RemoteFile) -> None:
        self.files = {f.file_id: f for f in files}

    async def find(self, file_id: int) -> RemoteFile | None:
        return self.files.get(file_id)


@pytest.mark.anyio
async def test_batch_jobs_are_judged_small_by_what_ffprobe_saw_when_it_saw_the_file():
    # 90 MB each: too big for the size rule, so only the probe can make them small.
    eight_minutes, one_minute, unprobed = (remote(n, f"v{n}.mp4", size=90 * MB) for n in (1, 2, 3))
    cache = ProbeCache()
    cache.put((1, "e1"), replace(H264, duration=480.0))
    cache.put((2, "e2"), replace(H264, duration=60.0))
    gateway = FindingGateway(eight_minutes, one_minute, unprobed)

    async def small(target: str) -> list[bool]:
        jobs, refused = await jobs_for_batch(
            gateway,  # type: ignore[arg-type]
            [1, 2, 3],
            user_id="alice",
            target=TARGETS[target],
            options=JobOptions(),
            limits=LIMITS,
            unfinished=0,
            language="en",
            cache=cache,
        )
        assert refused == []
        return [job.small for job in jobs]

    # Into MP4, H.264 + AAC is copied: quick however long; the unprobed MP4 is guessed a remux as well.
    assert await small("mp4") == [True, True, True]
    # Into WebM everything is re-encoded: only the one-minute video is short; the unprobed one is not known to be.
    assert await small("webm") == [False, True, False]

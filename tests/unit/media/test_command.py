from __future__ import annotations

from pathlib import Path

import pytest

from ex_app.lib.errors import MediaError, UnsupportedInput
from ex_app.lib.media import TARGETS, JobOptions, MediaInfo, build_command, check_compatible, get_target
from ex_app.lib.media.probe import AudioStream, SubtitleStream, VideoStream

HEAD = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
SRC = Path("/scratch/1/in.mov")
DST = Path("/scratch/1/out.part")

MOVIE = MediaInfo(
    duration=10.0,
    format_name="mov,mp4,m4a,3gp,3g2,mj2",
    video=(VideoStream(index=1, codec="h264", width=1920, height=1080), VideoStream(index=4, codec="h264")),
    audio=(AudioStream(index=0, codec="aac", channels=2), AudioStream(index=2, codec="ac3", channels=6)),
    subtitles=(SubtitleStream(index=3, codec="mov_text"),),
    stream_count=5,
)
SONG = MediaInfo(duration=3.0, format_name="ogg", audio=(AudioStream(index=0, codec="vorbis", channels=1),))
SURROUND = MediaInfo(
    duration=3.0,
    format_name="matroska,webm",
    video=(VideoStream(index=0, codec="h264"),),
    audio=(AudioStream(index=1, codec="dts", channels=6), AudioStream(index=2, codec="aac", channels=2, default=True)),
)


def test_mp4_encodes_the_first_video_and_every_audio_track() -> None:
    assert build_command(get_target("mp4"), MOVIE, SRC, DST) == [
        *HEAD,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-map", "0:0", "-map", "0:2"),
        *("-c:v", "libx264", "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p"),
        *("-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"),
        *("-c:a", "aac", "-b:a", "160k"),
        *("-map_metadata", "0"),
        *("-movflags", "+faststart", "-f", "mp4", "file:/scratch/1/out.part"),
    ]


def test_webm_uses_constant_quality_vp9_and_opus() -> None:
    assert build_command(get_target("webm"), MOVIE, SRC, DST, threads=3, ffmpeg="/usr/bin/ffmpeg") == [
        "/usr/bin/ffmpeg",
        *HEAD[1:],
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-map", "0:0", "-map", "0:2"),
        *("-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "4", "-crf", "31", "-b:v", "0", "-row-mt", "1"),
        *("-pix_fmt", "yuv420p"),
        *("-c:a", "libopus", "-b:a", "128k"),
        *("-map_metadata", "0", "-threads", "3"),
        *("-f", "webm", "file:/scratch/1/out.part"),
    ]


def test_mkv_copies_everything_but_data_and_converts_mp4_subtitles() -> None:
    assert build_command(get_target("mkv"), MOVIE, SRC, DST) == [
        *HEAD,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0", "-map", "-0:d", "-c", "copy", "-c:s:0", "srt"),
        *("-map_metadata", "0", "-f", "matroska", "file:/scratch/1/out.part"),
    ]


def test_mp3_extracts_the_default_audio_track_as_stereo() -> None:
    assert build_command(get_target("mp3"), SURROUND, SRC, DST) == [
        *HEAD,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:2", "-vn", "-sn", "-dn"),
        *("-c:a", "libmp3lame", "-q:a", "2"),
        *("-map_metadata", "0", "-f", "mp3", "file:/scratch/1/out.part"),
    ]


def test_mp3_downmixes_wider_than_stereo() -> None:
    six = MediaInfo(duration=1.0, format_name="x", audio=(AudioStream(index=0, codec="dts", channels=6),))
    cmd = build_command(get_target("mp3"), six, SRC, DST)
    assert cmd[cmd.index("-ac") + 1] == "2"


def test_video_without_audio_gets_no_audio_arguments() -> None:
    silent = MediaInfo(duration=1.0, format_name="x", video=(VideoStream(index=0, codec="h264"),))
    cmd = build_command(get_target("mp4"), silent, SRC, DST)
    assert cmd.count("-map") == 1
    assert "-c:a" not in cmd


def test_options_change_quality_size_and_bitrate() -> None:
    options = JobOptions(quality="small", max_height=720, audio_bitrate="96k")
    mp4 = build_command(get_target("mp4"), MOVIE, SRC, DST, options=options)
    assert mp4[mp4.index("-crf") + 1] == "28"
    assert mp4[mp4.index("-vf") + 1] == "scale=-2:trunc(min(ih\\,720)/2)*2"
    assert mp4[mp4.index("-b:a") + 1] == "96k"
    webm = build_command(get_target("webm"), MOVIE, SRC, DST, options=JobOptions(quality="high", max_height=480))
    assert webm[webm.index("-crf") + 1] == "24"
    assert webm[webm.index("-vf") + 1] == "scale=-1:min(ih\\,480)"
    mp3 = build_command(get_target("mp3"), SONG, SRC, DST, options=JobOptions(audio_bitrate="192k"))
    assert ("-q:a" not in mp3, mp3[mp3.index("-b:a") + 1]) == (True, "192k")


def test_fastest_speed_is_explicit_and_only_changes_encoder_effort() -> None:
    balanced = build_command(get_target("mp4"), MOVIE, SRC, DST)
    fastest = build_command(get_target("mp4"), MOVIE, SRC, DST, speed="fastest")
    assert [a for a in balanced if a != "medium"] == [a for a in fastest if a != "ultrafast"]


@pytest.mark.parametrize("name", ["-rf.mp4", "a b 'c' \"d\".mp4", "ünïcødé 日本.mkv", "http:evil.mp4", "x;rm -rf.mp4"])
def test_any_file_name_is_one_argument_that_cannot_be_an_option(name: str) -> None:
    cmd = build_command(get_target("mkv"), MOVIE, Path(name), Path("out-" + name))
    assert cmd[cmd.index("-i") + 1] == "file:" + name
    assert cmd[-1] == "file:out-" + name


def test_audio_only_file_cannot_become_a_video() -> None:
    for target_id in ("mp4", "webm", "mkv"):
        with pytest.raises(UnsupportedInput) as caught:
            check_compatible(get_target(target_id), SONG)
        name = get_target(target_id).name
        assert caught.value.user_message == (
            f"This file has no video track, so it cannot be converted to {name}. Try 'Extract audio'."
        )


def test_silent_video_has_nothing_to_extract() -> None:
    silent = MediaInfo(duration=1.0, format_name="x", video=(VideoStream(index=0, codec="h264"),))
    with pytest.raises(UnsupportedInput, match="no audio track"):
        build_command(get_target("mp3"), silent, SRC, DST)


def test_file_without_streams_is_a_media_error() -> None:
    empty = MediaInfo(duration=None, format_name="mp4")
    for target in TARGETS.values():
        with pytest.raises(MediaError, match="no video or audio track"):
            check_compatible(target, empty)

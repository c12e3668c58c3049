from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ex_app.lib.errors import MediaError, UnsupportedInput
from ex_app.lib.media import TARGETS, JobOptions, MediaInfo, build_command, check_compatible, get_target
from ex_app.lib.media.probe import AudioStream, SubtitleStream, VideoStream

HEAD = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-progress", "pipe:1", "-nostats"]
# Read the given file only: no protocol but file, no demuxer outside the list (hls, concat, image2 …).
FORMATS = "mov,matroska,avi,asf,mpeg,mpegts,flv,ogg,dv,mxf,gif,wav,aiff,mp3,flac,aac"
GUARD = ["-protocol_whitelist", "file", "-format_whitelist", FORMATS]
GUARD_MOV = [*GUARD, "-enable_drefs", "0", "-use_absolute_path", "0"]
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


def test_mp4_encodes_the_video_and_keeps_every_audio_track_copying_what_fits() -> None:
    assert build_command(get_target("mp4"), MOVIE, SRC, DST) == [
        *HEAD,
        *GUARD_MOV,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-map", "0:0", "-map", "0:2", "-map", "0:3"),
        *("-c:v", "libx264", "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p"),
        *("-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"),
        *("-c:a:0", "copy", "-c:a:1", "aac", "-b:a:1", "160k"),
        *("-c:s", "copy"),
        *("-map_metadata", "0", "-map_chapters", "0"),
        *("-movflags", "+faststart", "-f", "mp4", "file:/scratch/1/out.part"),
    ]


def test_webm_uses_constant_quality_vp9_and_opus_and_webvtt() -> None:
    assert build_command(get_target("webm"), MOVIE, SRC, DST, threads=3, ffmpeg="/usr/bin/ffmpeg") == [
        "/usr/bin/ffmpeg",
        *HEAD[1:],
        *GUARD_MOV,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-map", "0:0", "-map", "0:2", "-map", "0:3"),
        *("-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "4", "-crf", "31", "-b:v", "0", "-row-mt", "1"),
        *("-pix_fmt", "yuv420p"),
        *("-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"),
        *("-c:a", "libopus", "-b:a", "128k"),
        *("-c:s", "webvtt"),
        *("-map_metadata", "0", "-map_chapters", "0", "-threads", "3"),
        *("-f", "webm", "file:/scratch/1/out.part"),
    ]


def test_mkv_copies_streams_and_attachments_and_converts_mp4_subtitles() -> None:
    assert build_command(get_target("mkv"), MOVIE, SRC, DST) == [
        *HEAD,
        *GUARD_MOV,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-map", "0:0", "-map", "0:2", "-map", "0:3", "-map", "0:t?"),
        *("-c:v", "copy", "-c:a", "copy", "-c:s", "srt"),
        *("-map_metadata", "0", "-map_chapters", "0", "-f", "matroska", "file:/scratch/1/out.part"),
    ]


def test_mp3_extracts_the_default_audio_track_as_stereo() -> None:
    assert build_command(get_target("mp3"), SURROUND, SRC, DST) == [
        *HEAD,
        *GUARD,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:2", "-vn", "-sn", "-dn"),
        *("-c:a", "libmp3lame", "-q:a", "2"),
        *("-map_metadata", "0", "-map_chapters", "0", "-f", "mp3", "file:/scratch/1/out.part"),
    ]


def test_hevc_is_tagged_hvc1_for_apple_players() -> None:
    cmd = build_command(get_target("mp4_hevc"), MOVIE, SRC, DST, speed="fastest")
    assert cmd[cmd.index("-c:v") : cmd.index("-vf")] == [
        *("-c:v", "libx265", "-preset", "ultrafast", "-crf", "26", "-x265-params", "log-level=error"),
        *("-pix_fmt", "yuv420p", "-tag:v", "hvc1"),
    ]


def test_avi_is_xvid_with_constant_bitrate_mp3_one_audio_track_and_no_subtitles_or_chapters() -> None:
    assert build_command(get_target("avi"), MOVIE, SRC, DST) == [
        *HEAD,
        *GUARD_MOV,
        *("-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-map", "0:0"),
        *("-c:v", "mpeg4", "-q:v", "5", "-pix_fmt", "yuv420p", "-tag:v", "xvid"),
        *("-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"),
        *("-c:a", "libmp3lame", "-b:a", "192k"),
        *("-map_metadata", "0", "-map_chapters", "-1", "-f", "avi", "file:/scratch/1/out.part"),
    ]


def test_gif_reads_only_30_seconds_caps_fps_and_width_and_builds_one_palette() -> None:
    long = replace(MOVIE, duration=95.0, video=(replace(MOVIE.video[0], fps=30.0),))
    assert build_command(get_target("gif"), long, SRC, DST) == [
        *HEAD,
        *GUARD_MOV,
        *("-t", "30", "-i", "file:/scratch/1/in.mov"),
        *("-map", "0:1", "-c:v", "gif"),
        "-vf",
        "fps=12,scale=min(iw\\,480):-1:flags=lanczos,"
        "split[s0][s1];[s0]palettegen=stats_mode=diff[p];[s1][p]paletteuse=dither=bayer:bayer_scale=5",
        *("-map_metadata", "0", "-map_chapters", "-1", "-f", "gif", "file:/scratch/1/out.part"),
    ]


def test_gif_never_raises_a_low_frame_rate() -> None:
    slow = replace(MOVIE, video=(replace(MOVIE.video[0], fps=8.0),))
    cmd = build_command(get_target("gif"), slow, SRC, DST)
    assert cmd[cmd.index("-vf") + 1].startswith("scale=min(iw")


def test_audio_extraction_into_m4a_and_opus_copies_a_fitting_codec() -> None:
    m4a = build_command(get_target("m4a"), SURROUND, SRC, DST)
    assert m4a[m4a.index("-map") :] == [
        *("-map", "0:2", "-vn", "-sn", "-dn", "-c:a", "copy"),
        *("-map_metadata", "0", "-map_chapters", "0", "-movflags", "+faststart", "-f", "ipod"),
        "file:/scratch/1/out.part",
    ]
    opus = build_command(get_target("opus"), SURROUND, SRC, DST)
    assert opus[opus.index("-c:a") : opus.index("-map_metadata")] == ["-c:a", "libopus", "-b:a", "128k"]
    assert opus[opus.index("-f") + 1] == "opus"


def test_compress_re_encodes_one_step_smaller_in_the_source_container() -> None:
    cmd = build_command(get_target("compress"), MOVIE, SRC, DST)
    assert cmd[cmd.index("-crf") + 1] == "28"
    assert cmd[cmd.index("-c:a") : cmd.index("-c:s")] == ["-c:a", "aac", "-b:a", "128k"]
    assert cmd[-3:] == ["-f", "mov", "file:/scratch/1/out.part"]
    small = build_command(get_target("compress"), MOVIE, Path("a.webm"), DST, options=JobOptions(quality="small"))
    assert (small[small.index("-crf") + 1], small[small.index("-b:a") + 1], small[-2]) == ("43", "96k", "webm")
    avi = build_command(get_target("compress"), MOVIE, Path("a.AVI"), DST)
    assert (avi[avi.index("-q:v") + 1], avi[avi.index("-b:a") + 1], avi[-2]) == ("8", "128k", "avi")


def test_compress_keeps_vp9_in_matroska_as_vp9() -> None:
    vp9 = replace(MOVIE, video=(VideoStream(index=1, codec="vp9", width=640, height=360, pix_fmt="yuv420p"),))
    cmd = build_command(get_target("compress"), vp9, Path("talk.mkv"), DST)
    assert (cmd[cmd.index("-c:v") + 1], cmd[cmd.index("-c:a") + 1], cmd[-2]) == ("libvpx-vp9", "libopus", "matroska")


def test_a_fitting_source_is_remuxed_without_encoding() -> None:
    fitting = MediaInfo(
        duration=5.0,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        video=(VideoStream(index=0, codec="h264", width=1280, height=720, pix_fmt="yuv420p"),),
        audio=(AudioStream(index=1, codec="aac", channels=2),),
    )
    cmd = build_command(get_target("mp4"), fitting, SRC, DST, options=JobOptions(max_height=720))
    assert cmd[cmd.index("-map") : cmd.index("-map_metadata")] == [
        *("-map", "0:0", "-map", "0:1", "-c:v", "copy", "-c:a", "copy"),
    ]


def test_an_audio_bitrate_option_re_encodes_tracks_that_could_be_copied() -> None:
    cmd = build_command(get_target("mkv"), SURROUND, SRC, DST, options=JobOptions(audio_bitrate="96k"))
    assert cmd[cmd.index("-c:v") : cmd.index("-map_metadata")] == ["-c:v", "copy", "-c:a", "aac", "-b:a", "96k"]


@pytest.mark.parametrize("name", ["-rf.mp4", "a b 'c' \"d\".mp4", "ünïcødé 日本.mkv", "http:evil.mp4", "x;rm -rf.mp4"])
def test_any_file_name_is_one_argument_that_cannot_be_an_option(name: str) -> None:
    cmd = build_command(get_target("mkv"), MOVIE, Path(name), Path("out-" + name))
    assert cmd[cmd.index("-i") + 1] == "file:" + name
    assert cmd[-1] == "file:out-" + name


def test_audio_only_file_cannot_become_a_video() -> None:
    for target_id in [t.id for t in TARGETS.values() if t.kind == "video" and not t.same_format]:
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


def test_an_undecodable_main_track_is_refused_before_encoding() -> None:
    mystery = MediaInfo(duration=3.0, format_name="x", video=(VideoStream(index=0, codec="unknown"),))
    with pytest.raises(MediaError, match="video track is in a format FFmpeg cannot decode"):
        build_command(get_target("mp4"), mystery, SRC, DST)

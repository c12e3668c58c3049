from __future__ import annotations

from typing import Any

from ex_app.lib.media import MediaInfo, parse_ffprobe
from ex_app.lib.media.probe import AudioStream, SubtitleStream, VideoStream

# Shaped like ffprobe 5.1's JSON for a portrait phone video with cover art, two audio tracks and subtitles.
PHONE: dict[str, Any] = {
    "streams": [
        {
            "index": 0,
            "codec_name": "hevc",
            "codec_type": "video",
            "width": 1920,
            "height": 1080,
            "pix_fmt": "yuv420p10le",
            "avg_frame_rate": "30000/1001",
            "duration": "12.345000",
            "disposition": {"default": 1, "attached_pic": 0},
            "tags": {"language": "und", "handler_name": "Core Media Video"},
            "side_data_list": [{"side_data_type": "Display Matrix", "displaymatrix": "...", "rotation": -90}],
        },
        {
            "index": 1,
            "codec_name": "aac",
            "codec_type": "audio",
            "channels": 2,
            "disposition": {"default": 1},
            "tags": {"language": "eng"},
        },
        {"index": 2, "codec_name": "ac3", "codec_type": "audio", "channels": 6, "disposition": {"default": 0}},
        {"index": 3, "codec_name": "mov_text", "codec_type": "subtitle", "tags": {"language": "fra"}},
        {"index": 4, "codec_name": "mjpeg", "codec_type": "video", "disposition": {"attached_pic": 1}},
        {"index": 5, "codec_type": "data", "codec_tag_string": "tmcd"},
    ],
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "12.400000"},
}


def test_phone_video_is_understood() -> None:
    info = parse_ffprobe(PHONE)
    assert info == MediaInfo(
        duration=12.4,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        video=(
            VideoStream(
                index=0,
                codec="hevc",
                width=1920,
                height=1080,
                pix_fmt="yuv420p10le",
                rotation=90,
                fps=30000 / 1001,
                default=True,
                duration=12.345,
            ),
        ),
        audio=(
            AudioStream(index=1, codec="aac", channels=2, language="eng", default=True),
            AudioStream(index=2, codec="ac3", channels=6, language=None, default=False),
        ),
        subtitles=(SubtitleStream(index=3, codec="mov_text", language="fra"),),
        stream_count=6,
    )
    assert info.main_video is not None and info.main_video.display_size == (1080, 1920)
    assert info.main_audio == info.audio[0]


def test_cover_art_alone_is_not_video() -> None:
    info = parse_ffprobe(
        {
            "streams": [
                {"index": 0, "codec_type": "audio", "codec_name": "mp3", "channels": 2},
                {"index": 1, "codec_type": "video", "codec_name": "png", "disposition": {"attached_pic": 1}},
            ],
            "format": {"format_name": "mp3", "duration": "3.0"},
        }
    )
    assert info.video == ()
    assert info.main_video is None
    assert info.stream_count == 2


def test_legacy_rotate_tag_is_read() -> None:
    stream = {"codec_type": "video", "codec_name": "h264", "tags": {"rotate": "270"}}
    assert parse_ffprobe({"streams": [stream]}).video[0].rotation == 270


def test_display_matrix_rotation_is_normalised_to_clockwise_quarter_turns() -> None:
    def rotation(value: object) -> int:
        stream = {"codec_type": "video", "codec_name": "h264", "side_data_list": [{"rotation": value}]}
        return parse_ffprobe({"streams": [stream]}).video[0].rotation

    assert [rotation(v) for v in (-90, 90, 180, -180, 0, "N/A", -89.99)] == [90, 270, 180, 180, 0, 0, 90]


def test_duration_falls_back_to_the_longest_stream() -> None:
    info = parse_ffprobe(
        {
            "streams": [
                {"codec_type": "video", "codec_name": "vp9", "duration": "N/A"},
                {"codec_type": "audio", "codec_name": "opus", "duration": "4.5"},
                {"codec_type": "audio", "codec_name": "opus", "duration": "3.0"},
            ],
            "format": {"format_name": "matroska,webm", "duration": "N/A"},
        }
    )
    assert info.duration == 4.5


def test_missing_everything_is_unknown_not_an_error() -> None:
    info = parse_ffprobe({})
    assert info == MediaInfo(duration=None, format_name="unknown")
    stream = {"codec_type": "video", "width": "N/A", "avg_frame_rate": "0/0", "index": "x"}
    video = parse_ffprobe({"streams": [stream]}).video[0]
    assert (video.index, video.codec, video.width, video.fps, video.display_size) == (0, "unknown", None, None, None)


def test_main_streams_fall_back_to_the_first_when_none_is_default() -> None:
    info = parse_ffprobe(
        {
            "streams": [
                {"index": 0, "codec_type": "audio", "codec_name": "aac"},
                {"index": 1, "codec_type": "audio", "codec_name": "aac"},
            ]
        }
    )
    assert info.main_audio == info.audio[0]


def test_chapters_are_counted_and_matroska_stream_durations_read_from_tags() -> None:
    info = parse_ffprobe(
        {
            "streams": [
                {"index": 0, "codec_type": "video", "codec_name": "h264", "tags": {"DURATION": "00:01:02.500000000"}},
                {"index": 1, "codec_type": "audio", "codec_name": "opus", "tags": {"DURATION": "garbage"}},
            ],
            "chapters": [{"id": 0}, {"id": 1}],
        }
    )
    assert (info.chapters, info.video[0].duration, info.audio[0].duration) == (2, 62.5, None)

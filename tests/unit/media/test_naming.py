from __future__ import annotations

import pytest

from ex_app.lib.media import MediaInfo, get_target, output_extension, output_stem, resolve_target
from ex_app.lib.media.probe import VideoStream


@pytest.mark.parametrize(
    ("target_id", "source", "stem"),
    [
        ("mp4", "holiday.mov", "holiday"),
        ("mp4", "holiday.mp4", "holiday (converted)"),
        ("mp4", "HOLIDAY.MP4", "HOLIDAY (converted)"),
        ("mp4_hevc", "holiday.mp4", "holiday (converted)"),
        ("compress", "holiday.mp4", "holiday (compressed)"),
        ("compress", "holiday.flv", "holiday (compressed)"),
        ("mp3", "my song.final.v2.mkv", "my song.final.v2"),
        ("webm", 'it\'s "quoted".mp4', 'it\'s "quoted"'),
        ("gif", "ünïcødé 日本語 🎬.mov", "ünïcødé 日本語 🎬"),
        ("mkv", "-rf --help.mp4", "-rf --help"),
        ("mp4", "no extension", "no extension"),
        ("mp4", ".clip.mov", ".clip"),
        ("mp4", ".clip.mp4", ".clip (converted)"),
        ("mp4", ".clip", ".clip"),
        ("mp4", "folder/sub/clip.avi", "clip"),
    ],
)
def test_output_stem_keeps_the_name_and_marks_same_extension_outputs(target_id: str, source: str, stem: str) -> None:
    assert output_stem(get_target(target_id), source) == stem


@pytest.mark.parametrize(
    ("source", "extension", "muxer"),
    [
        ("a.mp4", "mp4", "mp4"),
        ("a.MOV", "mov", "mov"),
        ("a.qt", "qt", "mov"),  # the source's own extension, even a rare one
        ("a.m4v", "m4v", "ipod"),
        ("a.webm", "webm", "webm"),
        ("a.mkv", "mkv", "matroska"),
        ("a.avi", "avi", "avi"),
        ("a.flv", "mp4", "mp4"),
        ("a.wmv", "mp4", "mp4"),
        ("no extension", "mp4", "mp4"),
    ],
)
def test_compress_keeps_the_source_format_or_falls_back_to_mp4(source: str, extension: str, muxer: str) -> None:
    compress = get_target("compress")
    assert output_extension(compress, source) == extension
    resolved = resolve_target(compress, source)
    assert (resolved.id, resolved.label, resolved.muxer, resolved.compress) == (
        "compress",
        "Compress (same format)",
        muxer,
        True,
    )


def test_other_targets_have_a_fixed_extension() -> None:
    assert output_extension(get_target("m4a"), "song.webm") == "m4a"
    assert resolve_target(get_target("mp4"), "x.mkv") is get_target("mp4")


def test_compressing_vp9_in_matroska_stays_vp9_while_h264_in_matroska_stays_h264() -> None:
    def mkv(codec: str) -> MediaInfo:
        return MediaInfo(duration=1.0, format_name="matroska,webm", video=(VideoStream(index=0, codec=codec),))

    compress = get_target("compress")
    vp9, h264 = resolve_target(compress, "a.mkv", mkv("vp9")), resolve_target(compress, "a.mkv", mkv("h264"))
    assert (vp9.video and vp9.video.encoder, h264.video and h264.video.encoder) == ("libvpx-vp9", "libx264")

"""Sources a naive ``ffmpeg -i in out`` gets wrong (see the ``awkward`` fixture), converted for real."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ex_app.lib.errors import MediaError, UnsupportedInput
from ex_app.lib.media import TARGETS, JobOptions, check_compatible, get_target, make_plan, probe

from .test_real_ffmpeg import convert

pytestmark = [pytest.mark.anyio, pytest.mark.ffmpeg]


def ffprobe_json(ffprobe: str, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-show_chapters",
         str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("target_id", ["mp4_hevc", "mov", "m4v", "avi", "compress"])
async def test_odd_sized_444_video_becomes_even_420(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target_id: str
) -> None:
    assert (await probe(samples["odd_size"])).video[0].width == 321
    out = await convert(get_target(target_id), samples["odd_size"], tmp_path / "out", ffmpeg_bin)
    assert [(v.width, v.height, v.pix_fmt) for v in out.video] == [(320, 240, "yuv420p")]


@pytest.mark.parametrize(
    ("sample", "target_id", "codec"),
    [
        ("hevc10", "mp4", "h264"),
        ("ffv1_444", "mp4", "h264"),
        ("ffv1_444", "mp4_hevc", "hevc"),
        ("hevc10", "webm", "vp9"),
    ],
)
async def test_10_bit_and_444_sources_become_8_bit_420(
    awkward: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, sample: str, target_id: str, codec: str
) -> None:
    out = await convert(get_target(target_id), awkward[sample], tmp_path / "out", ffmpeg_bin)
    assert [(v.codec, v.pix_fmt) for v in out.video] == [(codec, "yuv420p")]


async def test_hevc_main_10_is_copied_into_mp4_hevc_with_the_apple_tag(
    awkward: dict[str, Path], ffmpeg_bin: str, ffprobe_bin: str, tmp_path: Path
) -> None:
    out = await convert(get_target("mp4_hevc"), awkward["hevc10"], tmp_path / "out.mp4", ffmpeg_bin)
    assert [(v.codec, v.pix_fmt) for v in out.video] == [("hevc", "yuv420p10le")]
    (stream,) = ffprobe_json(ffprobe_bin, tmp_path / "out.mp4")["streams"][:1]
    assert stream["codec_tag_string"] == "hvc1"


@pytest.mark.parametrize(
    ("target_id", "size", "rotation"),
    [
        ("mp4", (320, 240), 270),  # copied: the display matrix goes along, players turn it
        ("mov", (320, 240), 270),
        ("mp4_hevc", (240, 320), 0),  # encoded: the picture itself is turned
        ("webm", (240, 320), 0),
        ("mkv", (240, 320), 0),  # Matroska would lose the matrix, so the video is encoded upright
        ("gif", (240, 320), 0),
    ],
)
async def test_a_rotated_phone_video_shows_upright(
    awkward: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target_id: str, size: tuple[int, int], rotation: int
) -> None:
    source = (await probe(awkward["rotated"])).video[0]
    assert (source.width, source.height, source.display_size) == (320, 240, (240, 320))
    (video,) = (await convert(get_target(target_id), awkward["rotated"], tmp_path / "out", ffmpeg_bin)).video
    assert ((video.width, video.height), video.rotation, video.display_size) == (size, rotation, (240, 320))


@pytest.mark.parametrize("target_id", ["mp4", "webm", "avi", "mov"])
async def test_variable_frame_rate_stays_in_sync(
    awkward: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target_id: str
) -> None:
    source = await probe(awkward["vfr"])
    out = await convert(get_target(target_id), awkward["vfr"], tmp_path / "out", ffmpeg_bin)
    (video,), (audio,) = out.video, out.audio
    assert video.duration is not None and audio.duration is not None
    assert video.duration == pytest.approx(audio.duration, abs=0.2)
    assert video.duration == pytest.approx(source.duration, abs=0.2)


@pytest.mark.parametrize(
    ("target_id", "audio", "subtitles"),
    [
        ("mp4", ["aac", "aac"], ["mov_text", "mov_text"]),
        ("mov", ["aac", "aac"], ["mov_text", "mov_text"]),
        ("m4v", ["aac", "aac"], ["mov_text", "mov_text"]),
        ("mkv", ["aac", "aac"], ["subrip", "ass"]),
        ("webm", ["opus", "opus"], ["webvtt", "webvtt"]),
        ("avi", ["mp3"], []),
        ("mp3", ["mp3"], []),
        ("gif", [], []),
    ],
)
async def test_audio_tracks_and_subtitles_are_kept_where_the_container_allows(
    awkward: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target_id: str, audio: list[str], subtitles: list[str]
) -> None:
    out = await convert(get_target(target_id), awkward["rich"], tmp_path / "out", ffmpeg_bin)
    assert [a.codec for a in out.audio] == audio
    assert [s.codec for s in out.subtitles] == subtitles
    if len(audio) == 1:  # the one track kept is the default one: the second (AVI and MP3 keep no language tag)
        plan = make_plan(get_target(target_id), await probe(awkward["rich"]))
        assert [a.index for a in plan.audio] == [2]


@pytest.mark.parametrize("target_id", ["mp4", "mov", "mkv", "m4v", "webm"])
async def test_title_creation_time_and_chapters_survive(
    awkward: dict[str, Path], ffmpeg_bin: str, ffprobe_bin: str, tmp_path: Path, target_id: str
) -> None:
    await convert(get_target(target_id), awkward["rich"], tmp_path / "out", ffmpeg_bin)
    data = ffprobe_json(ffprobe_bin, tmp_path / "out")
    tags = data["format"]["tags"]
    assert tags["title"] == "Holiday «été»"
    assert tags["creation_time"].startswith("2021-06-01T12:34:56")
    assert [c["tags"]["title"] for c in data["chapters"]] == ["Start", "End"]


async def test_audio_only_source_extracts_to_every_audio_target_and_refuses_video_targets(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path
) -> None:
    info = await probe(samples["audio_only"])
    for target in TARGETS.values():
        if target.kind == "video":
            with pytest.raises(UnsupportedInput, match="no video track"):
                check_compatible(target, info)
        else:
            out = await convert(target, samples["audio_only"], tmp_path / target.id, ffmpeg_bin)
            assert (out.video, len(out.audio)) == ((), 1)


@pytest.mark.parametrize("target_id", ["mp4_hevc", "webm", "mkv", "mov", "avi", "m4v", "gif", "compress"])
async def test_video_without_audio_converts(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target_id: str
) -> None:
    out = await convert(get_target(target_id), samples["video_only"], tmp_path / "out", ffmpeg_bin)
    assert (len(out.video), out.audio) == (1, ())


async def test_a_file_without_any_stream_is_refused_before_any_encoder_runs(awkward: dict[str, Path]) -> None:
    info = await probe(awkward["no_streams"])
    assert (info.stream_count, info.video, info.audio, info.subtitles) == (1, (), (), ())
    for target in TARGETS.values():
        with pytest.raises(MediaError, match="no video or audio track that FFmpeg can read"):
            check_compatible(target, info)


async def test_the_gif_cap_cuts_a_long_video_and_the_plan_says_so(
    awkward: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 1 s cap on the 2 s sample stands in for the 30 s cap on a long video, to keep the test fast.
    from dataclasses import replace

    from ex_app.lib.media import targets

    monkeypatch.setitem(targets.TARGETS, "gif", replace(get_target("gif"), max_duration=1))
    gif = get_target("gif")
    assert "Only the first 1 seconds were converted (GIF limit)." in make_plan(gif, await probe(awkward["vfr"])).notes
    out = await convert(gif, awkward["vfr"], tmp_path / "out.gif", ffmpeg_bin, JobOptions())
    assert out.duration == pytest.approx(1.0, abs=0.15)

"""Probe and runner against the real ffmpeg 5.1, on media made by the ``samples`` fixture."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import anyio
import psutil
import pytest

from ex_app.lib.errors import MediaError, ScratchFull, UnsupportedInput
from ex_app.lib.media import (
    TARGETS,
    JobOptions,
    MediaInfo,
    Target,
    build_command,
    check_compatible,
    get_target,
    make_plan,
    probe,
    run_ffmpeg,
    verify_output,
)
from ex_app.lib.media.command import GLOBAL_ARGS

pytestmark = [pytest.mark.anyio, pytest.mark.ffmpeg]

# target → (format_name, video codec or None, pixel format, width x height, audio codec or None), expected
# when converting the "av" sample (320x240 H.264 + AAC in MP4, 2 s).
EXPECTED = {
    "mp4": ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "yuv420p", (320, 240), "aac"),
    "mp4_hevc": ("mov,mp4,m4a,3gp,3g2,mj2", "hevc", "yuv420p", (320, 240), "aac"),
    "webm": ("matroska,webm", "vp9", "yuv420p", (320, 240), "opus"),
    "mkv": ("matroska,webm", "h264", "yuv420p", (320, 240), "aac"),
    "mov": ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "yuv420p", (320, 240), "aac"),
    "avi": ("avi", "mpeg4", "yuv420p", (320, 240), "mp3"),
    "m4v": ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "yuv420p", (320, 240), "aac"),
    "gif": ("gif", "gif", "bgra", (320, 240), None),
    "mp3": ("mp3", None, None, None, "mp3"),
    "m4a": ("mov,mp4,m4a,3gp,3g2,mj2", None, None, None, "aac"),
    "opus": ("ogg", None, None, None, "opus"),
    "compress": ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "yuv420p", (320, 240), "aac"),
}


def test_every_target_has_an_end_to_end_expectation() -> None:
    assert set(EXPECTED) == set(TARGETS)


async def convert(
    target: Target, src: Path, dst: Path, ffmpeg: str, options: JobOptions | None = None, **kwargs: object
) -> MediaInfo:
    """What the worker does: probe, check, plan, build (at the fastest encoder speed), run, probe, verify."""
    info = await probe(src)
    check_compatible(target, info)
    plan = make_plan(target, info, options, source_name=src.name)
    cmd = build_command(target, info, src, dst, plan=plan, ffmpeg=ffmpeg, speed="fastest")
    await run_ffmpeg(cmd, duration=plan.expected_duration, **kwargs)  # type: ignore[arg-type]
    output = await probe(dst)
    verify_output(info, output, target, plan)
    return output


def ffmpeg_children() -> list[psutil.Process]:
    # Our own processes only: in a full run the integration suite's ExApp is also our child, with ffmpegs of its own.
    return [
        p
        for p in psutil.Process().children()
        if p.status() != psutil.STATUS_ZOMBIE and "ex_app.lib.main" not in " ".join(p.cmdline())
    ]


@pytest.mark.parametrize("target_id", list(EXPECTED))
async def test_every_target_converts_a_two_second_sample(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target_id: str
) -> None:
    format_name, video, pix_fmt, size, audio = EXPECTED[target_id]
    target = get_target(target_id)
    out = await convert(target, samples["av"], tmp_path / "out", ffmpeg_bin)
    assert out.format_name == format_name
    assert [(v.codec, v.pix_fmt, (v.width, v.height)) for v in out.video] == ([(video, pix_fmt, size)] if video else [])
    assert [a.codec for a in out.audio] == ([audio] if audio else [])
    assert out.duration == pytest.approx(2.0, abs=0.2)


async def test_audio_only_file_is_refused_for_mp4_but_extracts_to_mp3(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedInput, match="no video track"):
        await convert(get_target("mp4"), samples["audio_only"], tmp_path / "out.mp4", ffmpeg_bin)
    out = await convert(get_target("mp3"), samples["audio_only"], tmp_path / "out.mp3", ffmpeg_bin)
    assert [a.codec for a in out.audio] == ["mp3"]
    assert out.duration == pytest.approx(2.0, abs=0.2)


async def test_video_without_audio_converts_to_mp4(samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    out = await convert(get_target("mp4"), samples["video_only"], tmp_path / "out.mp4", ffmpeg_bin)
    assert [v.codec for v in out.video] == ["h264"]
    assert out.audio == ()


async def test_odd_sized_444_video_becomes_even_420_mp4(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path
) -> None:
    out = await convert(get_target("mp4"), samples["odd_size"], tmp_path / "out.mp4", ffmpeg_bin)
    (video,) = out.video
    assert (video.width, video.height, video.pix_fmt) == (320, 240, "yuv420p")


async def test_max_height_scales_down_but_never_up(
    samples: dict[str, Path], awkward: dict[str, Path], ffmpeg_bin: str, tmp_path: Path
) -> None:
    mp4 = get_target("mp4")
    small = await convert(mp4, awkward["tall"], tmp_path / "a.mp4", ffmpeg_bin, JobOptions(max_height=480))
    assert (small.video[0].width, small.video[0].height) == (640, 480)
    same = await convert(mp4, samples["av"], tmp_path / "b.mp4", ffmpeg_bin, JobOptions(max_height=1080))
    assert (same.video[0].width, same.video[0].height) == (320, 240)


async def test_mkv_keeps_mp4_subtitles_as_subrip(samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    assert [s.codec for s in (await probe(samples["with_subs"])).subtitles] == ["mov_text"]
    out = await convert(get_target("mkv"), samples["with_subs"], tmp_path / "out.mkv", ffmpeg_bin)
    assert [s.codec for s in out.subtitles] == ["subrip"]


@pytest.mark.parametrize("sample", ["garbage", "truncated"])
async def test_corrupt_file_is_a_readable_media_error(samples: dict[str, Path], sample: str) -> None:
    with pytest.raises(MediaError) as caught:
        await probe(samples[sample])
    message = caught.value.user_message
    assert message.startswith("This ")
    assert "Traceback" not in message and str(samples[sample]) not in message
    assert caught.value.stderr_tail


async def test_ffmpeg_failure_carries_a_readable_message_and_the_stderr_tail(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path
) -> None:
    # The probe of a good file, then ffmpeg handed a damaged one: what happens when a source changes under us.
    info = await probe(samples["av"])
    cmd = build_command(get_target("mp4"), info, samples["truncated"], tmp_path / "out.mp4", ffmpeg=ffmpeg_bin)
    with pytest.raises(MediaError) as caught:
        await run_ffmpeg(cmd, duration=info.duration, on_progress=None)
    assert "incomplete" in caught.value.user_message
    assert "moov atom not found" in caught.value.stderr_tail


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (every write: ENOSPC)")
@pytest.mark.parametrize("target", ["mkv", "mp4"])
async def test_a_full_disk_is_scratch_full_not_a_broken_video(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, target: str
) -> None:
    # The output path leads to /dev/full, where every write fails with ENOSPC as on a full disk. ffmpeg 5.1 exits
    # 0 when only the Matroska trailer fails, so the runner must read stderr, not only the exit code.
    output = tmp_path / f"out.{target}"
    output.symlink_to("/dev/full")
    info = await probe(samples["av"])
    cmd = build_command(get_target(target), info, samples["av"], output, ffmpeg=ffmpeg_bin)
    with pytest.raises(ScratchFull) as caught:
        await run_ffmpeg(cmd, duration=info.duration, on_progress=None)
    assert caught.value.user_message == "The converter's disk is full"


async def test_missing_binaries_are_media_errors(samples: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="could not be started"):
        await probe(samples["av"], ffprobe=str(tmp_path / "no-ffprobe"))
    with pytest.raises(MediaError, match="could not be started"):
        await run_ffmpeg([str(tmp_path / "no-ffmpeg")], duration=None, on_progress=None)


async def test_progress_rises_and_ends_at_100(samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    info = await probe(samples["av"])
    cmd = build_command(get_target("webm"), info, samples["av"], tmp_path / "out.webm", ffmpeg=ffmpeg_bin)
    cmd[1:1] = ["-stats_period", "0.05"]  # report often, so that a 2 s sample yields several updates
    seen: list[float] = []

    async def on_progress(percent: float) -> None:
        seen.append(percent)

    await run_ffmpeg(cmd, duration=info.duration, on_progress=on_progress, min_interval=0)
    assert len(seen) >= 3
    assert seen == sorted(set(seen))
    assert seen[-1] == 100.0 and all(0 <= p < 100 for p in seen[:-1])


async def test_progress_is_throttled(samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path) -> None:
    info = await probe(samples["av"])
    cmd = build_command(get_target("webm"), info, samples["av"], tmp_path / "out.webm", ffmpeg=ffmpeg_bin)
    cmd[1:1] = ["-stats_period", "0.05"]
    seen: list[float] = []

    async def on_progress(percent: float) -> None:
        seen.append(percent)

    await run_ffmpeg(cmd, duration=info.duration, on_progress=on_progress, min_interval=60)
    assert len(seen) <= 2 and seen[-1] == 100.0


def _endless_encode(ffmpeg: str, dst: Path) -> list[str]:
    return [ffmpeg, *GLOBAL_ARGS, "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25", "-t", "600",
            "-c:v", "libx264", "-preset", "veryslow", "-f", "mp4", f"file:{dst}"]  # fmt: skip


async def test_cancellation_stops_ffmpeg(ffmpeg_bin: str, tmp_path: Path) -> None:
    pids: list[int] = []

    async def on_progress(percent: float) -> None:
        pids.extend(p.pid for p in ffmpeg_children())

    started = time.monotonic()
    with anyio.move_on_after(0.5) as scope:
        await run_ffmpeg(_endless_encode(ffmpeg_bin, tmp_path / "out.mp4"), duration=600, on_progress=on_progress,
                         min_interval=0)  # fmt: skip
    assert scope.cancelled_caught
    assert time.monotonic() - started < 5
    assert pids, "ffmpeg never reported progress"
    assert ffmpeg_children() == []
    assert not any(psutil.pid_exists(pid) for pid in pids)  # not even a zombie: it was reaped


async def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('out_time_us=1\\nprogress=continue', flush=True); time.sleep(60)"]  # fmt: skip
    started = time.monotonic()
    with anyio.move_on_after(0.5):
        await run_ffmpeg(stubborn, duration=10, on_progress=None, terminate_grace=0.3)
    assert time.monotonic() - started < 3
    assert ffmpeg_children() == []


async def test_a_failing_progress_callback_stops_ffmpeg_and_raises_as_itself(ffmpeg_bin: str, tmp_path: Path) -> None:
    async def on_progress(percent: float) -> None:
        raise RuntimeError("database is gone")

    with pytest.raises(RuntimeError, match="database is gone"):
        await run_ffmpeg(_endless_encode(ffmpeg_bin, tmp_path / "out.mp4"), duration=600, on_progress=on_progress)
    assert ffmpeg_children() == []


@pytest.mark.parametrize(
    "name", ["with spaces.mp4", 'quote\'s "double".mp4', "ünïcødé 日本語 🎬.mp4", "-leading-dash.mp4", "colon:x.mp4"]
)
async def test_awkward_file_names_work(
    samples: dict[str, Path], ffmpeg_bin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.chdir(tmp_path)  # relative names, so a leading dash really leads the argument
    shutil.copyfile(samples["av"], tmp_path / name)
    out = await convert(get_target("mp4"), Path(name), Path("-out " + name), ffmpeg_bin)
    assert out.duration == pytest.approx(2.0, abs=0.2)
    assert (tmp_path / ("-out " + name)).exists()

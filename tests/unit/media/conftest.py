"""Real, small media made with ffmpeg's lavfi generators (no binary blobs in the repository).

Samples are made once per session and treated as read-only; each test writes its outputs into its own
``tmp_path``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SECONDS = 2


def _ffmpeg(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def _video_input(size: str = "320x240", seconds: int = SECONDS, rate: int = 25) -> list[str]:
    # testsrc2 silently rounds odd sizes to even ones; testsrc (RGB) makes exactly the size asked for.
    source = "testsrc" if any(int(n) % 2 for n in size.split("x")) else "testsrc2"
    return ["-f", "lavfi", "-i", f"{source}=size={size}:rate={rate}:duration={seconds}"]


def _audio_input(seconds: int = SECONDS, frequency: int = 440) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency={frequency}:duration={seconds}:sample_rate=48000"]


_FAST_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="session")
def samples(ffmpeg_bin: str, ffprobe_bin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name → path of each sample: ``av`` (H.264 + AAC), ``video_only``, ``audio_only`` (AAC in M4A),
    ``odd_size`` (321x241), ``with_subs`` (MP4 with a mov_text track), ``garbage``, ``truncated``."""
    root = tmp_path_factory.mktemp("samples")
    out = {name: root / f"{name}.{ext}" for name, ext in [
        ("av", "mp4"), ("video_only", "mp4"), ("audio_only", "m4a"), ("odd_size", "mkv"),
        ("with_subs", "mp4"), ("garbage", "mp4"), ("truncated", "mp4"),
    ]}  # fmt: skip
    _ffmpeg(ffmpeg_bin, *_video_input(), *_audio_input(), *_FAST_H264, "-c:a", "aac", "-shortest", str(out["av"]))
    _ffmpeg(ffmpeg_bin, *_video_input(), *_FAST_H264, str(out["video_only"]))
    _ffmpeg(ffmpeg_bin, *_audio_input(), "-c:a", "aac", str(out["audio_only"]))
    _ffmpeg(ffmpeg_bin, *_video_input("321x241"), *_audio_input(), *_FAST_H264, "-pix_fmt", "yuv444p",
            "-c:a", "libopus", "-shortest", str(out["odd_size"]))  # fmt: skip
    srt = root / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nHello\n", encoding="utf-8")
    _ffmpeg(ffmpeg_bin, "-i", str(out["av"]), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy",
            "-c:s", "mov_text", str(out["with_subs"]))  # fmt: skip
    out["garbage"].write_bytes(bytes(range(256)) * 64)
    # ffmpeg writes the MP4 index at the end by default: cutting the file loses it ("moov atom not found").
    out["truncated"].write_bytes(out["av"].read_bytes()[:20_000])
    return out


@pytest.fixture(scope="session")
def awkward(ffmpeg_bin: str, ffprobe_bin: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Sources a naive ``ffmpeg -i in out`` gets wrong, each 2 s unless said otherwise:

    ``rotated`` (MP4 whose display matrix turns 320x240 to portrait), ``hevc10`` (x265 Main 10 in MP4),
    ``ffv1_444`` (FFV1 4:4:4 10-bit, 321x241, in MKV), ``vfr`` (10 fps for 1 s, then 30 fps, in MKV),
    ``rich`` (MKV: two audio tracks, the second default; SubRip and ASS subtitles; title, creation time and
    two chapters), ``tall`` (960x720, 1 s, no audio), ``no_streams`` (a MOV holding only a timecode track:
    probes, holds no picture or sound), ``metadata_only`` (an ffmetadata text file named .mp4: FFmpeg reads it,
    the converter must not).
    """
    root = tmp_path_factory.mktemp("awkward")
    out = {name: root / f"{name}.{ext}" for name, ext in [
        ("rotated", "mp4"), ("hevc10", "mp4"), ("ffv1_444", "mkv"), ("vfr", "mkv"), ("rich", "mkv"),
        ("tall", "mp4"), ("no_streams", "mov"), ("metadata_only", "mp4"),
    ]}  # fmt: skip
    plain = root / "plain.mp4"
    _ffmpeg(ffmpeg_bin, *_video_input(), *_audio_input(), *_FAST_H264, "-c:a", "aac", "-shortest", str(plain))
    # ffmpeg 5.1 has no -display_rotation; the mov muxer still turns a "rotate" tag into a display matrix.
    _ffmpeg(ffmpeg_bin, "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out["rotated"]))
    _ffmpeg(ffmpeg_bin, *_video_input(), *_audio_input(), "-c:v", "libx265", "-preset", "ultrafast",
            "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", "-c:a", "aac", "-shortest",
            str(out["hevc10"]))  # fmt: skip
    _ffmpeg(ffmpeg_bin, *_video_input("321x241"), *_audio_input(), "-c:v", "ffv1", "-pix_fmt", "yuv444p10le",
            "-c:a", "flac", "-shortest", str(out["ffv1_444"]))  # fmt: skip
    _ffmpeg(ffmpeg_bin, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2,select='gt(t,1)+not(mod(n,3))'",
            *_audio_input(), "-fps_mode:v", "vfr", *_FAST_H264, "-c:a", "aac", str(out["vfr"]))  # fmt: skip
    srt, meta = root / "subs.srt", root / "meta.txt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,500\nHello\n", encoding="utf-8")
    meta.write_text(";FFMETADATA1\n" + "".join(
        f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={start}\nEND={start + 1000}\ntitle={title}\n"
        for start, title in [(0, "Start"), (1000, "End")]), encoding="utf-8")  # fmt: skip
    _ffmpeg(ffmpeg_bin, *_video_input(), *_audio_input(), *_audio_input(frequency=880), "-i", str(srt),
            "-i", str(meta), "-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "3",
            "-map_chapters", "4", *_FAST_H264, "-c:a", "aac", "-c:s:0", "srt", "-c:s:1", "ass",
            "-disposition:a:0", "0", "-disposition:a:1", "default", "-metadata:s:a:1", "language=fra",
            "-metadata", "title=Holiday «été»", "-metadata", "creation_time=2021-06-01T12:34:56Z",
            str(out["rich"]))  # fmt: skip
    _ffmpeg(ffmpeg_bin, *_video_input("960x720", seconds=1), *_FAST_H264, str(out["tall"]))
    timecode = root / "timecode.mov"
    _ffmpeg(ffmpeg_bin, "-f", "lavfi", "-i", "color=size=32x32:duration=0.2", "-timecode", "00:00:00:00",
            "-c:v", "libx264", str(timecode))  # fmt: skip
    _ffmpeg(ffmpeg_bin, "-i", str(timecode), "-map", "0:d", "-c", "copy", "-f", "mov", str(out["no_streams"]))
    out["metadata_only"].write_text(";FFMETADATA1\ntitle=Nothing here\n", encoding="utf-8")
    return out

"""Real, small media made with ffmpeg's lavfi generators (no binary blobs in the repository).

Samples are made once per session and treated as read-only; each test writes its outputs into its own
``tmp_path``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require

SECONDS = 2


def _ffmpeg(ffmpeg: str, *args: str) -> None:
    subprocess.run([ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def _video_input(size: str = "320x240", seconds: int = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]


def _audio_input(seconds: int = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000"]


_FAST_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="session")
def ffprobe_bin() -> str:
    path = shutil.which("ffprobe")
    require(path is not None, "ffprobe is not installed (make test installs it with apt)")
    assert path is not None
    return path


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

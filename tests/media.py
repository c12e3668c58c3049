"""Small real media made with ffmpeg's lavfi generators, for the integration tests, the demo and the benchmark.

No binary blobs live in the repository: every sample is generated on demand.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def make_video(
    path: Path,
    *,
    seconds: float = 2,
    size: str = "320x240",
    rate: int = 25,
    audio: bool = True,
    codec: str = "libx264",
    extra: tuple[str, ...] = ("-preset", "ultrafast"),
) -> Path:
    """A test-pattern video (H.264 + AAC by default) of ``seconds`` at ``size``."""
    args = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000"]
    args += ["-c:v", codec, *extra, "-pix_fmt", "yuv420p"]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    run_ffmpeg(*args, str(path))
    return path


def run_ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=600)


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's JSON (format + streams) for a local file."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def summary(info: dict[str, Any]) -> dict[str, Any]:
    """The few facts a person checks: container, duration, and each stream's codec (and size for video)."""
    streams = []
    for s in info.get("streams", []):
        entry = {"type": s.get("codec_type"), "codec": s.get("codec_name")}
        if s.get("codec_type") == "video":
            entry.update(width=s.get("width"), height=s.get("height"), pix_fmt=s.get("pix_fmt"))
        streams.append(entry)
    fmt = info.get("format", {})
    return {
        "format": fmt.get("format_name"),
        "duration": round(float(fmt.get("duration", 0) or 0), 2),
        "size": int(fmt.get("size", 0) or 0),
        "streams": streams,
    }

"""What is inside a media file, as ffprobe sees it.

:func:`parse_ffprobe` is pure (ffprobe's JSON in, :class:`MediaInfo` out) so that odd files can be tested
from recorded JSON; :func:`probe` runs ffprobe and maps its failures to :class:`MediaError`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL, PIPE
from typing import Any

import anyio

from ..errors import MediaError
from ..i18n import _
from ._process import ProcessLimits, collect_output, input_options, input_url, stop_process
from ._stderr import EMPTY_FILE, EXTERNAL_REFERENCE, explain_failure

PROBE_TIME_LIMIT = 120.0
"""Seconds; ffprobe reads only headers and a few packets, so only a pathological file takes this long."""


@dataclass(frozen=True)
class VideoStream:
    index: int
    """Stream index in the file (what ``-map 0:<index>`` selects)."""
    codec: str
    width: int | None = None
    height: int | None = None
    pix_fmt: str | None = None
    rotation: int = 0
    """Degrees the picture is turned clockwise for display: 0, 90, 180 or 270."""
    fps: float | None = None
    """Average frame rate."""
    default: bool = False
    duration: float | None = None
    """Seconds, when the container states it per stream."""
    frame_rate: float | None = None
    """``r_frame_rate``: the rate all timestamps fit, which ffmpeg usually gives a constant-rate output."""
    frames: int | None = None
    """Frame count, when the container states it."""

    @property
    def display_size(self) -> tuple[int, int] | None:
        """(width, height) as shown, after rotation."""
        if self.width is None or self.height is None:
            return None
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    channels: int | None = None
    language: str | None = None
    default: bool = False
    duration: float | None = None


@dataclass(frozen=True)
class SubtitleStream:
    index: int
    codec: str
    language: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    """The parts of ffprobe's answer the converter decides on."""

    duration: float | None
    """Seconds; None when neither the container nor any stream knows."""
    format_name: str
    """ffprobe's ``format_name``, e.g. ``mov,mp4,m4a,3gp,3g2,mj2`` or ``matroska,webm``."""
    video: tuple[VideoStream, ...] = ()
    """Real video streams; cover art (attached pictures) is not listed."""
    audio: tuple[AudioStream, ...] = ()
    subtitles: tuple[SubtitleStream, ...] = ()
    stream_count: int = 0
    """Every stream in the file, including cover art, data and attachments."""
    chapters: int = 0
    """How many chapters the file has."""

    @property
    def main_video(self) -> VideoStream | None:
        """The stream a video target encodes: the default-flagged one, else the first."""
        return next((v for v in self.video if v.default), self.video[0] if self.video else None)

    @property
    def main_audio(self) -> AudioStream | None:
        """The stream an audio target extracts: the default-flagged one, else the first."""
        return next((a for a in self.audio if a.default), self.audio[0] if self.audio else None)


def parse_ffprobe(data: dict[str, Any]) -> MediaInfo:
    """Turn ``ffprobe -print_format json -show_format -show_streams -show_chapters`` output into :class:`MediaInfo`.

    Tolerates missing keys and ``N/A`` values: anything unknown becomes None.
    """
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video: list[VideoStream] = []
    audio: list[AudioStream] = []
    subtitles: list[SubtitleStream] = []
    for position, s in enumerate(streams):
        index = _int(s.get("index"))
        index = position if index is None else index
        codec = str(s.get("codec_name") or "unknown")
        disposition = s.get("disposition") or {}
        tags = s.get("tags") or {}
        default = bool(disposition.get("default"))
        kind = s.get("codec_type")
        if kind == "video":
            if disposition.get("attached_pic"):
                continue  # cover art, not a picture sequence
            video.append(
                VideoStream(
                    index=index,
                    codec=codec,
                    width=_int(s.get("width")),
                    height=_int(s.get("height")),
                    pix_fmt=s.get("pix_fmt") or None,
                    rotation=_rotation(s),
                    fps=_rate(s.get("avg_frame_rate")),
                    default=default,
                    duration=_stream_duration(s),
                    frame_rate=_rate(s.get("r_frame_rate")),
                    frames=_int(s.get("nb_frames")),
                )
            )
        elif kind == "audio":
            audio.append(
                AudioStream(
                    index=index,
                    codec=codec,
                    channels=_int(s.get("channels")),
                    language=_language(tags),
                    default=default,
                    duration=_stream_duration(s),
                )
            )
        elif kind == "subtitle":
            subtitles.append(SubtitleStream(index=index, codec=codec, language=_language(tags)))

    duration = _positive_float(fmt.get("duration"))
    if duration is None:
        durations = [d for d in (_positive_float(s.get("duration")) for s in streams) if d is not None]
        duration = max(durations, default=None)
    return MediaInfo(
        duration=duration,
        format_name=str(fmt.get("format_name") or "unknown"),
        video=tuple(video),
        audio=tuple(audio),
        subtitles=tuple(subtitles),
        stream_count=len(streams),
        chapters=len(data.get("chapters") or []),
    )


_LEVEL = re.compile(r"\[(warning|error|fatal|panic)\] ")
HEAD_BYTES = 4096
"""How much of a refused file is read to tell a damaged video from something that is no video at all."""


async def probe(
    path: str | os.PathLike[str], *, ffprobe: str = "ffprobe", limits: ProcessLimits | None = None
) -> MediaInfo:
    """Run ffprobe on ``path``, reading that file only (see :func:`.input_options`).

    Raises :class:`MediaError` with a sentence a person understands when the file cannot be read, is empty,
    is of a kind the converter does not accept, refers to media in other files, or when ffprobe takes longer
    than :data:`PROBE_TIME_LIMIT`. ffprobe never outlives this call, even when it is cancelled. It runs with
    ``limits`` (lower priority, a memory ceiling; :class:`ProcessLimits` defaults when None), as ffmpeg does.
    """
    file = anyio.Path(path)
    with contextlib.suppress(OSError):  # a missing file is ffprobe's to explain
        if (await file.stat()).st_size == 0:
            raise MediaError(EMPTY_FILE)
    cmd = [
        ffprobe,
        "-hide_banner",
        # Warnings too, each line tagged with its level: errors explain a failure, one warning (MOV external
        # references) is a refusal of its own.
        "-loglevel",
        "level+warning",
        *input_options(),
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-show_chapters",
        input_url(Path(path)),
    ]
    limits = limits or ProcessLimits()
    try:
        process = await anyio.open_process(
            limits.wrap(cmd), stdin=DEVNULL, stdout=PIPE, stderr=PIPE, env=limits.environment()
        )
    except OSError as exc:
        raise MediaError(
            _("The media analyser could not be started ({reason})."), reason=exc.strerror or str(exc)
        ) from exc
    try:
        with anyio.move_on_after(PROBE_TIME_LIMIT) as scope:
            stdout, stderr = await collect_output(process)
            returncode = await process.wait()
    finally:
        await stop_process(process)
    if scope.cancelled_caught:
        raise MediaError(_("Reading this file's details took too long; the file may be damaged."))
    stderr_text = stderr.decode("utf-8", "replace")
    errors: list[str] = []
    for line in stderr_text.splitlines():
        level = _LEVEL.search(line)
        if level is None or level.group(1) != "warning":
            errors.append(_LEVEL.sub("", line, count=1))
        elif "Skipped opening external track" in line:
            # MOV data references stay closed (-enable_drefs 0), so this track has no data: refuse it here
            # with the reason rather than fail later with a puzzling "no picture".
            raise MediaError(EXTERNAL_REFERENCE, stderr_text[-8192:])
    if returncode != 0:
        head = None
        with contextlib.suppress(OSError):
            async with await file.open("rb") as fp:
                head = await fp.read(HEAD_BYTES)
        raise MediaError(explain_failure(errors, paths=[str(path)], head=head), "\n".join(errors)[-8192:])
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise MediaError(_("The media analyser gave an answer that could not be read."), stderr_text[-8192:]) from exc
    return parse_ffprobe(data)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _positive_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _stream_duration(stream: dict[str, Any]) -> float | None:
    """The stream's ``duration``, else Matroska's ``DURATION`` tag (``00:00:02.021000000``)."""
    duration = _positive_float(stream.get("duration"))
    if duration is not None:
        return duration
    tags = stream.get("tags") or {}
    clock = tags.get("DURATION") or tags.get("duration")
    if not isinstance(clock, str) or clock.count(":") != 2:
        return None
    hours, minutes, seconds = clock.split(":")
    try:
        return _positive_float(int(hours) * 3600 + int(minutes) * 60 + float(seconds))
    except ValueError:
        return None


def _rate(value: Any) -> float | None:
    """``"30000/1001"`` → 29.97; ``"0/0"`` and garbage → None."""
    if not isinstance(value, str) or "/" not in value:
        return _positive_float(value)
    num, _, den = value.partition("/")
    try:
        n, d = float(num), float(den)
    except ValueError:
        return None
    return n / d if d > 0 and n > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    """Clockwise display rotation, from the display matrix (ffmpeg ≥ 5) or the legacy ``rotate`` tag."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            # The display matrix states the counter-clockwise angle: -90 means "turn 90° clockwise to show".
            degrees = _float(side.get("rotation"))
            if degrees is not None:
                return _quarter(-degrees)
    degrees = _float((stream.get("tags") or {}).get("rotate"))
    return _quarter(degrees) if degrees is not None else 0


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _quarter(degrees: float) -> int:
    return (round(degrees / 90) * 90) % 360


def _language(tags: dict[str, Any]) -> str | None:
    language = tags.get("language")
    return language if isinstance(language, str) and language not in ("", "und") else None

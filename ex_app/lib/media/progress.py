"""Parsing ffmpeg's ``-progress`` output: pure, fed one line at a time, no process in sight.

ffmpeg writes blocks of ``key=value`` lines, each block closed by ``progress=continue`` (or ``progress=end``
for the last one)::

    frame=50
    out_time_us=2000000
    out_time_ms=2000000
    out_time=00:00:02.000000
    speed=1.95x
    progress=continue

``out_time_ms`` is, despite its name, in microseconds too (a long-standing ffmpeg quirk, still so in 5.x).
Values are ``N/A`` until ffmpeg knows them, and the time can be slightly negative at the start (audio
priming).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One progress block."""

    out_time_seconds: float | None
    """How much of the output is written, in seconds of media; None until ffmpeg reports it."""
    percent: float | None
    """0–100 of the source duration; None while the duration or the time is unknown. 100 when ``done``."""
    speed: float | None
    """Encoding speed as a multiple of real time (``2.0`` = twice as fast as playback)."""
    done: bool
    """ffmpeg wrote ``progress=end``: it has finished encoding (it may still fail while finalizing)."""
    total_size: int | None = None
    """Bytes of output written so far (``total_size``); None until ffmpeg reports it."""


class ProgressParser:
    """Feed it ffmpeg's progress lines; every ``progress=`` line yields a :class:`Progress`."""

    def __init__(self, duration: float | None) -> None:
        self._duration = duration if duration is not None and math.isfinite(duration) and duration > 0 else None
        self._values: dict[str, str] = {}

    def feed(self, line: str) -> Progress | None:
        """Take one line; return a :class:`Progress` when it closes a block, else None. Garbage is ignored."""
        key, sep, value = line.strip().partition("=")
        if not sep or not key:
            return None
        key, value = key.strip(), value.strip()
        if key != "progress":
            self._values[key] = value
            return None
        values, self._values = self._values, {}
        return self._update(values, done=value == "end")

    def feed_lines(self, lines: list[str] | str) -> list[Progress]:
        """Feed many lines (or one text block); return the updates they produced, in order."""
        if isinstance(lines, str):
            lines = lines.splitlines()
        updates = (self.feed(line) for line in lines)
        return [u for u in updates if u is not None]

    def _update(self, values: dict[str, str], *, done: bool) -> Progress:
        seconds = _out_time(values)
        percent: float | None = None
        if done:
            percent = 100.0
        elif seconds is not None and self._duration is not None:
            percent = min(100.0, max(0.0, seconds / self._duration * 100.0))
        size = _number(values.get("total_size"))
        return Progress(
            out_time_seconds=seconds,
            percent=percent,
            speed=_speed(values.get("speed")),
            done=done,
            total_size=int(size) if size is not None and size >= 0 else None,
        )


def _out_time(values: dict[str, str]) -> float | None:
    for key in ("out_time_us", "out_time_ms"):
        micros = _number(values.get(key))
        if micros is not None:
            return max(0.0, micros / 1_000_000)
    return _clock(values.get("out_time"))


def _clock(value: str | None) -> float | None:
    """``HH:MM:SS.micro`` (possibly negative) → seconds; ``N/A`` → None."""
    if not value:
        return None
    negative = value.startswith("-")
    parts = value.lstrip("-").split(":")
    if len(parts) != 3:
        return None
    try:
        hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
    except ValueError:
        return None
    total = hours * 3600 + minutes * 60 + seconds
    return 0.0 if negative else total


def _speed(value: str | None) -> float | None:
    if not value:
        return None
    number = _number(value.removesuffix("x").strip())
    return number if number is not None and number >= 0 else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None

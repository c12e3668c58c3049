"""Running ffmpeg: process control only. Parsing lives in :mod:`.progress` and :mod:`._stderr`.

The boundary to ffmpeg: whatever goes wrong leaves here as :class:`MediaError` with a readable message and
the stderr tail; a cancelled caller gets its cancellation back after ffmpeg is gone.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from subprocess import DEVNULL, PIPE

import anyio

from ..errors import DISK_FULL, MediaError, ScratchFull
from ._process import TERMINATE_GRACE, stop_process
from ._stderr import LineBuffer, StderrTail, explain_failure
from .progress import ProgressParser

OnProgress = Callable[[float], Awaitable[None]]

#: strerror(ENOSPC) and strerror(EDQUOT) as ffmpeg prints them ("av_interleaved_write_frame(): No space left on
#: device", "Error writing trailer of …: No space left on device").
DISK_FULL_MARKERS = ("No space left on device", "Disk quota exceeded")


class _Throttle:
    """Pass on at most one rising percentage per ``min_interval`` seconds; 100 only once the run succeeded."""

    def __init__(self, on_progress: OnProgress | None, min_interval: float) -> None:
        self._on_progress = on_progress
        self._min_interval = min_interval
        self._last_time = -math.inf
        self._last_percent = -1.0

    async def update(self, percent: float) -> None:
        # ffmpeg reaches the full duration before it has written the file's index; 100 must mean "done".
        percent = min(percent, 99.9)
        now = anyio.current_time()
        if self._on_progress is None or percent <= self._last_percent or now - self._last_time < self._min_interval:
            return
        self._last_time, self._last_percent = now, percent
        await self._on_progress(percent)

    async def finish(self) -> None:
        if self._on_progress is not None:
            await self._on_progress(100.0)


async def run_ffmpeg(
    cmd: list[str],
    *,
    duration: float | None,
    on_progress: OnProgress | None = None,
    min_interval: float = 1.0,
    terminate_grace: float = TERMINATE_GRACE,
) -> None:
    """Run ``cmd`` (built by :func:`.build_command`, with ``-progress pipe:1``) to completion.

    ``on_progress(percent)`` is awaited with rising values at most about once per ``min_interval`` seconds
    while ffmpeg works (only when ``duration`` is known), and once with 100 after it succeeded.
    Raises :class:`MediaError` when ffmpeg cannot start or exits non-zero. When the caller is cancelled,
    ffmpeg gets SIGTERM, then SIGKILL after ``terminate_grace`` seconds, is reaped, and the cancellation
    propagates.
    """
    parser = ProgressParser(duration)
    tail = StderrTail()
    throttle = _Throttle(on_progress, min_interval)
    try:
        process = await anyio.open_process(cmd, stdin=DEVNULL, stdout=PIPE, stderr=PIPE)
    except OSError as exc:
        raise MediaError(f"FFmpeg could not be started ({exc.strerror or exc}).") from exc

    async def drain_stderr() -> None:
        assert process.stderr is not None
        async for chunk in process.stderr:
            tail.feed(chunk)

    callback_error: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(drain_stderr)
            assert process.stdout is not None
            splitter = LineBuffer()
            try:
                async for chunk in process.stdout:
                    for line in splitter.feed(chunk):
                        update = parser.feed(line)
                        if update is not None and update.percent is not None and not update.done:
                            await throttle.update(update.percent)
            except Exception as exc:
                # Raised by on_progress: re-raised below as itself, not wrapped in an ExceptionGroup.
                callback_error = exc
                tg.cancel_scope.cancel()
        returncode = await process.wait() if callback_error is None else None
    finally:
        await stop_process(process, terminate_grace)
    if callback_error is not None:
        raise callback_error
    tail.close()
    if any(marker in line for line in tail.lines for marker in DISK_FULL_MARKERS):
        # The output did not fit on our disk: nothing is wrong with the video, so not a MediaError (permanent)
        # but ScratchFull, retried once there is space. Checked whatever the exit code: ffmpeg 5.1 exits 0 when
        # only its trailer could not be written ("Error writing trailer of …: No space left on device").
        raise ScratchFull(DISK_FULL)
    if returncode != 0:
        raise MediaError(
            explain_failure(tail.lines, paths=_paths(cmd), returncode=returncode),
            tail.text,
        )
    await throttle.finish()


def _paths(cmd: list[str]) -> list[str]:
    return [arg.removeprefix("file:") for arg in cmd if arg.startswith("file:")]

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
from ..i18n import _
from ._process import TERMINATE_GRACE, ProcessLimits, stop_process
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
    limits: ProcessLimits | None = None,
    time_limit: float | None = None,
    max_output_bytes: int | None = None,
) -> None:
    """Run ``cmd`` (built by :func:`.build_command`, with ``-progress pipe:1``) to completion.

    ``on_progress(percent)`` is awaited with rising values at most about once per ``min_interval`` seconds
    while ffmpeg works (only when ``duration`` is known), and once with 100 after it succeeded.
    ffmpeg runs under ``limits`` (lower priority, memory ceiling; :class:`ProcessLimits` defaults when None).
    Raises :class:`MediaError` when ffmpeg cannot start or exits non-zero, and stops it (raising too) when it
    runs longer than ``time_limit`` seconds or its output grows past ``max_output_bytes`` (as ffmpeg reports
    it about twice a second). When the caller is cancelled, ffmpeg gets SIGTERM, then SIGKILL after
    ``terminate_grace`` seconds, is reaped, and the cancellation propagates.
    """
    parser = ProgressParser(duration)
    tail = StderrTail()
    throttle = _Throttle(on_progress, min_interval)
    limits = limits or ProcessLimits()
    try:
        process = await anyio.open_process(
            limits.wrap(cmd), stdin=DEVNULL, stdout=PIPE, stderr=PIPE, env=limits.environment()
        )
    except OSError as exc:
        raise MediaError(_("FFmpeg could not be started ({reason})."), reason=exc.strerror or str(exc)) from exc

    async def drain_stderr() -> None:
        assert process.stderr is not None
        async for chunk in process.stderr:
            tail.feed(chunk)

    callback_error: Exception | None = None
    too_big = False
    returncode: int | None = None
    try:
        with anyio.move_on_after(math.inf if time_limit is None else time_limit) as deadline:
            async with anyio.create_task_group() as tg:
                tg.start_soon(drain_stderr)
                assert process.stdout is not None
                splitter = LineBuffer()
                try:
                    async for chunk in process.stdout:
                        for line in splitter.feed(chunk):
                            update = parser.feed(line)
                            if update is None:
                                continue
                            if max_output_bytes is not None and (update.total_size or 0) > max_output_bytes:
                                too_big = True
                                tg.cancel_scope.cancel()
                                break
                            if update.percent is not None and not update.done:
                                await throttle.update(update.percent)
                except Exception as exc:
                    # Raised by on_progress: re-raised below as itself, not wrapped in an ExceptionGroup.
                    callback_error = exc
                    tg.cancel_scope.cancel()
            if callback_error is None and not too_big:
                returncode = await process.wait()
    finally:
        await stop_process(process, terminate_grace)
    if callback_error is not None:
        raise callback_error
    if deadline.cancelled_caught:
        raise MediaError(
            _("The conversion took longer than the {minutes} minutes allowed for this video, so it was stopped."),
            tail.text,
            minutes=math.ceil((time_limit or 0) / 60),
        )
    if too_big:
        raise MediaError(
            _("The converted file grew past {limit} MB, far larger than the original, so the conversion was stopped."),
            tail.text,
            limit=math.ceil((max_output_bytes or 0) / 1024**2),
        )
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

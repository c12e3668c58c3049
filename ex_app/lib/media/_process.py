"""Process plumbing shared by the probe and the runner: naming files safely, reading pipes, stopping children."""

from __future__ import annotations

import contextlib
import os

import anyio
from anyio.abc import Process

TERMINATE_GRACE = 2.0
"""Seconds ffmpeg gets to stop after SIGTERM before SIGKILL. On SIGTERM it flushes its encoders and writes
the file's trailer, which we do not need (the output is discarded) and which can take seconds for a big
x264 lookahead; so the grace is short."""

MAX_PROBE_OUTPUT = 32 * 1024 * 1024
"""ffprobe's JSON for a sane file is a few kilobytes; a file claiming thousands of streams is refused."""


def input_url(path: os.PathLike[str] | str) -> str:
    """A file name ffmpeg cannot mistake for an option or a protocol: ``-x.mp4`` and ``http:x`` stay files."""
    return "file:" + os.fspath(path)


async def stop_process(process: Process, grace: float = TERMINATE_GRACE) -> None:
    """Make sure ``process`` has exited and been reaped, whatever happened to the caller.

    SIGTERM, up to ``grace`` seconds, then SIGKILL. Runs shielded so that a cancelled caller still cleans
    up — a cancelled job must never leave a running ffmpeg or a zombie behind.
    """
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # exited between the check and the signal
                process.terminate()
            with anyio.move_on_after(grace):
                await process.wait()
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await process.aclose()


async def collect_output(process: Process, *, limit: int = MAX_PROBE_OUTPUT) -> tuple[bytes, bytes]:
    """Read stdout and the last 8 KB of stderr until both close.

    Stops reading stdout after ``limit`` bytes, so the caller sees truncated (unparsable) output, not a
    memory blow-up.
    """
    stdout = bytearray()
    stderr = bytearray()

    async def drain_stderr() -> None:
        assert process.stderr is not None
        async for chunk in process.stderr:
            stderr.extend(chunk)
            del stderr[:-8192]

    async with anyio.create_task_group() as tg:
        tg.start_soon(drain_stderr)
        assert process.stdout is not None
        async for chunk in process.stdout:
            stdout.extend(chunk)
            if len(stdout) > limit:
                tg.cancel_scope.cancel()
                break
    return bytes(stdout), bytes(stderr)

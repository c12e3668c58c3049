"""Process plumbing shared by the probe and the runner: naming files safely, reading pipes, stopping children."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass

import anyio
from anyio.abc import Process

TERMINATE_GRACE = 2.0
"""Seconds ffmpeg gets to stop after SIGTERM before SIGKILL. On SIGTERM it flushes its encoders and writes
the file's trailer, which we do not need (the output is discarded) and which can take seconds for a big
x264 lookahead; so the grace is short."""

MAX_PROBE_OUTPUT = 32 * 1024 * 1024
"""ffprobe's JSON for a sane file is a few kilobytes; a file claiming thousands of streams is refused."""


INPUT_FORMATS: tuple[str, ...] = (
    "mov",  # the mov,mp4,m4a,3gp,3g2,mj2 demuxer: phones, cameras, most downloads
    "matroska",  # matroska,webm
    "avi",
    "asf",  # WMV, WMA
    "mpeg",  # MPEG program streams: .mpg, DVD .vob, camcorder .mod
    "mpegts",  # transport streams: .ts, AVCHD .mts/.m2ts
    "flv",
    "ogg",  # Ogg Theora/Vorbis/Opus
    "dv",  # camcorder DV
    "mxf",  # professional cameras
    "gif",  # animated GIFs, and our own GIF outputs when they are checked
    "wav",
    "aiff",
    "mp3",
    "flac",
    "aac",  # raw ADTS AAC
)
"""The only demuxers ffprobe and ffmpeg may use on a file (``-format_whitelist``), whatever its name or content.

FFmpeg picks a demuxer by sniffing content, so a text file called ``holiday.mp4`` is read by whichever demuxer
recognises it. Several of them open *other* files or URLs named inside the file: ``hls`` and ``dash`` (playlists
whose segments may be any local path, e.g. another user's source in the scratch folder), ``concat``/``ffconcat``,
``image2`` (a name like ``img%03d.png`` is a pattern for a sequence of files), ``sdp``/``rtp``/``rtsp``,
``imf``, ``vobsub`` (opens the ``.sub`` beside an ``.idx``)... A list of the containers people really upload
is the only closed door: a new FFmpeg with a new demuxer of that kind gets no access either. None of these
open anything but the file they are given (the MOV family's external data references are switched off
separately, see :func:`input_options`). Names are matched against each part of a demuxer's name, so ``mov``
admits ``mov,mp4,m4a,3gp,3g2,mj2``."""


def input_options(format_name: str | None = None) -> list[str]:
    """Options that go before ``-i`` so that ffmpeg or ffprobe reads the given file and nothing else.

    ``-protocol_whitelist file`` refuses ``http:``, ``concat:``, ``subfile:`` and every other protocol a
    demuxer might try to open; :data:`INPUT_FORMATS` refuses the demuxers that read other files.
    ``format_name`` is what the probe saw: MOV's external data references (``alis`` entries pointing to
    media in another file, which the demuxer would open relative to this one, e.g. ``../job-4/source.mov``)
    are off by default in FFmpeg; we say so explicitly so a changed default cannot turn them on. ffmpeg
    refuses a demuxer option the chosen demuxer does not have ("Option enable_drefs not found"), so the
    MOV options are only added when the file is known to be MOV, or when ``format_name`` is None (ffprobe,
    which ignores options nobody used).
    """
    options = ["-protocol_whitelist", "file", "-format_whitelist", ",".join(INPUT_FORMATS)]
    if format_name is None or format_name.split(",")[0] == "mov":
        options += ["-enable_drefs", "0", "-use_absolute_path", "0"]
    return options


@dataclass(frozen=True)
class ProcessLimits:
    """What an ffmpeg or ffprobe child may use: a lower CPU priority and a ceiling on memory.

    Applied by prefixing the command with ``nice -n <nice> prlimit --as=<bytes> --``. Both exec the next
    program in the same process, so the child we hold (and signal, and reap) is ffmpeg itself, and the limits
    are in place before ffmpeg reads a byte of the file. (anyio's ``open_process`` takes no ``preexec_fn``;
    setting limits on the pid after it started would leave ffmpeg a moment without them.)
    """

    nice: int = 10
    """Added to the ExApp's own niceness: the web server and the database stay responsive while encoding."""
    memory_bytes: int | None = 4 * 1024**3
    """RLIMIT_AS (address space); None = no limit. An allocation beyond it fails and ffmpeg stops with
    "Cannot allocate memory" instead of the kernel's OOM killer picking a victim, maybe the web server."""

    def wrap(self, cmd: list[str]) -> list[str]:
        """``cmd`` run under these limits. Raises ``FileNotFoundError`` when ``cmd[0]`` does not exist (which
        ``nice`` would otherwise report only on stderr, as a failed run)."""
        program = shutil.which(cmd[0])
        if program is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cmd[0])
        prefix: list[str] = []
        if self.nice:
            prefix += ["nice", "-n", str(self.nice)]
        if self.memory_bytes:
            prefix += ["prlimit", f"--as={self.memory_bytes}", "--"]
        return [*prefix, program, *cmd[1:]]

    def environment(self) -> dict[str, str] | None:
        """The child's environment: ours, with glibc's malloc arenas capped when memory is limited.

        glibc reserves 64 MiB of address space for each malloc arena and makes up to eight per core for a
        threaded program; on a big server that reservation alone (not memory in use) would hit the limit.
        """
        if not self.memory_bytes:
            return None
        return {**os.environ, "MALLOC_ARENA_MAX": "4"}


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

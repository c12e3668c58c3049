"""Room on the converter's disk: is there enough free scratch space to start a job now, later, or never?

The decision is pure (:func:`decide`), so it is tested with plain numbers; the worker feeds it
``shutil.disk_usage`` of the scratch folder and what its other running jobs still expect to write.

What a job needs is its source, its expected output and a fixed reserve. The output cannot be known before
ffmpeg runs, so it is estimated from the source's size and the target (:func:`expected_output_bytes`): a wrong
guess only means that the job fails later with "the converter's disk is full" and is retried, as any job
would when something else fills the disk.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import anyio

from ..errors import PermanentJobError, WaitingForSpace
from ..i18n import _
from ..media import Target

MIB = 1024 * 1024

#: A re-encode at our quality settings rarely grows a phone or camera video by half; a remux keeps its size.
VIDEO_OUTPUT_FACTOR = 1.5
#: Audio extracted from a video is smaller than the video; from an audio file, about as large (FLAC → MP3 less).
AUDIO_OUTPUT_FACTOR = 1.0
#: A GIF stores every frame whole: its size depends on the (capped, 30 s) duration and the frame size, not the
#: source's bytes; 480x270 at 12 fps for 30 s stays below this.
GIF_OUTPUT_BYTES = 64 * MIB


class Room(StrEnum):
    """The answer of :func:`decide`."""

    #: Enough free space: download now.
    GO = "go"
    #: Not now, but it would fit on the empty disk: back to the queue for a while; smaller jobs may run.
    WAIT = "wait"
    #: Bigger than the whole scratch filesystem: it can never run here.
    NEVER = "never"


@dataclass(frozen=True)
class Disk:
    """The scratch filesystem's size and free bytes (``shutil.disk_usage``)."""

    total: int
    free: int


def expected_output_bytes(target: Target, source_size: int) -> int:
    """A generous guess of the output's size, from the source's size and the target."""
    if target.id == "gif":
        return GIF_OUTPUT_BYTES
    factor = AUDIO_OUTPUT_FACTOR if target.kind == "audio" else VIDEO_OUTPUT_FACTOR
    return int(source_size * factor)


def needed_bytes(target: Target, source_size: int, reserve: int) -> int:
    """Scratch space one job uses at its peak: the source and the output side by side, plus the reserve."""
    return source_size + expected_output_bytes(target, source_size) + reserve


def decide(needed: int, disk: Disk, promised: int = 0) -> Room:
    """Whether a job needing ``needed`` bytes may start.

    ``promised`` is what the jobs already running on this disk have reserved but not written yet: their
    files will grow into the free space, so it is not really free.
    """
    if needed > disk.total:
        return Room.NEVER
    if needed <= disk.free - promised:
        return Room.GO
    return Room.WAIT


def bytes_used(folder: Path) -> int:
    """What a job's scratch folder holds now (0 if it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we looked
    return total


@dataclass
class _Hold:
    expected: int  # bytes the job will write into ``folder`` at its peak (source + output, no reserve)
    folder: Path | None = None  # known once the job's scratch folder exists


class ScratchSpace:
    """The worker's bookkeeping of its scratch disk: each running job holds what it expects to write.

    Only this process's jobs are known; other processes sharing the disk show up in the free space as they
    write, and a disk that fills up anyway ends in ``ScratchFull`` (retried), never in a crash.
    """

    def __init__(self, scratch: Path, reserve_bytes: int, retry_after: float) -> None:
        self.scratch = scratch
        self.reserve = reserve_bytes
        self.retry_after = retry_after
        self._holds: dict[int, _Hold] = {}
        # Two jobs checking at once must not both take the last free gigabyte.
        self._lock = anyio.Lock()

    async def hold(self, job_id: int, target: Target, source_size: int) -> None:
        """Reserve room for the job, or raise ``WaitingForSpace`` (try later) / ``PermanentJobError`` (never).

        Called before the job creates anything on the disk, so that a full disk means waiting, not failing;
        :meth:`track` then names the job's folder, whose growth counts against what it reserved.
        """
        needed = needed_bytes(target, source_size, self.reserve)
        async with self._lock:
            disk, promised = await anyio.to_thread.run_sync(self._measure, job_id)
            room = decide(needed, disk, promised)
            if room is Room.NEVER:
                raise PermanentJobError(
                    _(
                        "The video is too large for the converter's disk: it needs about {needed} MB of working "
                        "space and the disk holds {total} MB. Ask your administrator for more space."
                    ),
                    needed=_mb(needed),
                    total=_mb(disk.total),
                )
            if room is Room.WAIT:
                raise WaitingForSpace(_("Waiting for free space on the converter's disk"), retry_after=self.retry_after)
            self._holds[job_id] = _Hold(needed - self.reserve)

    def track(self, job_id: int, folder: Path) -> None:
        """The folder the job writes into (what is in it is no longer free, and no longer promised)."""
        if job_id in self._holds:
            self._holds[job_id].folder = folder

    def release(self, job_id: int) -> None:
        self._holds.pop(job_id, None)

    def _measure(self, job_id: int) -> tuple[Disk, int]:
        self.scratch.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(self.scratch)
        promised = sum(
            max(0, hold.expected - (bytes_used(hold.folder) if hold.folder else 0))
            for other, hold in self._holds.items()
            if other != job_id
        )
        return Disk(total=usage.total, free=usage.free), promised


def _mb(size: int) -> int:
    return -(-size // MIB)  # rounded up: "needs 1 MB" rather than "needs 0 MB"

"""One job, start to finish: resolve → download → probe → ffmpeg → upload. No database access here.

The worker owns the job's state; this module only turns a job into an output file in Nextcloud, or raises one
of our errors. Scratch files live in ``<scratch>/job-<id>/`` and are removed whatever happens.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio

from ..jobs import JobRecord
from ..media import build_command, check_compatible, get_target, probe, run_ffmpeg
from ..nextcloud import NextcloudGateway, RemoteFile
from ..settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Converted:
    source: RemoteFile
    output: RemoteFile


def scratch_dir(settings: Settings, job_id: int) -> Path:
    return settings.scratch / f"job-{job_id}"


async def remove_scratch(path: Path) -> None:
    """Remove a job's scratch folder; survives cancellation so nothing is left behind."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))


async def convert(
    job: JobRecord,
    gateway: NextcloudGateway,
    settings: Settings,
    on_progress: Callable[[float], Awaitable[None]],
) -> Converted:
    """Convert ``job``'s source and upload the result next to it, under a name that overwrites nothing."""
    target = get_target(job.target)
    # By id, at processing time: the user may have moved or renamed the file since enqueueing.
    source = await gateway.resolve(job.file_id)
    work = scratch_dir(settings, job.id)
    await remove_scratch(work)  # a previous attempt killed mid-way may have left files
    await anyio.Path(work).mkdir(parents=True, exist_ok=True)
    try:
        local_source = work / ("source" + (PurePosixPath(source.name).suffix or ".bin"))
        local_output = work / f"output.{target.extension}"
        await gateway.download(source, local_source)
        info = await probe(local_source, ffprobe=settings.ffprobe_path)
        check_compatible(target, info)
        command = build_command(
            target, info, local_source, local_output, threads=settings.ffmpeg_threads, ffmpeg=settings.ffmpeg_path
        )
        log.debug("Running %s", command)
        await run_ffmpeg(command, duration=info.duration, on_progress=on_progress)
        output = await gateway.upload_new(
            local_output, source.folder, PurePosixPath(source.name).stem, target.extension
        )
        return Converted(source=source, output=output)
    finally:
        await remove_scratch(work)

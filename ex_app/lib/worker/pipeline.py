"""One job, start to finish: resolve → download → probe → ffmpeg → upload. No database access here.

The worker owns the job's state; this module only turns a job into an output file in Nextcloud, or raises one
of our errors. Scratch files live in ``<scratch>/job-<id>-<random token>/`` and are removed whatever happens —
except a finished, verified output whose upload met a Nextcloud outage (or a shutdown): it stays, described by
:class:`KeptOutput` on the job, and the next attempt only uploads it (no download, no encode).
Before the download the job takes its room on the scratch disk (:class:`.space.ScratchSpace`): not enough free
space sends it back to the queue for a while, a disk that fills up anyway fails it as ``ScratchFull`` (retried).

The result goes next to its source unless the user cannot add files to that folder (a folder shared with them
read-only): that is checked before anything is downloaded, and such a result goes to a folder of their own
(the admin's "Converted videos") with a note saying so, instead of failing after the whole encode.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import anyio

from ..admin_settings import AdminSettings
from ..errors import DISK_FULL, NextcloudOutage, PermanentJobError, PermissionDenied, ScratchFull
from ..i18n import Message, _
from ..jobs import JobRecord
from ..media import (
    JobOptions,
    ProcessLimits,
    build_command,
    check_compatible,
    check_decoding_cost,
    encode_time_limit,
    get_target,
    make_plan,
    output_extension,
    output_size_limit,
    output_stem,
    probe,
    run_ffmpeg,
    verify_output,
)
from ..nextcloud import NextcloudGateway, RemoteFile
from ..settings import Settings
from .space import MIB, ScratchSpace

log = logging.getLogger(__name__)


#: A job note, and an addition to the "finished" notification, when the result went to the fallback folder.
SAVED_ELSEWHERE = _("Saved in {folder} because you cannot add files to {source_folder}.")
NO_FOLDER = _(
    "You cannot add files to {source_folder}, and the folder {folder} for such results cannot be used either. "
    "Ask your administrator."
)


@dataclass(frozen=True)
class Destination:
    """Where a result is uploaded; ``elsewhere`` holds the parameters of :data:`SAVED_ELSEWHERE` when that is
    not the source's folder."""

    folder: str
    elsewhere: dict[str, str] | None = None
    #: The names in ``folder`` when it was checked (None: not listed yet), so the upload needs no listing.
    taken: frozenset[str] | None = None


@dataclass(frozen=True)
class Converted:
    source: RemoteFile
    output: RemoteFile
    notes: tuple[str, ...] = ()
    saved_elsewhere: dict[str, str] | None = None
    """The parameters of :data:`SAVED_ELSEWHERE` when the result is not next to its source."""


async def choose_destination(gateway: NextcloudGateway, source: RemoteFile, limits: AdminSettings) -> Destination:
    """The source's folder if the user may add files to it, else their own fallback folder (created if
    missing); ``PermissionDenied`` when neither takes files, before anything is downloaded or encoded."""
    creatable, names = await gateway.folder_for_results(source.folder)
    if creatable:
        return Destination(source.folder, taken=frozenset(names))
    return await fallback_destination(gateway, source, limits)


async def fallback_destination(gateway: NextcloudGateway, source: RemoteFile, limits: AdminSettings) -> Destination:
    params = {"folder": limits.fallback_folder, "source_folder": source.folder.strip("/") or "/"}
    if not await gateway.own_folder("/" + limits.fallback_folder):
        raise PermissionDenied(NO_FOLDER, **params)
    log.info("%s takes no new files; the result goes to /%s", source.folder, limits.fallback_folder)
    return Destination("/" + limits.fallback_folder, params)


@dataclass(frozen=True)
class KeptOutput:
    """A finished, verified output in scratch, waiting for its upload (stored on the job as a dict)."""

    path: str
    size: int
    extension: str
    notes: tuple[str, ...]
    source_etag: str

    def to_dict(self) -> dict[str, Any]:
        notes = [note.as_dict() if isinstance(note, Message) else str(note) for note in self.notes]
        return {**self.__dict__, "notes": notes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeptOutput:
        return cls(
            path=str(data["path"]),
            size=int(data["size"]),
            extension=str(data["extension"]),
            notes=tuple(Message.from_stored(note) for note in data.get("notes", ())),
            source_etag=str(data.get("source_etag", "")),
        )


OutputReady = Callable[[KeptOutput], Awaitable[None]]


async def usable_kept_output(job: JobRecord, source: RemoteFile, settings: Settings) -> KeptOutput | None:
    """The output an earlier attempt kept for this job, if it is still there, whole, and made from the source
    as it is now; ``None`` otherwise (then the job is converted again)."""
    if not job.kept_output:
        return None
    try:
        kept = KeptOutput.from_dict(job.kept_output)
        path = anyio.Path(kept.path)
        # Only ever a file in our own scratch folder: the path comes from the database.
        if not (await path.resolve()).is_relative_to(await anyio.Path(settings.scratch).resolve()):
            return None
        if kept.source_etag != source.etag:
            log.info("Job #%d: the source changed since it was converted; converting it again", job.id)
            return None
        if not await path.is_file() or (await path.stat()).st_size != kept.size:
            log.info("Job #%d: the kept output is gone or incomplete; converting again", job.id)
            return None
        await probe(Path(kept.path), ffprobe=settings.ffprobe_path)  # still a readable media file
    except Exception:
        log.info("Job #%d: the kept output cannot be used; converting again", job.id, exc_info=True)
        return None
    return kept


def check_size(size: int, limits: AdminSettings) -> None:
    """The admin's size limit, checked again when the job runs (the file may have grown since)."""
    if limits.max_input_mb and size > limits.max_input_bytes():
        raise PermanentJobError(
            _("The video is larger than the {limit} MB limit set by your administrator"), limit=limits.max_input_mb
        )


def check_duration(seconds: float | None, limits: AdminSettings) -> None:
    if limits.max_input_minutes and seconds and seconds > limits.max_input_minutes * 60:
        raise PermanentJobError(
            _("The video is longer than the {limit}-minute limit set by your administrator"),
            limit=limits.max_input_minutes,
        )


def scratch_dir(settings: Settings, job_id: int) -> Path:
    """A new, unguessable folder name for one attempt at ``job_id``: ``job-<id>-<32 hex digits>``.

    The token keeps one job's files out of reach of another's input even if a demuxer were ever tricked into
    opening a path named in a file (another user's source would otherwise wait at a predictable place);
    the ``job-<id>`` prefix lets the cleanup recognise orphans (ops/cleanup.py).
    """
    return settings.scratch / f"job-{job_id}-{secrets.token_hex(16)}"


async def make_scratch(settings: Settings, job_id: int) -> Path:
    """Create a fresh scratch folder for ``job_id`` (mode 0700, in a scratch root of mode 0700), after removing
    what an earlier attempt at the same job, killed mid-way, may have left."""
    root = anyio.Path(settings.scratch)
    await root.mkdir(mode=0o700, parents=True, exist_ok=True)
    await root.chmod(0o700)  # also when it existed before, e.g. created by an older version
    await remove_job_scratch(settings, job_id)
    work = scratch_dir(settings, job_id)
    await anyio.Path(work).mkdir(mode=0o700)
    return work


async def remove_job_scratch(settings: Settings, job_id: int) -> None:
    """Remove every scratch folder of ``job_id``: what earlier attempts, killed mid-way, left behind."""
    root = anyio.Path(settings.scratch)
    if not await root.is_dir():
        return
    async for old in root.glob(f"job-{job_id}-*"):
        await remove_scratch(Path(old))
    await remove_scratch(Path(root / f"job-{job_id}"))  # the name older versions used


async def remove_scratch(path: Path) -> None:
    """Remove a job's scratch folder; survives cancellation so nothing is left behind."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))


async def convert(
    job: JobRecord,
    gateway: NextcloudGateway,
    settings: Settings,
    limits: AdminSettings,
    on_progress: Callable[[float], Awaitable[None]],
    space: ScratchSpace | None = None,
    on_output_ready: OutputReady | None = None,
    encoders: anyio.CapacityLimiter | None = None,
) -> Converted:
    """Convert ``job``'s source and upload the result next to it, under a name that overwrites nothing.

    ``on_output_ready`` is told where the verified output waits before its upload starts (the worker records
    it on the job); a job whose output was kept that way is only uploaded. ``encoders`` is held from the first
    ffprobe to the output's check, not while the source downloads or the result uploads: those only wait on
    the network, and another job's encode can use the CPU meanwhile.
    """
    target = get_target(job.target)
    if target.id not in limits.targets:
        raise PermanentJobError(
            _("{target}: your administrator no longer offers this conversion"), target=Message(target.label)
        )
    # By id, at processing time: the user may have moved or renamed the file since enqueueing.
    source = await gateway.resolve(job.file_id)
    kept = await usable_kept_output(job, source, settings)
    if kept is not None:
        log.info("Job #%d: its converted file waited in scratch; only uploading it", job.id)
        destination = await choose_destination(gateway, source, limits)
        return await _deliver(kept, source, target, gateway, limits, destination, Path(kept.path).parent)
    check_size(source.size, limits)
    destination = await choose_destination(gateway, source, limits)
    work: Path | None = None
    try:
        try:
            # Room is taken before anything is created, so that a full disk means waiting, not failing; what an
            # earlier attempt killed mid-way left behind goes first, or it would wait for its own leftovers.
            await remove_job_scratch(settings, job.id)
            if space is not None:
                await space.hold(job.id, target, source.size)
            work = await make_scratch(settings, job.id)
            if space is not None:
                space.track(job.id, work)
            local_source = work / ("source" + (PurePosixPath(source.name).suffix or ".bin"))
            await gateway.download(source, local_source)
            bounds = ProcessLimits(nice=settings.ffmpeg_nice, memory_bytes=settings.ffmpeg_memory_mb * 1024**2 or None)
            async with encoders or contextlib.nullcontext():
                # Probe first: a file without a usable stream fails here, with a clear message, before encoding.
                info = await probe(local_source, ffprobe=settings.ffprobe_path, limits=bounds)
                check_compatible(target, info)
                check_duration(info.duration, limits)
                plan = make_plan(target, info, JobOptions.from_dict(job.options), source_name=source.name)
                size = (await anyio.Path(local_source).stat()).st_size
                check_decoding_cost(info, size, plan.expected_duration)
                extension = output_extension(target, source.name, info)
                local_output = work / f"output.{extension}"
                command = build_command(
                    plan.target, info, local_source, local_output, plan=plan, threads=limits.ffmpeg_threads,
                    ffmpeg=settings.ffmpeg_path,
                )  # fmt: skip
                log.debug("Running %s", command)
                log.info("Job #%d: encoding %s", job.id, source.name)  # tests count these: one per conversion
                await run_ffmpeg(
                    command, duration=plan.expected_duration, on_progress=on_progress, limits=bounds,
                    time_limit=encode_time_limit(plan, info, limits.max_encode_minutes),
                    max_output_bytes=output_size_limit(size, limits.max_output_ratio, settings.min_output_mb * MIB),
                )  # fmt: skip
                # ffmpeg can exit 0 on a damaged source and write half a video; check before the user sees it.
                output_info = await probe(local_output, ffprobe=settings.ffprobe_path, limits=bounds)
                verify_output(info, output_info, plan.target, plan)
            output_size = (await anyio.Path(local_output).stat()).st_size
            kept = KeptOutput(str(local_output), output_size, extension, tuple(plan.notes), source.etag)
            if on_output_ready is not None:
                await on_output_ready(kept)
        except BaseException:
            if work is not None:
                await remove_scratch(work)
            raise
        return await _deliver(kept, source, target, gateway, limits, destination, work)
    except OSError as exc:
        if ScratchFull.caused(exc):
            raise ScratchFull(DISK_FULL) from exc
        raise
    finally:
        if space is not None:
            space.release(job.id)


async def _deliver(
    kept: KeptOutput,
    source: RemoteFile,
    target: Any,
    gateway: NextcloudGateway,
    limits: AdminSettings,
    destination: Destination,
    work: Path,
) -> Converted:
    """Upload the kept output to ``destination``; its scratch folder goes afterwards — unless Nextcloud is down
    or the worker is stopping, when the output stays for the next attempt to upload."""
    keep = False
    local, stem = Path(kept.path), output_stem(target, source.name)
    try:
        try:
            output = await gateway.upload_new(
                local, destination.folder, stem, kept.extension, mtime=source.mtime, taken=destination.taken
            )
        except PermissionDenied:
            if destination.elsewhere is not None:
                raise
            # The folder stopped taking files during the encode (or Nextcloud refused despite its permissions):
            # the finished work is not thrown away.
            destination = await fallback_destination(gateway, source, limits)
            output = await gateway.upload_new(local, destination.folder, stem, kept.extension, mtime=source.mtime)
        notes = kept.notes
        if destination.elsewhere is not None:
            notes = (*notes, Message(SAVED_ELSEWHERE, **destination.elsewhere))
        return Converted(source=source, output=output, notes=notes, saved_elsewhere=destination.elsewhere)
    except (NextcloudOutage, anyio.get_cancelled_exc_class()):
        keep = True
        raise
    finally:
        if not keep:
            await remove_scratch(work)

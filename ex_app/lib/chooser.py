"""What the conversions page's chooser needs: the selected files as they are in Nextcloud, what each can become,
and which of them cannot be used and why; then the jobs for one target in one request.

The Files "Convert into…" entry only sends file ids in the page's URL, so everything else is looked up here as
the calling user (another user's file id is indistinguishable from an unknown one). Media details come from
ffprobe on a bounded download, cached per (file id, etag) so that changing an option or reloading the page does
not fetch the file again.
"""

from __future__ import annotations

import secrets
import shutil
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import anyio

from .admin_settings import AdminSettings
from .enqueue import accepts, check_offered, is_small_probed, job_for_file, over_quota
from .errors import JobError, MediaError
from .i18n import _, translate
from .jobs import NewJob
from .media import TARGETS, JobOptions, MediaInfo, Target, check_compatible, make_plan, probe
from .media.naming import output_extension, output_stem
from .nextcloud import NextcloudGateway, RemoteFile

#: A file up to this size is downloaded whole for probing.
FULL_PROBE_BYTES = 64 * 1024 * 1024
#: Of a bigger file only this much of the start: enough for the headers of MKV, WebM, AVI and MP4 files whose
#: index comes first (the usual "fast start" layout). An MP4 with its index at the end then has no details
#: (``media`` null); the page still offers every target and the job probes the whole file when it runs.
HEAD_PROBE_BYTES = 8 * 1024 * 1024
#: Files looked up (and probed) at the same time.
PARALLEL = 4
#: At most this much is downloaded for probing in one request (a selection of 100 big videos would otherwise
#: fetch 6 GB); the files beyond it get ``media`` null, as unreadable ones do, and stay convertible.
PROBE_BUDGET_BYTES = 512 * 1024 * 1024

NOT_FOUND = _("This file does not exist, or you have no access to it")
FOLDER = _("This is a folder")
NOT_MEDIA = _("This is not a video or audio file ({mime})")
NOT_FOR_TARGET = _("This file cannot be converted into {target} ({mime})")
TOO_LARGE = _("The file is larger than the {limit} MB limit set by your administrator")
TOO_LONG = _("The video is longer than the {limit}-minute limit set by your administrator")
TWICE = _("This file was selected twice")
OVER_QUOTA = _("You already have {count} unfinished conversions (the limit is {limit})")
NOTHING_OFFERED = _("None of the conversions your administrator offers can take this file")


@dataclass(frozen=True)
class Refusal:
    """A selected file that cannot be used, with an English template and its parameters (see i18n)."""

    file_id: int
    name: str | None
    message: str
    params: Mapping[str, object] = field(default_factory=dict)

    def reason(self, language: str) -> str:
        return translate(language, self.message, **self.params)


@dataclass(frozen=True)
class TargetChoice:
    fast_copy: bool
    """Every stream is copied into the new container: fast, and the quality is unchanged."""
    output_name: str
    """The name the output gets when it is free (`` (1)`` is added when it is taken)."""


@dataclass(frozen=True)
class FileChoice:
    remote: RemoteFile
    media: MediaInfo | None
    targets: dict[str, TargetChoice]


class ProbeCache:
    """ffprobe results by (file id, etag), least recently used dropped first. None = probed, unreadable."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, str], MediaInfo | None] = OrderedDict()

    def __contains__(self, key: tuple[int, str]) -> bool:
        return key in self._items

    def get(self, key: tuple[int, str]) -> MediaInfo | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: tuple[int, str], info: MediaInfo | None) -> None:
        self._items[key] = info
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


def unique(ids: Iterable[int]) -> list[int]:
    """``ids`` in order, each once."""
    return list(dict.fromkeys(ids))


def offered_targets(limits: AdminSettings) -> list[Target]:
    """The targets the admin offers, in menu order."""
    return [t for t in TARGETS.values() if t.id in limits.targets]


def is_media(mime: str) -> bool:
    return mime.startswith(("video/", "audio/"))


def first_refusal(remote: RemoteFile | None, file_id: int, limits: AdminSettings) -> Refusal | None:
    """Why this file cannot be converted at all, checked without its content; None when it may be."""
    if remote is None:
        return Refusal(file_id, None, NOT_FOUND)
    if remote.is_dir:
        return Refusal(file_id, remote.name, FOLDER)
    if not is_media(remote.mime):
        return Refusal(file_id, remote.name, NOT_MEDIA, {"mime": remote.mime or "?"})
    if limits.max_input_mb and remote.size > limits.max_input_bytes():
        return Refusal(file_id, remote.name, TOO_LARGE, {"limit": limits.max_input_mb})
    return None


def too_long(remote: RemoteFile, media: MediaInfo | None, limits: AdminSettings) -> Refusal | None:
    seconds = media.duration if media is not None else None
    if limits.max_input_minutes and seconds and seconds > limits.max_input_minutes * 60:
        return Refusal(remote.file_id, remote.name, TOO_LONG, {"limit": limits.max_input_minutes})
    return None


def choices_for(
    remote: RemoteFile, media: MediaInfo | None, targets: Sequence[Target], options: JobOptions
) -> tuple[dict[str, TargetChoice], MediaError | None]:
    """Per target that can take this file: whether it is a fast copy, and the output's name. Pure.

    A target missing from the answer cannot take the file (an audio file cannot become MP4). When no target can,
    the second value is the reason ffprobe's view gives, if any.
    """
    choices: dict[str, TargetChoice] = {}
    why_not: MediaError | None = None
    for target in targets:
        if not accepts(target, remote.mime):
            continue
        fast = False
        if media is not None:
            try:
                check_compatible(target, media)
            except JobError as exc:
                why_not = why_not or (exc if isinstance(exc, MediaError) else MediaError(exc.message_id, **exc.params))
                continue
            fast = make_plan(target, media, options, source_name=remote.name).remux
        name = f"{output_stem(target, remote.name)}.{output_extension(target, remote.name, media)}"
        choices[target.id] = TargetChoice(fast_copy=fast, output_name=name)
    return choices, why_not


def probe_bytes(remote: RemoteFile) -> int:
    """How much :func:`probe_remote` downloads for this file."""
    return remote.size if remote.size <= FULL_PROBE_BYTES else HEAD_PROBE_BYTES


def within_budget(
    remotes: Sequence[RemoteFile], cache: ProbeCache, budget: int = PROBE_BUDGET_BYTES
) -> list[RemoteFile]:
    """The files to probe now, in order: cached ones cost nothing, the others until ``budget`` bytes are used."""
    chosen: list[RemoteFile] = []
    for remote in remotes:
        cost = 0 if (remote.file_id, remote.etag) in cache else probe_bytes(remote)
        if cost > budget:
            continue
        budget -= cost
        chosen.append(remote)
    return chosen


async def probe_remote(
    gateway: NextcloudGateway, remote: RemoteFile, scratch: Path, cache: ProbeCache
) -> MediaInfo | None:
    """ffprobe's view of a file, from the cache or a bounded download; None when it cannot be read."""
    key = (remote.file_id, remote.etag)
    if key in cache:
        return cache.get(key)
    folder = scratch / f"probe-{secrets.token_hex(8)}"
    await anyio.Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        # Keep the extension: some formats (raw streams) are only recognised by it.
        local = folder / ("source" + PurePosixPath(remote.name).suffix.lower()[:16])
        await gateway.download_head(remote, local, probe_bytes(remote))
        try:
            info: MediaInfo | None = await probe(local)
        except MediaError:
            info = None
    except JobError:
        return None  # Nextcloud trouble: not cached, the next look may work
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))
    cache.put(key, info)
    return info


async def _lookup(gateway: NextcloudGateway, ids: Sequence[int]) -> dict[int, RemoteFile | None]:
    found: dict[int, RemoteFile | None] = {}
    limiter = anyio.CapacityLimiter(PARALLEL)

    async def one(file_id: int) -> None:
        async with limiter:
            found[file_id] = await gateway.find(file_id)

    async with anyio.create_task_group() as tg:
        for file_id in unique(ids):
            tg.start_soon(one, file_id)
    return found


async def describe_files(
    gateway: NextcloudGateway,
    ids: Sequence[int],
    *,
    limits: AdminSettings,
    options: JobOptions,
    scratch: Path,
    cache: ProbeCache,
) -> tuple[list[FileChoice], list[Refusal]]:
    """The chooser's view of the selected files, in the order given; the unusable ones with their reason."""
    ids = unique(ids)
    found = await _lookup(gateway, ids)
    targets = offered_targets(limits)
    media: dict[int, MediaInfo | None] = {}
    usable = [r for i in ids if first_refusal(r := found[i], i, limits) is None and r is not None]
    limiter = anyio.CapacityLimiter(PARALLEL)

    async def probe_one(remote: RemoteFile) -> None:
        async with limiter:
            media[remote.file_id] = await probe_remote(gateway, remote, scratch, cache)

    async with anyio.create_task_group() as tg:
        for remote in within_budget(usable, cache):
            tg.start_soon(probe_one, remote)

    files: list[FileChoice] = []
    refused: list[Refusal] = []
    for file_id in ids:
        remote = found[file_id]
        refusal = first_refusal(remote, file_id, limits)
        if refusal is None:
            assert remote is not None
            info = media.get(file_id)
            refusal = too_long(remote, info, limits)
            if refusal is None:
                choices, why_not = choices_for(remote, info, targets, options)
                if choices:
                    files.append(FileChoice(remote, info, choices))
                    continue
                if why_not is not None:
                    refusal = Refusal(file_id, remote.name, why_not.message_id, why_not.params)
                else:
                    refusal = Refusal(file_id, remote.name, NOTHING_OFFERED)
        refused.append(refusal)
    return files, refused


async def jobs_for_batch(
    gateway: NextcloudGateway,
    ids: Sequence[int],
    *,
    user_id: str,
    target: Target,
    options: JobOptions,
    limits: AdminSettings,
    unfinished: int,
    language: str,
    cache: ProbeCache,
) -> tuple[list[NewJob], list[Refusal]]:
    """One job per usable file for ``target``; the others refused with a reason, nothing created for them.

    ``NotOffered`` (403) for the whole request when the admin does not offer ``target``. What ffprobe already
    said about a file (the chooser probed it) is used; nothing is downloaded here, the worker checks again.
    """
    check_offered(target, limits)
    found = await _lookup(gateway, ids)
    jobs: list[NewJob] = []
    refused: list[Refusal] = []
    seen: set[int] = set()
    for file_id in ids:
        remote = found[file_id]
        refusal = first_refusal(remote, file_id, limits)
        if refusal is None:
            assert remote is not None
            info = cache.get((remote.file_id, remote.etag))
            if file_id in seen:
                refusal = Refusal(file_id, remote.name, TWICE)
            elif not accepts(target, remote.mime):
                refusal = Refusal(file_id, remote.name, NOT_FOR_TARGET, {"target": target.name, "mime": remote.mime})
            elif (refusal := too_long(remote, info, limits)) is None:
                _choices, why_not = choices_for(remote, info, [target], options)
                if why_not is not None:
                    refusal = Refusal(file_id, remote.name, why_not.message_id, why_not.params)
                elif over_quota(unfinished + len(jobs), limits):
                    count = unfinished + len(jobs)
                    refusal = Refusal(
                        file_id, remote.name, OVER_QUOTA, {"count": count, "limit": limits.max_jobs_per_user}
                    )
        if refusal is not None:
            refused.append(refusal)
            continue
        assert remote is not None
        seen.add(file_id)
        job = job_for_file(remote, user_id=user_id, target=target, language=language, limits=limits, options=options)
        if info is not None:
            # ffprobe's view beats the guess from size and type: its duration, and whether this is a remux.
            choice = choices_for(remote, info, [target], options)[0].get(target.id)
            remux = choice is not None and choice.fast_copy
            job = replace(job, small=is_small_probed(target, info.duration, remux))
        jobs.append(job)
    return jobs, refused

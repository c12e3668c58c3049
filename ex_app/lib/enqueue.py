"""Turning requests into jobs: which files become jobs, which are skipped and why.

The rules are pure functions over what the Files app sent; the routes only call :func:`jobs_from_action` or
:func:`job_for_file` and hand the result to the store.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from .admin_settings import AdminSettings
from .errors import InvalidRequest, LimitReached, NotOffered, TooLarge
from .jobs import NewJob
from .media import JobOptions, Target
from .media.targets import ANY
from .nextcloud import RemoteFile

#: A source up to this size is a short video whatever it becomes (about half a minute of 1080p phone video).
SMALL_SOURCE_BYTES = 64 * 1024 * 1024
#: A video up to this long is short, whatever it becomes (when its duration is known, see is_small_probed).
SMALL_DURATION_SECONDS = 120.0
# Containers that nearly always hold H.264 + AAC, which the MP4 family takes over without re-encoding.
_MP4_LIKE_MIMES = frozenset({"video/mp4", "video/quicktime", "video/x-m4v"})


@dataclass(frozen=True)
class Skipped:
    file_id: int | None
    name: str
    reason: str


@dataclass(frozen=True)
class ActionEntry:
    """What the Files action payload tells us about one selected item."""

    file_id: int
    name: str
    directory: str
    etag: str | None
    mime: str
    is_dir: bool
    size: int = 0

    @property
    def path(self) -> str:
        return posixpath.join(self.directory or "/", self.name)


def is_small(target: Target, mime: str, size: int, options: JobOptions) -> bool:
    """Whether a job will probably be quick, judged from what is known before anything is downloaded or
    probed; a small job gets a head start in its owner's queue (``store.SMALL_JOB_HEAD_START``).

    Small: an audio target (only the sound is encoded); a source of at most :data:`SMALL_SOURCE_BYTES`; or a
    plain click (no option changed, not "compress") that will most likely only change the container — into
    MKV, which takes any stream as it is, or from an MP4/MOV source into the MP4 family. A wrong guess only
    moves a job within its owner's own queue.
    """
    if target.kind == "audio" or 0 < size <= SMALL_SOURCE_BYTES:
        return True
    if target.compress or options != JobOptions():
        return False
    if ANY in target.copy_video and ANY in target.copy_audio:
        return True
    return "h264" in target.copy_video and mime.split(";")[0].strip().lower() in _MP4_LIKE_MIMES


def is_small_probed(target: Target, duration: float | None, remux: bool) -> bool:
    """:func:`is_small` for a file ffprobe has already seen (the Conversions page probes what it offers):
    an audio target, a remux (``remux``: nothing is re-encoded) or at most :data:`SMALL_DURATION_SECONDS` long."""
    short = duration is not None and duration <= SMALL_DURATION_SECONDS
    return target.kind == "audio" or remux or short


def accepts(target: Target, mime: str) -> bool:
    """Whether ``target`` can take a file of this mime type."""
    return any(mime.startswith(prefix) for prefix in target.mimes)


def check_offered(target: Target, limits: AdminSettings) -> None:
    if target.id not in limits.targets:
        raise NotOffered(f"Your administrator does not offer '{target.label}'")


def too_large(size: int, limits: AdminSettings) -> str | None:
    """Why a file of ``size`` bytes is refused, or None."""
    if limits.max_input_mb and size > limits.max_input_bytes():
        return f"is larger than the {limits.max_input_mb} MB limit"
    return None


def over_quota(unfinished: int, limits: AdminSettings) -> str | None:
    """Why one more job is refused for a user with ``unfinished`` jobs, or None."""
    if limits.max_jobs_per_user and unfinished >= limits.max_jobs_per_user:
        return f"you already have {unfinished} unfinished conversions (the limit is {limits.max_jobs_per_user})"
    return None


def jobs_from_action(
    entries: Sequence[ActionEntry],
    *,
    user_id: str,
    target: Target,
    language: str,
    limits: AdminSettings,
    unfinished: int = 0,
    options: JobOptions | None = None,
) -> tuple[list[NewJob], list[Skipped]]:
    """One job per selected file the target accepts; folders, other files and what the admin's limits refuse
    are skipped with a reason. ``unfinished`` is how many pending or running jobs the user has already.

    The user is the one AppAPI authenticated — never the ``userId`` in the payload, which the browser controls.
    """
    check_offered(target, limits)
    options = options or JobOptions()
    stored = options.to_dict()
    jobs: list[NewJob] = []
    skipped: list[Skipped] = []
    seen: set[int] = set()
    for entry in entries:
        if entry.is_dir:
            skipped.append(Skipped(entry.file_id, entry.name, "is a folder"))
        elif not accepts(target, entry.mime):
            skipped.append(Skipped(entry.file_id, entry.name, f"is not a video ({entry.mime or 'unknown type'})"))
        elif entry.file_id in seen:
            skipped.append(Skipped(entry.file_id, entry.name, "selected twice"))
        elif reason := too_large(entry.size, limits) or over_quota(unfinished + len(jobs), limits):
            skipped.append(Skipped(entry.file_id, entry.name, reason))
        else:
            seen.add(entry.file_id)
            small = is_small(target, entry.mime, entry.size, options)
            jobs.append(_new_job(user_id, entry.file_id, entry.path, entry.etag, target, stored, language, small))
    return jobs, skipped


def job_for_file(
    remote: RemoteFile,
    *,
    user_id: str,
    target: Target,
    language: str,
    limits: AdminSettings,
    unfinished: int = 0,
    options: JobOptions | None = None,
) -> NewJob:
    """The job for one file a script named; an InvalidRequest (4xx) when it cannot be accepted."""
    check_offered(target, limits)
    if not accepts(target, remote.mime):
        raise InvalidRequest(f"{remote.name} is not a video ({remote.mime or 'unknown type'})")
    if reason := too_large(remote.size, limits):
        raise TooLarge(f"{remote.name} {reason}")
    if reason := over_quota(unfinished, limits):
        raise LimitReached(reason[0].upper() + reason[1:])
    options = options or JobOptions()
    small = is_small(target, remote.mime, remote.size, options)
    return _new_job(user_id, remote.file_id, remote.path, remote.etag, target, options.to_dict(), language, small)


def _new_job(
    user_id: str,
    file_id: int,
    path: str,
    etag: str | None,
    target: Target,
    options: dict,
    language: str,
    small: bool,
) -> NewJob:
    return NewJob(
        user_id=user_id,
        file_id=file_id,
        source_path=path,
        source_etag=etag,
        target=target.id,
        options=options,
        language=language,
        small=small,
    )

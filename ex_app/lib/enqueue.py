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
from .nextcloud import RemoteFile


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
    stored = (options or JobOptions()).to_dict()
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
            jobs.append(_new_job(user_id, entry.file_id, entry.path, entry.etag, target, stored, language))
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
    stored = (options or JobOptions()).to_dict()
    return _new_job(user_id, remote.file_id, remote.path, remote.etag, target, stored, language)


def _new_job(
    user_id: str, file_id: int, path: str, etag: str | None, target: Target, options: dict, language: str
) -> NewJob:
    return NewJob(
        user_id=user_id,
        file_id=file_id,
        source_path=path,
        source_etag=etag,
        target=target.id,
        options=options,
        language=language,
    )

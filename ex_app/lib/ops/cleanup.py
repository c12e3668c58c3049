"""Housekeeping: delete finished jobs past their retention, remove scratch folders nobody will use again.

Scratch folders are named ``job-<id>-<random token>`` (``worker.pipeline.scratch_dir``; plain ``job-<id>`` from
older versions is recognised too). One is *orphaned* when its job is
neither pending nor processing — the worker removes its folder when a job ends, so an orphan is what a crash
or a kill left behind. The folder listing is taken **before** the active jobs are read: a job that is active
by then keeps its folder, and a folder created afterwards is not seen at all. (A finished job retried *and*
claimed in the instant between those two reads could still lose its fresh folder; the worker clears and
recreates the folder when it starts a job, and the same race exists in the worker's own start-up sweep.)
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from ..jobs import JobStore
from ..jobs.models import utc_now
from ..settings import Settings
from ._json import jsonable

_SCRATCH_NAME = re.compile(r"job-(\d+)(?:-[0-9a-f]+)?")
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms]?)")
_UNITS = {"d": "days", "": "days", "h": "hours", "m": "minutes", "s": "seconds"}


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """What :func:`cleanup` deleted (or, with ``dry_run``, would delete)."""

    cutoff: datetime
    dry_run: bool
    #: Finished jobs that finished before ``cutoff``, sorted.
    deleted_job_ids: list[int]
    #: Orphaned ``job-<id>-<token>`` scratch folders, sorted by job id.
    removed_scratch_dirs: list[Path]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(self)
        return data


def parse_age(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``45s`` or a plain number of days (``7``, ``1.5``) as a timedelta.

    ``ValueError`` for anything else.
    """
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"invalid age {text!r}: use e.g. 7d, 12h, 30m or a number of days")
    number, unit = match.groups()
    return timedelta(**{_UNITS[unit]: float(number)})


def retention(settings: Settings) -> timedelta:
    """How long finished jobs are kept (``retention_days``)."""
    return timedelta(days=settings.retention_days)


async def scratch_job_dirs(scratch: Path) -> list[tuple[int, Path]]:
    """The job folders in ``scratch`` as (job id, path), sorted by id then name (empty if ``scratch`` does not
    exist). A job may have more than one: each attempt gets a new folder."""
    found: list[tuple[int, Path]] = []
    root = anyio.Path(scratch)
    if not await root.is_dir():
        return found
    async for entry in root.iterdir():
        match = _SCRATCH_NAME.fullmatch(entry.name)
        if match is not None and await entry.is_dir():
            found.append((int(match.group(1)), Path(entry)))
    return sorted(found, key=lambda item: (item[0], item[1].name))


async def orphaned_scratch_dirs(store: JobStore, scratch: Path) -> list[Path]:
    """The scratch folders whose job is neither pending nor processing (or no longer exists), by job id."""
    dirs = await scratch_job_dirs(scratch)  # first: see the module docstring
    active = await store.active_ids()
    return [path for job_id, path in dirs if job_id not in active]


async def cleanup(
    store: JobStore,
    settings: Settings,
    *,
    older_than: timedelta,
    dry_run: bool,
    now: datetime | None = None,
) -> CleanupResult:
    """Delete the completed, failed and cancelled jobs that finished more than ``older_than`` before ``now``,
    then remove every orphaned scratch folder in ``settings.scratch``.

    With ``dry_run`` nothing changes and the result lists what would go. Pending and processing jobs, and
    their folders, are never touched, however old.
    """
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative")
    cutoff = (now or utc_now()) - older_than
    deleted = await store.delete_finished_before(cutoff, dry_run=dry_run)
    orphans = await orphaned_scratch_dirs(store, settings.scratch)
    if not dry_run:
        for path in orphans:
            await _remove_tree(path)
    return CleanupResult(cutoff=cutoff, dry_run=dry_run, deleted_job_ids=deleted, removed_scratch_dirs=orphans)


async def _remove_tree(path: Path) -> None:
    # Shielded: a cleanup stopped half-way must not leave half a folder that still looks like a job's.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))

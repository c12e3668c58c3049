"""Plain, immutable values that cross the store's boundary.

Callers never hold ORM objects or rows across an ``await``: the store turns every row into one of these
snapshots before it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from ..i18n import Message
from .models import FINISHED, JobStatus


@dataclass(frozen=True, slots=True)
class NewJob:
    """What a caller knows about a job before it exists."""

    user_id: str
    file_id: int
    #: The source's path relative to the user's root when the job was asked for, e.g. ``/Videos/clip.mov``.
    source_path: str
    target: str
    source_etag: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    language: str = "en"
    #: A quick job (see :func:`ex_app.lib.enqueue.is_small`): it gets a head start in its owner's queue.
    small: bool = False


class _Messages:
    """A job's error and notes as messages (for the records that carry ``error_message``, ``error_ref``, ``notes``)."""

    __slots__ = ()
    error_message: str | None
    error_ref: str | None
    notes: tuple[Any, ...]

    @property
    def error(self) -> Message | None:
        """``error_message`` with its id and parameters, ready to be shown in any language."""
        if self.error_message is None:
            return None
        return Message.from_stored(self.error_ref) if self.error_ref else Message(self.error_message)

    @property
    def messages(self) -> tuple[Message, ...]:
        """The notes, ready to be shown in any language."""
        return tuple(Message.from_stored(note) for note in self.notes)


@dataclass(frozen=True, slots=True)
class JobRecord(_Messages):
    """A snapshot of one ``jobs`` row; every datetime is aware and in UTC."""

    id: int
    user_id: str
    file_id: int
    source_path: str
    source_etag: str | None
    target: str
    options: dict[str, Any]
    status: JobStatus
    progress: float
    created_at: datetime
    #: The job's place in its owner's queue: ``created_at``, earlier for a small job.
    queue_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    error_message: str | None
    error_ref: str | None
    retry_count: int
    not_before: datetime | None
    output_path: str | None
    output_file_id: int | None
    language: str
    notes: tuple[Any, ...]
    lease_owner: str | None
    lease_expires_at: datetime | None
    kept_output: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """Whether the job is completed, failed or cancelled."""
        return self.status in FINISHED

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobRecord:
        """Build a record from a row mapping of the ``jobs`` table."""
        values = dict(row)
        values["status"] = JobStatus(values["status"])
        values["options"] = dict(values["options"] or {})
        values["notes"] = tuple(values["notes"] or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class JobListing(_Messages):
    """What the job list shows of a ``jobs`` row: the columns the API's ``JobPublic`` is made of, no others.

    The list is polled, and turning a row into a record was most of a page's cost: the columns nobody shows
    (leases, queue place, four more timestamps, the kept output) are not read at all.
    """

    id: int
    status: JobStatus
    progress: float
    target: str
    options: dict[str, Any]
    file_id: int
    source_path: str
    output_file_id: int | None
    output_path: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_message: str | None
    error_ref: str | None
    retry_count: int
    notes: tuple[Any, ...]

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> JobListing:
        """Build a listing from the values of the columns named :data:`LISTING_COLUMNS`, in that order."""
        # By position, not through a mapping: building a dict per row and passing it as keywords was a third of
        # the listing's cost.
        values = list(row)
        values[_STATUS] = JobStatus(values[_STATUS])
        values[_OPTIONS] = dict(values[_OPTIONS] or {})
        values[_NOTES] = tuple(values[_NOTES] or ())
        return cls(*values)


#: The ``jobs`` columns a :class:`JobListing` is read from, in the order of its fields.
LISTING_COLUMNS = tuple(field.name for field in fields(JobListing))
_STATUS, _OPTIONS, _NOTES = (LISTING_COLUMNS.index(name) for name in ("status", "options", "notes"))


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """A snapshot of one ``workers`` row: a worker's last heartbeat."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    jobs_running: int
    nextcloud_unreachable_since: datetime | None = None
    nextcloud_error: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> WorkerRecord:
        """Build a record from a row mapping of the ``workers`` table."""
        return cls(**dict(row))


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A notification waiting in the outbox."""

    id: int
    user_id: str
    job_id: int | None
    subject: str
    message: str
    link: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OutboxRecord:
        """Build a record from a row mapping of the ``outbox`` table."""
        return cls(**dict(row))

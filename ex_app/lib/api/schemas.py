"""What the REST API accepts and returns (``JobCreate`` in, ``JobPublic`` out)."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..jobs import JobListing, JobRecord, JobStatus
from ..jobs.eta import eta_seconds


class TargetPublic(BaseModel):
    id: str
    label: str
    extension: str | None  # None when the output keeps the source's format (Compress)
    same_format: bool
    kind: str


class OptionsPublic(BaseModel):
    """What ``options`` in ``POST /api/jobs`` accepts (null = keep / the target's default)."""

    quality: list[str]
    max_height: list[int | None]
    audio_bitrate: str


class TargetList(BaseModel):
    user: str
    targets: list[TargetPublic]
    options: OptionsPublic


class SourcePublic(BaseModel):
    file_id: int
    path: str
    name: str  # the last part of ``path``, for display


class OutputPublic(BaseModel):
    file_id: int | None
    path: str
    name: str


class JobPublic(BaseModel):
    id: int
    status: JobStatus
    progress: float
    target: str
    options: dict[str, Any]
    source: SourcePublic
    output: OutputPublic | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: In the reader's language (the request's Accept-Language); ``error_message_en`` is the English text.
    error_message: str | None
    error_message_en: str | None = None
    retry_count: int
    #: In the reader's language; ``notes_en`` in English.
    notes: list[str]
    notes_en: list[str] = Field(default_factory=list)
    #: Estimated seconds until a processing job is done; None for other statuses or while unknown.
    eta_seconds: int | None = None

    @classmethod
    def of(cls, job: JobRecord | JobListing, *, language: str = "en", now: datetime | None = None) -> JobPublic:
        eta = None
        if job.status is JobStatus.PROCESSING:
            eta = eta_seconds(job.progress, job.started_at, now or datetime.now(UTC))
        error, notes = job.error, job.messages
        return cls(
            id=job.id,
            status=job.status,
            progress=round(job.progress, 1),
            target=job.target,
            options=dict(job.options or {}),
            source=SourcePublic(file_id=job.file_id, path=job.source_path, name=posixpath.basename(job.source_path)),
            output=(
                OutputPublic(file_id=job.output_file_id, path=job.output_path, name=posixpath.basename(job.output_path))
                if job.output_path
                else None
            ),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            error_message=error.render(language) if error is not None else None,
            error_message_en=job.error_message,
            retry_count=job.retry_count,
            notes=[note.render(language) for note in notes],
            notes_en=[str(note) for note in notes],
            eta_seconds=eta,
        )


class JobList(BaseModel):
    items: list[JobPublic]
    total: int
    limit: int
    offset: int


class JobCreate(BaseModel):
    """A job for one file, named by its Nextcloud file id or by its path in the caller's files."""

    model_config = ConfigDict(extra="forbid")

    file_id: int | None = Field(None, gt=0)
    path: str | None = Field(None, min_length=1, max_length=4096)
    target: str = Field(min_length=1, max_length=32)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> JobCreate:
        if (self.file_id is None) == (self.path is None):
            raise ValueError("give exactly one of 'file_id' or 'path'")
        return self


class ActionFile(BaseModel):
    """One entry of the Files app's v2 action payload (only the fields we use; the rest is ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    file_id: int = Field(alias="fileId")
    name: str
    directory: str = "/"
    etag: str | None = None
    mime: str = ""
    file_type: str = Field("file", alias="fileType")
    size: int = 0


class ActionPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    files: list[ActionFile] = Field(min_length=1, max_length=10000)


class CreatedJob(BaseModel):
    job_id: int
    file_id: int
    name: str

    @classmethod
    def of(cls, job: JobRecord) -> CreatedJob:
        return cls(job_id=job.id, file_id=job.file_id, name=posixpath.basename(job.source_path))


class SkippedFile(BaseModel):
    file_id: int | None
    name: str | None  # None when the id names no file the caller can see
    reason: str  # a sentence in the caller's language


class ActionResult(BaseModel):
    jobs: list[CreatedJob]
    skipped: list[SkippedFile]


class MediaPublic(BaseModel):
    """What ffprobe saw: duration in seconds, the main streams' codecs, the picture size as displayed."""

    duration: float | None
    video_codec: str | None
    audio_codec: str | None
    width: int | None
    height: int | None


class TargetChoicePublic(BaseModel):
    fast_copy: bool
    output_name: str


class FilePublic(BaseModel):
    file_id: int
    name: str
    path: str
    size: int
    mime: str
    media: MediaPublic | None  # None when the file's details could not be read
    targets: dict[str, TargetChoicePublic]  # only the targets that can take this file


class FileList(BaseModel):
    files: list[FilePublic]
    skipped: list[SkippedFile]


class BatchCreate(BaseModel):
    """Jobs for one target and the same options for several files, by Nextcloud file id."""

    model_config = ConfigDict(extra="forbid")

    file_ids: list[Annotated[int, Field(gt=0)]] = Field(min_length=1, max_length=1000)
    target: str = Field(min_length=1, max_length=32)
    options: dict[str, Any] = Field(default_factory=dict)

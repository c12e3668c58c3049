"""Operator tooling: the health report, statistics and housekeeping behind the ``video-converter-fm`` CLI
(and the admin status route).

Nothing here prints or parses arguments; every report is a dataclass with ``to_dict()`` giving plain JSON
values. The job store stays the only writer of job state — these modules read through it, or with
SQLAlchemy Core selects on ``jobs.models`` tables for the few questions the store does not answer.

Public API::

    open_existing_store(url) -> (JobStore, SchemaInfo)   never creates or migrates; SchemaMissing / DatabaseUnavailable
    collect_status(store | None, settings) -> StatusReport
    collect_stats(store, window=24h) -> StatsReport
    cleanup(store, settings, older_than=, dry_run=) -> CleanupResult
    parse_age("7d" | "12h" | "30m" | "7") -> timedelta
    heartbeat_window(settings) -> timedelta            the "worker alive" rule
"""

from .cleanup import CleanupResult, cleanup, orphaned_scratch_dirs, parse_age, retention, scratch_job_dirs
from .database import (
    SCHEMA_MISSING_MESSAGE,
    DatabaseUnavailable,
    SchemaInfo,
    SchemaMissing,
    inspect_schema,
    open_existing_store,
    redact_url,
)
from .stats import ErrorCount, StatsReport, TargetDurations, collect_stats
from .status import (
    DatabaseStatus,
    FfmpegStatus,
    ProcessingJob,
    QueueStatus,
    ScratchStatus,
    StatusReport,
    WorkerStatus,
    collect_status,
    ffmpeg_status,
    heartbeat_window,
    scratch_status,
)

__all__ = [
    "SCHEMA_MISSING_MESSAGE",
    "CleanupResult",
    "DatabaseStatus",
    "DatabaseUnavailable",
    "ErrorCount",
    "FfmpegStatus",
    "ProcessingJob",
    "QueueStatus",
    "SchemaInfo",
    "SchemaMissing",
    "ScratchStatus",
    "StatsReport",
    "StatusReport",
    "TargetDurations",
    "WorkerStatus",
    "cleanup",
    "collect_stats",
    "collect_status",
    "ffmpeg_status",
    "heartbeat_window",
    "inspect_schema",
    "open_existing_store",
    "orphaned_scratch_dirs",
    "parse_age",
    "redact_url",
    "retention",
    "scratch_job_dirs",
    "scratch_status",
]

"""Numbers over the job history: counts by status, conversion durations per target, recent failures.

Durations are ``finished_at − started_at`` of completed jobs, i.e. the last attempt's download + ffmpeg +
upload; they are computed in Python (SQLite has no percentile function) over the jobs the table still holds,
which the retention keeps bounded. p95 uses the nearest-rank method.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ..jobs import JobStatus, JobStore
from ..jobs.models import jobs_table, utc_now
from ._json import jsonable

J = jobs_table.c

#: Shown for a failed job without an error message.
NO_MESSAGE = "(no message)"


@dataclass(frozen=True, slots=True)
class TargetDurations:
    target: str
    completed: int
    mean_seconds: float
    p95_seconds: float


@dataclass(frozen=True, slots=True)
class ErrorCount:
    message: str
    count: int


@dataclass(frozen=True, slots=True)
class StatsReport:
    generated_at: datetime
    #: Jobs per status, every status present.
    counts: dict[str, int]
    total: int
    #: One entry per target with at least one completed job, by target name.
    durations: list[TargetDurations]
    #: The recent window the next three fields cover: jobs that *finished* within it.
    window_seconds: float
    recent_completed: int
    recent_failed: int
    #: The most common error messages of the recent failures, most frequent first.
    top_errors: list[ErrorCount]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = jsonable(self)
        return data


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of non-empty ``values`` (``fraction`` in 0–1)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


async def collect_stats(
    store: JobStore,
    *,
    now: datetime | None = None,
    window: timedelta = timedelta(hours=24),
    top_errors: int = 5,
) -> StatsReport:
    """Count, time and summarise the jobs in ``store``; "recent" means finished within ``window`` of ``now``."""
    now = now or utc_now()
    since = now - window
    counts = await store.count_by_status()
    completed = J.status == JobStatus.COMPLETED.value
    failed = J.status == JobStatus.FAILED.value
    timed = select(J.target, J.started_at, J.finished_at).where(
        completed, J.started_at.is_not(None), J.finished_at.is_not(None)
    )
    recent = select(J.status, func.count()).where(J.finished_at >= since, completed | failed).group_by(J.status)
    errors = (
        select(J.error_message, func.count().label("n"))
        .where(failed, J.finished_at >= since)
        .group_by(J.error_message)
        .order_by(func.count().desc(), J.error_message)
        .limit(top_errors)
    )
    per_target: dict[str, list[float]] = defaultdict(list)
    async with store.engine.connect() as conn:
        for target, started, finished in await conn.execute(timed):
            per_target[target].append(max(0.0, (finished - started).total_seconds()))
        recent_counts = {status: n for status, n in await conn.execute(recent)}
        top = [ErrorCount(message or NO_MESSAGE, n) for message, n in await conn.execute(errors)]
    return StatsReport(
        generated_at=now,
        counts={status.value: n for status, n in counts.items()},
        total=sum(counts.values()),
        durations=[
            TargetDurations(
                target=target,
                completed=len(values),
                mean_seconds=round(sum(values) / len(values), 3),
                p95_seconds=round(percentile(values, 0.95), 3),
            )
            for target, values in sorted(per_target.items())
        ],
        window_seconds=window.total_seconds(),
        recent_completed=recent_counts.get(JobStatus.COMPLETED.value, 0),
        recent_failed=recent_counts.get(JobStatus.FAILED.value, 0),
        top_errors=top,
    )

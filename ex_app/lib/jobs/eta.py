"""How long a running job still needs, estimated from how far it got and how long that took."""

from __future__ import annotations

from datetime import datetime

#: Below this much progress the rate is mostly start-up cost (download, probing, ffmpeg warming up), and an
#: estimate from it swings wildly; the page shows "estimating…" instead.
MIN_PROGRESS = 1.0
#: Likewise for the first seconds after the job started.
MIN_ELAPSED_SECONDS = 2.0


def eta_seconds(progress: float, started_at: datetime | None, now: datetime) -> int | None:
    """Seconds left for a job that started at ``started_at`` and is ``progress`` percent (0–100) done at ``now``.

    A straight-line extrapolation: the rest takes as long per percent as the part done so far. ``None`` when
    there is nothing to extrapolate from yet (not started, under :data:`MIN_PROGRESS` percent or
    :data:`MIN_ELAPSED_SECONDS` in, or a clock that runs backwards); 0 once progress reaches 100.
    """
    if started_at is None:
        return None
    if progress >= 100:
        return 0
    elapsed = (now - started_at).total_seconds()
    if progress < MIN_PROGRESS or elapsed < MIN_ELAPSED_SECONDS:
        return None
    return round(elapsed * (100 - progress) / progress)

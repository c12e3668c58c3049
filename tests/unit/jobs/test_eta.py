"""The estimated time left of a running job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ex_app.lib.jobs.eta import eta_seconds

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("progress", "elapsed", "left"),
    [
        (50.0, 60, 60),  # half done in a minute: another minute
        (25.0, 60, 180),
        (10.0, 30, 270),
        (99.5, 199, 1),
        (1.0, 10, 990),
        (100.0, 60, 0),
        (120.0, 60, 0),  # a progress over 100 is "done", not a negative time
    ],
)
def test_the_rest_takes_as_long_per_percent_as_the_part_done(progress: float, elapsed: int, left: int) -> None:
    assert eta_seconds(progress, T0, T0 + timedelta(seconds=elapsed)) == left


@pytest.mark.parametrize(
    ("progress", "started_at", "now"),
    [
        (40.0, None, T0),  # not started
        (0.0, T0, T0 + timedelta(minutes=5)),  # no progress yet
        (0.5, T0, T0 + timedelta(minutes=5)),  # too little to extrapolate from
        (30.0, T0, T0 + timedelta(seconds=1)),  # too early
        (30.0, T0, T0 - timedelta(seconds=30)),  # clock went backwards
    ],
)
def test_unknown_when_there_is_nothing_to_extrapolate_from(
    progress: float, started_at: datetime | None, now: datetime
) -> None:
    assert eta_seconds(progress, started_at, now) is None


def test_the_estimate_shrinks_as_a_steady_job_advances() -> None:
    # 1 % per second: at every point the estimate is the true time left.
    for second in range(5, 100, 7):
        assert eta_seconds(float(second), T0, T0 + timedelta(seconds=second)) == 100 - second

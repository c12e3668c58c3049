"""Nextcloud outages, the pure parts: health, probe backoff, the retry decision against the budget, mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import niquests
import pytest
from nc_py_api import NextcloudException

from ex_app.lib.errors import NextcloudOutage, NextcloudUnavailable, SourceGone
from ex_app.lib.nextcloud import mapped_errors
from ex_app.lib.worker.health import NextcloudHealth, over_budget, probe_delay
from ex_app.lib.worker.retry import WAITING_FOR_NEXTCLOUD, RetryPolicy, outage_message

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_delay=10, max_delay=25)
BUDGET = timedelta(hours=6)


def test_probes_back_off_exponentially_up_to_the_cap():
    assert [probe_delay(n, 2, 60) for n in range(8)] == [2, 2, 4, 8, 16, 32, 60, 60]
    assert probe_delay(10_000, 2, 60) == 60  # a week of failed probes does not overflow


def test_health_records_since_when_and_why_and_forgets_both_when_nextcloud_answers():
    health = NextcloudHealth()
    assert health.reachable
    assert health.down("connection refused", T0) is True
    assert health.down("maintenance mode", T0 + timedelta(seconds=5)) is False  # the same outage
    assert (health.unreachable_since, health.last_error, health.failed_probes) == (T0, "maintenance mode", 2)
    assert health.next_probe_in(2, 60) == 4
    assert health.outage_length(T0 + timedelta(minutes=3)) == timedelta(minutes=3)
    assert health.up() is True
    assert (health.reachable, health.last_error, health.failed_probes, health.up()) == (True, None, 0, False)


def test_an_outage_another_worker_saw_first_starts_when_it_began():
    health = NextcloudHealth()
    health.down("refused", T0, since=T0 - timedelta(minutes=10))
    assert health.unreachable_since == T0 - timedelta(minutes=10)
    later = NextcloudHealth()
    later.down("refused", T0, since=T0 + timedelta(minutes=1))  # a clock ahead cannot put it in the future
    assert later.unreachable_since == T0


def test_the_budget_is_spent_only_past_its_length():
    assert not over_budget(None, T0, BUDGET)
    assert not over_budget(T0, T0 + BUDGET, BUDGET)
    assert over_budget(T0, T0 + BUDGET + timedelta(seconds=1), BUDGET)


def test_during_an_outage_a_job_waits_without_spending_an_attempt_even_on_its_last_one():
    for retry_count in (0, 2, 10):
        decision = POLICY.decide(retry_count, NextcloudOutage("x"), outage=timedelta(minutes=3), budget=BUDGET)
        assert (decision.retry, decision.delay, decision.counted) == (True, 0.0, False)
        assert decision.message == WAITING_FOR_NEXTCLOUD


def test_past_the_budget_the_job_fails_saying_how_long_nextcloud_was_unreachable():
    decision = POLICY.decide(0, NextcloudOutage("x"), outage=BUDGET + timedelta(minutes=1), budget=BUDGET)
    assert not decision.retry
    assert decision.message == outage_message(BUDGET)
    assert "more than 6 hours" in decision.message


def test_without_a_confirmed_outage_the_old_policy_applies():
    decision = POLICY.decide(2, NextcloudOutage("Nextcloud answered 503"), outage=None, budget=BUDGET)
    assert not decision.retry and decision.message.endswith("(gave up after 3 attempts)")
    # A file that is gone is gone, outage or not.
    gone = POLICY.decide(0, SourceGone("The source file no longer exists"), outage=timedelta(1), budget=BUDGET)
    assert not gone.retry


class _Answer:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (NextcloudException(503, "Service Unavailable", response=_Answer({"X-Nextcloud-Maintenance-Mode": "1"})), True),
        (NextcloudException(502, "Bad Gateway"), True),
        (NextcloudException(504, "Gateway Timeout"), True),
        (niquests.exceptions.ConnectionError("refused"), True),
        (niquests.exceptions.ReadTimeout("slow"), True),
        (NextcloudException(500, "Internal Server Error"), False),
    ],
)
def test_errors_that_may_mean_nextcloud_is_down_are_told_apart(raised: Exception, expected: bool):
    with pytest.raises(NextcloudUnavailable) as caught, mapped_errors("uploading the result"):
        raise raised
    assert isinstance(caught.value, NextcloudOutage) is expected


def test_maintenance_mode_is_named_in_the_message():
    answer = _Answer({"X-Nextcloud-Maintenance-Mode": "1"})
    with pytest.raises(NextcloudOutage, match="maintenance mode"), mapped_errors("uploading the result"):
        raise NextcloudException(503, "Service Unavailable", response=answer)

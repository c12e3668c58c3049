from ex_app.lib.errors import MediaError, NextcloudUnavailable, ScratchFull, SourceGone, WaitingForSpace
from ex_app.lib.worker.retry import UNEXPECTED, RetryPolicy

POLICY = RetryPolicy(max_attempts=3, base_delay=10, max_delay=25)


def test_transient_errors_are_retried_with_growing_delay_capped():
    first = POLICY.decide(0, NextcloudUnavailable("Nextcloud answered 503"))
    second = POLICY.decide(1, NextcloudUnavailable("Nextcloud answered 503"))
    assert (first.retry, first.delay) == (True, 10)
    assert (second.retry, second.delay) == (True, 20)
    assert RetryPolicy(5, 10, 25).decide(3, NextcloudUnavailable("x")).delay == 25


def test_transient_errors_give_up_after_max_attempts_and_say_so():
    decision = POLICY.decide(2, NextcloudUnavailable("Nextcloud answered 503"))
    assert not decision.retry
    assert decision.message == "Nextcloud answered 503 (gave up after 3 attempts)"


def test_permanent_errors_fail_at_once_with_their_message():
    assert POLICY.decide(0, SourceGone("The source file no longer exists")).retry is False
    decision = POLICY.decide(0, MediaError("This file is not a video FFmpeg can read"))
    assert (decision.retry, decision.message) == (False, "This file is not a video FFmpeg can read")


def test_unexpected_errors_fail_without_leaking_a_traceback():
    decision = POLICY.decide(0, KeyError("boom"))
    assert (decision.retry, decision.message) == (False, UNEXPECTED)


def test_waiting_for_disk_space_is_not_an_attempt_and_never_gives_up():
    decision = POLICY.decide(2, WaitingForSpace("Waiting for free space on the converter's disk", retry_after=42))
    assert (decision.retry, decision.delay, decision.counted) == (True, 42, False)
    assert decision.message == "Waiting for free space on the converter's disk"


def test_a_full_disk_mid_job_is_a_counted_temporary_failure():
    decision = POLICY.decide(0, ScratchFull("The converter's disk is full"))
    assert (decision.retry, decision.counted, decision.message) == (True, True, "The converter's disk is full")
    assert POLICY.decide(2, ScratchFull("The converter's disk is full")).retry is False

"""What the worker knows about Nextcloud being up, and how patiently it asks again when it is not.

One :class:`NextcloudHealth` per worker. A job step that meets an outage-looking error (connection refused or
reset, a timeout, 502–504, maintenance mode) makes the worker probe Nextcloud once; if the probe fails too,
Nextcloud is *down*: the worker stops claiming, hands the job back without spending an attempt, and probes
with capped exponential backoff (:func:`probe_delay`) until Nextcloud answers — then claiming resumes at once.
Only an outage longer than the admin's budget fails jobs (:func:`over_budget`). The state is written with
each heartbeat so ``video-converter-fm status`` (another process) can show it. Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


def probe_delay(failed_probes: int, first: float, cap: float) -> float:
    """Seconds to wait before the next probe after ``failed_probes`` failed ones: ``first``, doubling, at
    most ``cap``."""
    if failed_probes <= 0:
        return min(first, cap)
    # The exponent is bounded so that a week-long outage cannot overflow a float.
    return min(cap, first * 2 ** min(failed_probes - 1, 40))


def over_budget(unreachable_since: datetime | None, now: datetime, budget: timedelta) -> bool:
    """Whether an outage that began at ``unreachable_since`` has lasted longer than ``budget``."""
    return unreachable_since is not None and now - unreachable_since > budget


@dataclass
class NextcloudHealth:
    """Whether Nextcloud answers, since when it does not, and why."""

    unreachable_since: datetime | None = None
    last_error: str | None = None
    failed_probes: int = 0

    @property
    def reachable(self) -> bool:
        return self.unreachable_since is None

    def down(self, error: str, now: datetime, *, since: datetime | None = None) -> bool:
        """Nextcloud did not answer (``error`` says how). ``since`` backdates the start of the outage (another
        worker saw it first). True when this starts an outage."""
        self.last_error = error
        if self.unreachable_since is not None:
            self.failed_probes += 1
            return False
        self.unreachable_since = min(since, now) if since is not None else now
        self.failed_probes = 1
        return True

    def up(self) -> bool:
        """Nextcloud answered. True when this ends an outage."""
        was_down = self.unreachable_since is not None
        self.unreachable_since = None
        self.last_error = None
        self.failed_probes = 0
        return was_down

    def next_probe_in(self, first: float, cap: float) -> float:
        return probe_delay(self.failed_probes, first, cap)

    def outage_length(self, now: datetime) -> timedelta:
        return now - self.unreachable_since if self.unreachable_since is not None else timedelta(0)

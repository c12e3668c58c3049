"""What to do with a job that failed: try again later, or give up with a message a person understands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..errors import ConverterError, NextcloudUnavailable, TransientJobError, WaitingForSpace
from ..i18n import Message, _

UNEXPECTED = Message(
    _("The conversion failed because of an unexpected error; the administrator can find details in the log.")
)
#: Shown on a job handed back because Nextcloud is down; the job keeps its place and its attempts.
WAITING_FOR_NEXTCLOUD = Message(
    _("Waiting for Nextcloud, which cannot be reached at the moment; the conversion continues when it is back.")
)
#: The outage lasted longer than the admin lets jobs wait.
OUTAGE_TOO_LONG = _(
    "Nextcloud could not be reached for more than {hours} hours, so the conversion was stopped. Please try again."
)


def outage_message(budget: timedelta) -> Message:
    return Message(OUTAGE_TOO_LONG, hours=f"{budget.total_seconds() / 3600:g}")


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float
    message: str
    counted: bool = True
    """Whether this try counts as an attempt (waiting for disk space, or for Nextcloud during an outage, does
    not)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures are retried with exponential backoff until ``max_attempts``; the rest fail at once."""

    max_attempts: int = 3
    base_delay: float = 10.0
    max_delay: float = 3600.0

    def decide(
        self,
        retry_count: int,
        error: BaseException,
        *,
        outage: timedelta | None = None,
        budget: timedelta = timedelta(hours=6),
    ) -> Decision:
        """``outage``: how long Nextcloud has been down, when a probe confirmed it is (``None``: it is up).

        A Nextcloud error during a confirmed outage hands the job back at once without spending an attempt,
        until the outage has lasted longer than ``budget``; then the job fails saying so.
        """
        if outage is not None and isinstance(error, NextcloudUnavailable):
            if outage > budget:
                return Decision(retry=False, delay=0.0, message=outage_message(budget))
            return Decision(retry=True, delay=0.0, message=WAITING_FOR_NEXTCLOUD, counted=False)
        message = error.user_message if isinstance(error, ConverterError) else UNEXPECTED
        if isinstance(error, WaitingForSpace):
            # Nothing went wrong with the job; it waits its turn, however often, while smaller jobs run.
            return Decision(retry=True, delay=error.retry_after, message=message, counted=False)
        if isinstance(error, TransientJobError) and retry_count + 1 < self.max_attempts:
            delay = min(self.max_delay, self.base_delay * 2**retry_count)
            return Decision(retry=True, delay=delay, message=message)
        if isinstance(error, TransientJobError):
            message = Message(_("{reason} (gave up after {count} attempts)"), reason=message, count=retry_count + 1)
        return Decision(retry=False, delay=0.0, message=message)

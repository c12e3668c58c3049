"""What to do with a job that failed: try again later, or give up with a message a person understands."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConverterError, TransientJobError, WaitingForSpace
from ..i18n import Message, _

UNEXPECTED = Message(
    _("The conversion failed because of an unexpected error; the administrator can find details in the log.")
)


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float
    message: str
    counted: bool = True
    """Whether this try counts as an attempt (waiting for disk space does not)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Transient failures are retried with exponential backoff until ``max_attempts``; the rest fail at once."""

    max_attempts: int = 3
    base_delay: float = 10.0
    max_delay: float = 3600.0

    def decide(self, retry_count: int, error: BaseException) -> Decision:
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

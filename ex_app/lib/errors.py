"""The one exception tree of video_converter_fm.

Everything that talks to the outside (Nextcloud, ffmpeg, the database) maps its library's exceptions to
these at its boundary (`raise SourceGone(...) from exc`), so the worker and the routes reason about *our*
failures, never about niquests, nc_py_api or asyncio ones::

    ConverterError                      base; ``user_message`` is safe to show a person
    ├── InvalidRequest                  bad input from a caller → HTTP 4xx (``status_code``)
    │   ├── NotFound                    no such job / not yours → 404
    │   ├── Conflict                    the job is in a state that forbids this → 409
    │   ├── NotOffered                  the admin turned this conversion off → 403
    │   ├── TooLarge                    the file is over the admin's size limit → 413
    │   └── LimitReached                the user has as many unfinished jobs as allowed → 429
    ├── JobError                        the conversion of one job failed
    │   ├── PermanentJobError           retrying cannot help → job ``failed`` at once
    │   │   ├── SourceGone              the source file no longer exists
    │   │   ├── PermissionDenied        Nextcloud refused to read or write (403)
    │   │   ├── MediaError              ffmpeg/ffprobe could not decode or encode (carries the stderr tail)
    │   │   ├── UnsupportedInput        no usable stream for the target (e.g. audio-only → MP4)
    │   │   └── QuotaExceeded           the user's Nextcloud storage is full (507 on upload): no retry loop
    │   └── TransientJobError           may work later → retried with backoff
    │       ├── NextcloudUnavailable    5xx, timeouts, connection errors
    │       │   └── NextcloudOutage     unreachable, 502–504 or maintenance mode: maybe all of Nextcloud is down
    │       ├── ScratchFull             the converter's own disk filled up (ENOSPC) mid-download or mid-encode
    │       └── WaitingForSpace         too little free scratch space to start now: back to the queue after
    │                                   ``retry_after`` seconds, without spending an attempt
    └── ConfigurationError              bad settings at startup
"""

from __future__ import annotations

import errno

from .i18n import Message, _

#: ``OSError.errno`` values meaning "the disk (or the disk quota) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
DISK_FULL = _("The converter's disk is full")
QUOTA_FULL = _("Your storage is full: there is not enough free space in your Nextcloud for the converted file")


class ConverterError(Exception):
    """Base of every error we raise on purpose."""

    def __init__(self, message: str = "", /, **params: object) -> None:
        # ``message`` is an English template marked with ``_()`` and ``params`` fill its ``{names}``; keeping
        # them apart lets the job store the message id and render it later in the reader's language.
        self.message_id = message or self.__class__.__doc__ or "error"
        self.params = params
        # A Message: its English text wherever a string is wanted, its id and params for the job store.
        self.user_message = Message(self.message_id, **params)
        super().__init__(str(self.user_message))


class InvalidRequest(ConverterError):
    """The request is not valid."""

    status_code = 400


class NotFound(InvalidRequest):
    """Not found."""

    status_code = 404


class Conflict(InvalidRequest):
    """The job's state does not allow this."""

    status_code = 409


class NotOffered(InvalidRequest):
    """Your administrator does not offer this conversion."""

    status_code = 403


class TooLarge(InvalidRequest):
    """The file is larger than allowed."""

    status_code = 413


class LimitReached(InvalidRequest):
    """Too many unfinished conversions."""

    status_code = 429


class JobError(ConverterError):
    """A conversion job failed."""


class PermanentJobError(JobError):
    """A job failure that retrying cannot fix."""


class SourceGone(PermanentJobError):
    """The source file no longer exists."""


class PermissionDenied(PermanentJobError):
    """Nextcloud did not allow this."""


class MediaError(PermanentJobError):
    """FFmpeg could not convert this file."""

    def __init__(self, message: str = "", /, stderr_tail: str = "", **params: object) -> None:
        super().__init__(message, **params)
        self.stderr_tail = stderr_tail


class UnsupportedInput(PermanentJobError):
    """The file has nothing this target can use."""


class QuotaExceeded(PermanentJobError):
    """Your storage is full."""


class TransientJobError(JobError):
    """A failure that may go away when retried."""


class NextcloudUnavailable(TransientJobError):
    """Nextcloud could not be reached or answered with a server error."""


class ScratchFull(TransientJobError):
    """The converter's disk is full."""

    @staticmethod
    def caused(exc: BaseException) -> bool:
        """Whether ``exc`` is a local write that failed because the disk or its quota is full."""
        return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


class WaitingForSpace(TransientJobError):
    """Waiting for free space on the converter's disk."""

    def __init__(self, message: str = "", /, retry_after: float = 60.0, **params: object) -> None:
        super().__init__(message, **params)
        # Not a failure of the job: the worker puts it back in the queue without counting an attempt.
        self.retry_after = retry_after


class NextcloudOutage(NextcloudUnavailable):
    """Nextcloud could not be reached at all, or is in maintenance mode.

    The worker then asks Nextcloud whether it is up (a cheap probe); if it is not, the job waits for it without
    spending an attempt (see worker/health.py).
    """


class ConfigurationError(ConverterError):
    """A setting is invalid."""

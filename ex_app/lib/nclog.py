"""Errors also go to the Nextcloud log (where admins look first), without ever holding up the ExApp.

A logging handler only appends to a bounded in-memory queue — from any thread, never blocking; a background
task sends what is queued through nc_py_api. When Nextcloud is unreachable the lines are dropped after a short
timeout (they are still in the ExApp's own log), and when the queue is full the oldest lines go first.
"""

from __future__ import annotations

import collections
import logging

import anyio
from nc_py_api import AsyncNextcloudApp
from nc_py_api.ex_app import LogLvl

from .logs import ContextFilter

_LEVELS = {logging.CRITICAL: LogLvl.FATAL, logging.ERROR: LogLvl.ERROR, logging.WARNING: LogLvl.WARNING}
# Records from the HTTP stack itself must not be forwarded: sending them could fail and log again, forever.
_NOT_FORWARDED = ("nc_py_api", "niquests", "urllib3", "httpx", "httpcore")


class NextcloudLogHandler(logging.Handler):
    """Queues ERROR (and worse) records for :func:`forward_to_nextcloud`."""

    def __init__(self, capacity: int = 200, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.queue: collections.deque[tuple[LogLvl, str]] = collections.deque(maxlen=capacity)
        self.addFilter(ContextFilter())  # job id and user, as on the console
        self.setFormatter(logging.Formatter("%(name)s%(context)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_NOT_FORWARDED):
            return
        try:
            self.queue.append((_LEVELS.get(record.levelno, LogLvl.ERROR), self.format(record)))
        except Exception:
            self.handleError(record)


async def forward_to_nextcloud(handler: NextcloudLogHandler, interval: float = 1.0) -> None:
    """Send queued records to Nextcloud's log, forever; each send gives up after a few seconds."""
    nc: AsyncNextcloudApp | None = None
    while True:
        await anyio.sleep(interval)
        while handler.queue:
            level, message = handler.queue.popleft()
            try:
                nc = nc or AsyncNextcloudApp()
                with anyio.fail_after(5):
                    await nc.log(level, message)
            except Exception:
                nc = None  # unreachable or not registered yet: drop this line, try the next one later
                break


def install(level: int = logging.ERROR) -> NextcloudLogHandler:
    """Attach the handler to the root logger (once) and return it."""
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing, NextcloudLogHandler):
            return existing
    handler = NextcloudLogHandler(level=level)
    root.addHandler(handler)
    return handler

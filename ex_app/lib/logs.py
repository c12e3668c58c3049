"""One logging setup for the whole ExApp.

Every line carries the job id and the user when there is one: the worker sets them in context variables for
the duration of a job, so code deep inside the pipeline logs without passing them around.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_job_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("vcfm_job_id", default=None)
_user_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("vcfm_user_id", default=None)
# One per process (not a context variable): with several replicas, every line says which one wrote it.
_replica: str | None = None

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class ContextFilter(logging.Filter):
    """Adds ``record.context`` (`` [worker=host-1 job=12 user=alice]``, or empty) for the format string."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = []
        if _replica is not None:
            parts.append(f"worker={_replica}")
        if (job := _job_id.get()) is not None:
            parts.append(f"job={job}")
        if (user := _user_id.get()) is not None:
            parts.append(f"user={user}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


def configure_logging(level: str) -> None:
    """Install our format and level on the root logger (idempotent: uvicorn may have configured it)."""
    root = logging.getLogger()
    root.setLevel(level)
    handler = next((h for h in root.handlers if getattr(h, "_vcfm", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._vcfm = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    # nc_py_api and niquests are chatty at DEBUG; their detail is rarely what an admin needs.
    for noisy in ("niquests", "urllib3", "urllib3_future", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def set_replica(name: str | None) -> None:
    """Name this process's worker in every log line from now on."""
    global _replica
    _replica = name


@contextlib.contextmanager
def job_context(job_id: int, user_id: str) -> Iterator[None]:
    """Tag every log line written inside the block with this job and user."""
    t1, t2 = _job_id.set(job_id), _user_id.set(user_id)
    try:
        yield
    finally:
        _job_id.reset(t1)
        _user_id.reset(t2)

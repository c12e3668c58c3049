"""The job queue: the ``jobs`` table, its status enum and the store that changes it.

``JobStore`` is the only writer of job state, used by the API routes, the worker and the ops CLI alike; it
runs on SQLite (default) or PostgreSQL. See ``store.py`` for the transitions and their guards.
"""

from .db import alembic_config, create_engine, upgrade_database
from .identity import NameLock
from .models import ACTIVE, FINISHED, Base, Job, JobStatus, Worker
from .records import JobListing, JobRecord, NewJob, OutboxRecord, WorkerRecord
from .store import JobStore

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Base",
    "Job",
    "JobListing",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "NameLock",
    "NewJob",
    "OutboxRecord",
    "Worker",
    "WorkerRecord",
    "alembic_config",
    "create_engine",
    "upgrade_database",
]

"""Settings, read once from the environment and validated at startup.

AppAPI passes the ExApp its identity through the environment (APP_ID, APP_SECRET, APP_VERSION, APP_HOST,
APP_PORT, NEXTCLOUD_URL, APP_PERSISTENT_STORAGE); nc_py_api reads those itself. Our own knobs carry the
``VCFM_`` prefix so that they can never collide with AppAPI's.
"""

from __future__ import annotations

import os
import re
import socket
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_ID = "video_converter_fm"


def _default_worker_name() -> str:
    # A container's hostname is its own and survives a restart of the container: exactly the identity a
    # restarted worker needs to recognise the jobs its killed predecessor held (see worker.Worker.run).
    name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64].strip("-.")
    return name or "worker"


def default_concurrency(cpus: int | None = None) -> int:
    """Encodes at once on a machine with ``cpus`` CPUs (this one's by default): half of them, as one ffmpeg
    spreads an encode over several threads; at most 8; and 2 from two CPUs on, because an encode has
    single-threaded stretches (probing, muxing, checking the output) that a second one fills. Downloads and
    uploads need no CPU and run beside these (the worker holds a transfer place next to each encoder)."""
    cpus = cpus or os.cpu_count() or 1
    return max(min(2, cpus), min(8, cpus // 2))


def default_ffmpeg_threads(concurrency: int, cpus: int | None = None) -> int:
    """Threads per ffmpeg: 0 (ffmpeg's own choice) up to 4 CPUs, so that a job running alone uses every core;
    above, each of the ``concurrency`` encodes its share of the CPUs (at least 2). ffmpeg's own choice is
    about 1.5 threads per core for x264, and eight encodes doing that on a 32-core machine would run 384
    threads, each with its own frame buffers."""
    cpus = cpus or os.cpu_count() or 1
    return 0 if cpus <= 4 else max(2, -(-cpus // max(1, concurrency)))


def clean_folder(value: str) -> str:
    """A folder path relative to a user's root, as ``Converted videos`` or ``Media/Converted``; ValueError if
    it is empty or leaves the user's files (``..``)."""
    parts = [part.strip() for part in value.replace("\\", "/").split("/") if part.strip()]
    if not parts:
        raise ValueError("must name a folder, e.g. 'Converted videos'")
    if any(part in (".", "..") or any(ord(ch) < 32 for ch in part) for part in parts):
        raise ValueError("must be a plain folder path inside the user's files")
    return "/".join(parts)


class Settings(BaseSettings):
    """Every setting the ExApp reads. Invalid values stop the app at startup with a clear message."""

    # env_ignore_empty: AppAPI passes info.xml's environment variables with empty defaults as "", meaning unset.
    model_config = SettingsConfigDict(env_prefix="VCFM_", extra="ignore", populate_by_name=True, env_ignore_empty=True)

    app_id: str = Field(APP_ID, validation_alias="APP_ID")
    app_host: str = Field("127.0.0.1", validation_alias="APP_HOST")
    app_port: int = Field(23000, validation_alias="APP_PORT", ge=1, le=65535)
    persistent_storage: Path = Field(
        Path("data"), validation_alias="APP_PERSISTENT_STORAGE", description="where the job database and scratch live"
    )

    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in the persistent storage")
    scratch_dir: Path | None = Field(None, description="staging for sources and outputs")
    concurrency: int = Field(default_factory=default_concurrency, ge=1, le=64, description="encodes at once per worker")
    lease_seconds: float = Field(60.0, gt=1, le=3600, description="how long a claimed job is held without renewal")
    poll_seconds: float = Field(2.0, gt=0, le=60, description="how often an idle worker looks for jobs")
    max_attempts: int = Field(3, ge=1, le=20, description="tries per job for transient failures and crashes")
    retry_backoff_seconds: float = Field(10.0, ge=0, le=3600, description="first retry delay; doubles per attempt")
    retention_days: float = Field(7.0, gt=0, description="finished jobs older than this are deleted")
    cleanup_interval_seconds: float = Field(3600.0, gt=0, description="how often old jobs and scratch are removed")
    scratch_reserve_mb: int = Field(
        100, ge=0, description="scratch space kept free beyond a job's source and expected output"
    )
    scratch_wait_seconds: float = Field(
        60.0, gt=0, le=3600, description="how long a job waits for scratch space before it looks again"
    )
    ffmpeg_path: str = Field("ffmpeg")
    ffprobe_path: str = Field("ffprobe")
    ffmpeg_threads: int = Field(
        default_factory=lambda data: default_ffmpeg_threads(data.get("concurrency") or default_concurrency()),
        ge=0,
        le=64,
        description="threads per ffmpeg, 0 lets ffmpeg choose (default: from the CPUs and the concurrency)",
    )
    ffmpeg_nice: int = Field(10, ge=0, le=19, description="added to ffmpeg's and ffprobe's CPU niceness")
    ffmpeg_memory_mb: int = Field(4096, ge=0, description="address-space limit of ffmpeg/ffprobe in MB; 0 = none")
    max_encode_minutes: int = Field(720, ge=0, description="longest run of one ffmpeg; 0 = only the derived limit")
    max_output_ratio: int = Field(10, ge=0, description="output may be this many times the source; 0 = no limit")
    min_output_mb: int = Field(256, ge=1, description="an output may always grow to this size, whatever the ratio")
    # Defaults of the admin settings form (Nextcloud admin settings override them at run time).
    max_running_per_user: int = Field(
        0, ge=0, le=1000, description="jobs of one user running at once, all workers together; 0 = half of them"
    )
    max_jobs_per_user: int = Field(0, ge=0, description="unfinished jobs a user may have; 0 = no limit")
    max_input_mb: int = Field(0, ge=0, description="largest source file in MB; 0 = no limit")
    max_input_minutes: int = Field(0, ge=0, description="longest source in minutes; 0 = no limit")
    targets: str = Field("", description="comma-separated target ids offered; empty = all")
    quick_targets: str = Field(
        "", description="comma-separated target ids that also get their own Files menu entry; empty = none"
    )
    local_worker: bool = Field(True, description="run a worker in the ExApp process; false = only replicas convert")
    worker_name: str = Field(
        default_factory=_default_worker_name,
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="stable name of this worker process, unique among the replicas (default: the hostname)",
    )
    fallback_folder: str = Field(
        "Converted videos",
        description="folder in the user's files for results whose source folder takes no new files (read-only share)",
    )
    # A Nextcloud outage (unreachable, maintenance mode) spends no attempts: jobs wait, up to this long.
    outage_budget_hours: float = Field(
        6.0, ge=1, le=24 * 30, description="how long jobs wait for an unreachable Nextcloud before failing"
    )
    outage_probe_seconds: float = Field(2.0, gt=0, le=600, description="first wait between probes of a down Nextcloud")
    outage_probe_max_seconds: float = Field(60.0, gt=0, le=3600, description="longest wait between those probes")
    settings_refresh_seconds: float = Field(
        10.0, gt=0, le=3600, description="while busy: admin settings older than this are re-read before use"
    )
    settings_idle_refresh_seconds: float = Field(
        300.0, gt=0, le=86400, description="while idle: how often admin settings are re-read"
    )
    log_level: str = Field("INFO")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @field_validator("fallback_folder")
    @classmethod
    def _folder_path(cls, value: str) -> str:
        return clean_folder(value)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Admins write the URL they know; we pick the async driver for them.
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("only SQLite (sqlite:///path) and PostgreSQL (postgresql://…) are supported")
        return value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if self.scratch_dir is None:
            self.scratch_dir = self.persistent_storage / "scratch"
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.persistent_storage / 'jobs.sqlite').resolve()}"
        return self

    @property
    def scratch(self) -> Path:
        assert self.scratch_dir is not None  # set by _derive_paths
        return self.scratch_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own ``Settings(...)`` instead)."""
    return Settings()

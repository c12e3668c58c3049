from pathlib import Path

import pytest
from pydantic import ValidationError

from ex_app.lib.settings import Settings, default_concurrency, default_ffmpeg_threads


def test_default_database_is_sqlite_in_the_persistent_storage(tmp_path):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/jobs.sqlite"
    assert settings.scratch == tmp_path / "scratch"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://u@db/jobs", "postgresql+asyncpg://u@db/jobs"),
        ("postgresql://u@db/jobs", "postgresql+asyncpg://u@db/jobs"),
        ("sqlite:////var/jobs.db", "sqlite+aiosqlite:////var/jobs.db"),
    ],
)
def test_admins_write_plain_database_urls_and_get_the_async_driver(given, used):
    assert Settings(database_url=given).database_url == used


@pytest.mark.parametrize(
    "bad",
    [{"database_url": "mysql://x"}, {"concurrency": 0}, {"log_level": "LOUD"}, {"lease_seconds": 0}],
)
def test_invalid_settings_are_refused_at_startup(bad):
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VCFM_CONCURRENCY", "3")
    monkeypatch.setenv("APP_PERSISTENT_STORAGE", str(tmp_path))
    settings = Settings()
    assert settings.concurrency == 3 and settings.persistent_storage == tmp_path


@pytest.mark.parametrize(
    ("cpus", "concurrency", "threads"),
    [(1, 1, 0), (2, 2, 0), (4, 2, 0), (8, 4, 2), (16, 8, 2), (32, 8, 4), (64, 8, 8)],
)
def test_encodes_at_once_and_ffmpeg_threads_follow_the_cpus(cpus: int, concurrency: int, threads: int):
    assert default_concurrency(cpus) == concurrency
    assert default_ffmpeg_threads(concurrency, cpus) == threads


def test_the_default_ffmpeg_threads_follow_a_concurrency_set_by_the_environment(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("APP_PERSISTENT_STORAGE", str(tmp_path))
    monkeypatch.setenv("VCFM_CONCURRENCY", "3")
    assert Settings().ffmpeg_threads == default_ffmpeg_threads(3)
    monkeypatch.setenv("VCFM_FFMPEG_THREADS", "5")
    assert Settings().ffmpeg_threads == 5

import pytest
from pydantic import ValidationError

from ex_app.lib.settings import Settings


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

"""The admin status and ``video-converter-fm status`` say since when Nextcloud is unreachable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ex_app.lib.cli import _status_text
from ex_app.lib.jobs import JobStore
from ex_app.lib.ops import collect_status
from ex_app.lib.settings import Settings

pytestmark = pytest.mark.anyio


async def test_a_live_worker_finding_nextcloud_down_is_reported_with_since_when(tmp_path: Path):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    async with await JobStore.open(settings.database_url) as store:
        await store.beat(
            "w1", "host", 1, 0, nextcloud_unreachable_since=since, nextcloud_error="Nextcloud is in maintenance mode"
        )
        await store.beat("w2", "host", 2, 0, nextcloud_unreachable_since=since + timedelta(minutes=1))
        await store.queue_notification("alice", "s", "m")
        report = await collect_status(store, settings)

    expected = f"Nextcloud unreachable since {since:%Y-%m-%d %H:%M:%S} UTC"
    data = report.to_dict()
    assert data["nextcloud"]["reachable"] is False
    assert data["nextcloud"]["summary"].startswith(expected)
    assert data["nextcloud"]["notifications_waiting"] == 1
    assert any(problem.startswith(expected) for problem in data["problems"])
    text = _status_text(report)
    assert expected in text and "1 notification(s) waiting to be sent" in text


async def test_nextcloud_answering_is_no_problem(tmp_path: Path):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    async with await JobStore.open(settings.database_url) as store:
        await store.beat("w1", "host", 1, 0)
        report = await collect_status(store, settings)
    assert report.to_dict()["nextcloud"]["summary"] == "Nextcloud answers"
    assert not any("Nextcloud" in problem for problem in report.problems)

"""Several ExApp replicas sharing one PostgreSQL queue: every job is done exactly once, by whichever is free."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.media import make_video
from tests.postgres import PostgresServer, run_in_own_loop

from .conftest import FAST_ENV
from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, new_folder, trigger, wait_job

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def replicas(
    nextcloud: NextcloudTarget,
    exapp: ExAppProcess,
    exapp_factory: Callable[..., ExAppProcess],
    pg_server: PostgresServer,
) -> Iterator[tuple[ExAppProcess, ExAppProcess]]:
    """Two ExApp processes on one PostgreSQL database; the first is the one AppAPI knows."""
    url = run_in_own_loop(pg_server.create_database)
    # One user's jobs may take both replicas' places: the default per-user cap (half of all places) would run
    # them one at a time, and this fixture is about the replicas sharing work, not about fair share.
    env = {**FAST_ENV, "VCFM_DATABASE_URL": url, "VCFM_CONCURRENCY": "1", "VCFM_MAX_RUNNING_PER_USER": "2"}
    first, second = exapp_factory(**env), exapp_factory(**env)
    second.secret = first.secret  # one app, one secret: the second replica speaks for the same ExApp
    first.start()
    first.register()
    second.start()
    try:
        yield first, second
    finally:
        first.unregister()
        second.stop()
        first.stop()
        exapp.register()  # give the session's ExApp its registration back


def test_replicas_share_the_queue_and_each_job_is_done_once(
    nextcloud: NextcloudTarget, replicas: tuple[ExAppProcess, ExAppProcess], tmp_path: Path
):
    first, second = replicas
    folder = new_folder(nextcloud, "alice")
    clip = make_video(tmp_path / "clip.mp4", seconds=3)
    names = [f"v{n}.mp4" for n in range(8)]
    for name in names:
        nextcloud.upload("alice", f"{folder}/{name}", clip)

    created = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/{n}") for n in names])

    for job in created["jobs"]:
        assert wait_job(nextcloud, "alice", job["job_id"], timeout=180)["status"] == "completed"
    outputs = sorted(n for n in nextcloud.listdir("alice", folder) if n.endswith(".webm"))
    assert outputs == sorted(n.replace(".mp4", ".webm") for n in names)  # no "(1)" twins: nothing ran twice
    processed = [log.count("Processing job #") for log in (first.log(), second.log())]
    assert sum(processed) == len(names)
    assert all(count > 0 for count in processed), processed

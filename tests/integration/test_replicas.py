"""Several replicas sharing one PostgreSQL queue — ExApps, and worker-only processes (`video-converter-fm
worker`): every job is done exactly once, by whichever is free; crashes, restarts and cancels included."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ex_app.lib.admin_settings import FORM_ID
from ex_app.lib.jobs import JobStore
from ex_app.lib.ops import open_existing_store
from tests.media import make_video
from tests.postgres import PostgresServer, run_in_own_loop

from .conftest import FAST_ENV, ExAppInPlace
from .harness import ExAppProcess, NextcloudTarget
from .jobs_helpers import action_entry, get_job, new_folder, trigger, wait_job
from .worker_process import WorkerProcess, run_worker_once

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def replicas(
    in_place_of_the_session_exapp: ExAppInPlace,
    exapp_factory: Callable[..., ExAppProcess],
    pg_server: PostgresServer,
) -> Iterator[tuple[ExAppProcess, ExAppProcess]]:
    """Two ExApp processes on one PostgreSQL database; the first is the one AppAPI knows."""
    url = run_in_own_loop(pg_server.create_database)
    # One user's jobs may take both replicas' places: the default per-user cap (half of all places) would run
    # them one at a time, and this fixture is about the replicas sharing work, not about fair share. Each
    # process holds two jobs (a transfer place beside its encoder), so four: with two, the process woken by
    # the new jobs took both, reached the cap, and took the next ones too as each of its jobs ended.
    env = {**FAST_ENV, "VCFM_DATABASE_URL": url, "VCFM_CONCURRENCY": "1", "VCFM_MAX_RUNNING_PER_USER": "4"}
    with in_place_of_the_session_exapp(**env) as first:
        second = exapp_factory(**env)
        second.secret = first.secret  # one app, one secret: the second replica speaks for the same ExApp
        second.start()
        try:
            yield first, second
        finally:
            second.stop()


def convert_copies_each_once_and_shared(
    nextcloud: NextcloudTarget, tmp_path: Path, copies: int, **processes: ExAppProcess | WorkerProcess
) -> None:
    """Upload ``copies`` copies of a 3 s clip to a new folder of alice's and convert them all to WebM: every job
    completes, none is converted twice, and each of ``processes`` (by name) did some of them, by its log."""
    folder = new_folder(nextcloud, "alice")
    clip = make_video(tmp_path / "clip.mp4", seconds=3)
    names = [f"v{n}.mp4" for n in range(copies)]
    for name in names:
        nextcloud.upload("alice", f"{folder}/{name}", clip)

    created = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/{n}") for n in names])

    for job in created["jobs"]:
        assert wait_job(nextcloud, "alice", job["job_id"], timeout=180)["status"] == "completed"
    outputs = sorted(n for n in nextcloud.listdir("alice", folder) if n.endswith(".webm"))
    assert outputs == sorted(n.replace(".mp4", ".webm") for n in names)  # no "(1)" twins: nothing ran twice
    processed = {name: process.log().count("Processing job #") for name, process in processes.items()}
    assert sum(processed.values()) == len(names) and all(processed.values()), processed


def test_replicas_share_the_queue_and_each_job_is_done_once(
    nextcloud: NextcloudTarget, replicas: tuple[ExAppProcess, ExAppProcess], tmp_path: Path
):
    first, second = replicas
    # Both workers must be claiming before the jobs arrive: the ExApp that AppAPI calls is woken by them at
    # once, and a second process still starting up (migrations, cleanup) could find the queue already empty.
    deadline = time.monotonic() + 60
    while first.direct("GET", "api/admin/status", user="admin").json().get("alive_workers") != 2:
        assert time.monotonic() < deadline, second.log()
        time.sleep(0.2)

    convert_copies_each_once_and_shared(nextcloud, tmp_path, 8, first=first, second=second)


# -- worker-only replicas (`video-converter-fm worker`) ---------------------------------------------------------

LONG_ENV = {"VCFM_CONCURRENCY": "1", "VCFM_LEASE_SECONDS": "60"}
# Every job here is alice's; fair share would otherwise let only half of all places run her jobs.
REPLICA_ENV = {**FAST_ENV, "VCFM_MAX_RUNNING_PER_USER": "10"}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that a conversion is still running when a test acts on it."""
    return make_video(tmp_path_factory.mktemp("media") / "long.mp4", seconds=30, size="640x360")


@pytest.fixture
def on_postgres(
    in_place_of_the_session_exapp: ExAppInPlace,
    pg_server: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., tuple[ExAppProcess, Callable[..., WorkerProcess]]]]:
    """``start(**exapp_env)`` → the registered ExApp on a new PostgreSQL database, and a factory of worker
    replicas for it (``make_worker(**env)``, not started)."""
    workers: list[WorkerProcess] = []
    apps = contextlib.ExitStack()

    def start(**exapp_env: str) -> tuple[ExAppProcess, Callable[..., WorkerProcess]]:
        url = run_in_own_loop(pg_server.create_database)
        app = apps.enter_context(
            in_place_of_the_session_exapp(**{**REPLICA_ENV, "VCFM_DATABASE_URL": url, **exapp_env})
        )

        def make_worker(**env: str) -> WorkerProcess:
            worker = WorkerProcess(
                app, tmp_path_factory.mktemp("worker"), **{**REPLICA_ENV, "VCFM_DATABASE_URL": url, **env}
            )
            workers.append(worker)
            return worker

        return app, make_worker

    with apps:
        try:
            yield start
        finally:
            for worker in workers:
                worker.kill()


def scratch_of(worker: WorkerProcess, job_id: int) -> list[Path]:
    """The job's scratch folders in the worker's storage (``job-<id>-<token>``, one per attempt)."""
    return sorted((worker.storage / "scratch").glob(f"job-{job_id}-*"))


def wait_held_by(url: str, job_id: int, prefix: str, timeout: float = 60) -> None:
    """Until the job is processing under a lease of a worker whose id starts with ``prefix``."""

    async def owner() -> tuple[str, str | None, float]:
        store, _ = await open_existing_store(url)
        async with store:
            job = await store.get(job_id)
        return job.status.value, job.lease_owner, job.progress

    deadline = time.monotonic() + timeout
    while True:
        status, lease_owner, progress = run_in_own_loop(owner)
        if status == "processing" and (lease_owner or "").startswith(prefix) and progress > 0:
            return
        assert status in {"pending", "processing"}, (status, lease_owner)
        assert time.monotonic() < deadline, f"job {job_id} not running on {prefix}: {status} {lease_owner}"
        time.sleep(0.2)


def test_a_worker_only_replica_converts_beside_the_exapp_and_stops_a_job_cancelled_through_the_api(
    nextcloud: NextcloudTarget, on_postgres, long_clip: Path, tmp_path: Path
):
    app, make_worker = on_postgres(VCFM_CONCURRENCY="1")
    # Idle, a worker re-reads the admin settings every VCFM_SETTINGS_IDLE_REFRESH_SECONDS (5 minutes by default).
    replica = make_worker(
        VCFM_WORKER_NAME="replica-1", VCFM_CONCURRENCY="1", VCFM_SETTINGS_IDLE_REFRESH_SECONDS="1"
    ).start()

    convert_copies_each_once_and_shared(nextcloud, tmp_path, 6, exapp=app, replica=replica)
    assert "[worker=replica-1 job=" in replica.log()  # the replica's lines say which replica did it
    # The ExApp's admin status sees both workers by their heartbeats.
    status = app.direct("GET", "api/admin/status", user="admin").json()
    assert any(w["worker_id"].startswith("replica-1/") and w["alive"] for w in status["workers"]), status["workers"]
    assert status["alive_workers"] == 2, status["workers"]

    # A long job on the worker-only process, cancelled through the ExApp's API. The ExApp stops converting for
    # this part: a worker holds a transfer place beside each encoder, so with its own worker on, the ExApp could
    # claim the long job first and leave the replica nothing to cancel.
    app.restart(VCFM_LOCAL_WORKER="false")
    long_folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{long_folder}/a.mp4", long_clip)
    entries = [action_entry(nextcloud, "alice", f"{long_folder}/a.mp4")]
    (on_replica,) = [job["job_id"] for job in trigger(nextcloud, "alice", "webm", entries)["jobs"]]
    wait_held_by(app.extra_env["VCFM_DATABASE_URL"], on_replica, "replica-1/", timeout=60)
    deadline = time.monotonic() + 60
    while not replica.ffmpeg_children():
        assert time.monotonic() < deadline, "ffmpeg should be running on the replica\n" + replica.log()
        time.sleep(0.2)

    response = nextcloud.proxy("alice", "POST", f"api/jobs/{on_replica}/cancel")

    assert response.status_code == 200 and response.json()["status"] == "cancelled", response.text
    deadline = time.monotonic() + 10
    while replica.ffmpeg_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert replica.ffmpeg_children() == []
    time.sleep(1.5)  # give a wrongly-continuing worker the chance to upload something
    assert nextcloud.listdir("alice", long_folder) == ["a.mp4"]
    assert f"Job #{on_replica} stopped: it was cancelled" in replica.log()
    assert scratch_of(replica, on_replica) == []

    # The admin settings saved in Nextcloud reach the worker-only process too.
    nextcloud.set_admin_setting(FORM_ID, "concurrency", 3)
    try:
        deadline = time.monotonic() + 20
        while "Now converting up to 3 videos at once" not in replica.log():
            assert time.monotonic() < deadline, replica.log()
            time.sleep(0.2)
    finally:
        nextcloud.set_admin_setting(FORM_ID, "concurrency", "")
    assert replica.stop() == 0


def test_a_killed_replica_restarted_under_its_name_takes_its_job_back_at_once(
    nextcloud: NextcloudTarget, on_postgres, long_clip: Path
):
    # The ExApp converts nothing here, and the leases are long: only the fast takeover can explain a quick
    # recovery.
    app, make_worker = on_postgres(VCFM_LOCAL_WORKER="false", **LONG_ENV)
    replica = make_worker(VCFM_WORKER_NAME="replica-a", **LONG_ENV).start()
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/long.mp4", long_clip)
    job_id = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/long.mp4")])["jobs"][0][
        "job_id"
    ]
    url = app.extra_env["VCFM_DATABASE_URL"]
    wait_held_by(url, job_id, "replica-a/")
    dead_attempt = scratch_of(replica, job_id)
    assert len(dead_attempt) == 1 and dead_attempt[0].is_dir()

    replica.kill()  # kill -9, ffmpeg included
    assert dead_attempt[0].is_dir()  # the dead attempt's files are left behind
    killed_at = time.monotonic()
    replica.start()

    # Taken back and running again long before the 60 s lease could have run out.
    running = wait_job(nextcloud, "alice", job_id, until={"processing"}, timeout=20)
    while running["retry_count"] == 0 or running["progress"] == 0:
        assert time.monotonic() - killed_at < 20, running
        time.sleep(0.2)
        running = get_job(nextcloud, "alice", job_id)
    assert f"Jobs #{job_id} were interrupted when this worker's previous run stopped" in replica.log()

    job = wait_job(nextcloud, "alice", job_id, timeout=240)
    assert job["status"] == "completed", job
    assert job["retry_count"] == 1
    assert sorted(nextcloud.listdir("alice", folder)) == ["long.mp4", "long.webm"]
    assert not dead_attempt[0].exists()
    assert scratch_of(replica, job_id) == []
    assert replica.log().count("completed successfully") == 1


def test_a_rolling_restart_of_the_replicas_loses_no_job_and_converts_none_twice(
    nextcloud: NextcloudTarget, on_postgres, tmp_path: Path
):
    _app, make_worker = on_postgres(VCFM_LOCAL_WORKER="false", **LONG_ENV)
    replicas = [make_worker(VCFM_WORKER_NAME=f"replica-{n}", **LONG_ENV).start() for n in (1, 2)]
    folder = new_folder(nextcloud, "alice")
    clip = make_video(tmp_path / "clip.mp4", seconds=12, size="640x360")
    names = [f"r{n}.mp4" for n in range(6)]
    for name in names:
        nextcloud.upload("alice", f"{folder}/{name}", clip)
    created = trigger(nextcloud, "alice", "webm", [action_entry(nextcloud, "alice", f"{folder}/{n}") for n in names])
    job_ids = [job["job_id"] for job in created["jobs"]]

    for replica in replicas:  # one after the other, each while it converts
        deadline = time.monotonic() + 60
        while not replica.ffmpeg_children():
            assert time.monotonic() < deadline, replica.log()
            time.sleep(0.1)
        assert replica.stop() == 0  # SIGTERM: the running job goes back to the queue
        assert "handed back to the queue (shutting down)" in replica.log()
        replica.start()

    jobs = [wait_job(nextcloud, "alice", job_id, timeout=300) for job_id in job_ids]
    assert [job["status"] for job in jobs] == ["completed"] * len(names), jobs
    assert [job["retry_count"] for job in jobs] == [0] * len(names)  # handed back, not counted as a failure
    outputs = sorted(n for n in nextcloud.listdir("alice", folder) if n.endswith(".webm"))
    assert outputs == sorted(n.replace(".mp4", ".webm") for n in names)  # no "(1)" twin: none converted twice
    assert sum(r.log().count("completed successfully") for r in replicas) == len(names)


# -- start checks -------------------------------------------------------------------------------------------------


def test_a_worker_with_a_wrong_secret_or_an_unreachable_database_or_nextcloud_fails_at_start(
    nextcloud: NextcloudTarget, exapp: ExAppProcess, pg_server: PostgresServer, tmp_path: Path
):
    url = run_in_own_loop(pg_server.create_database)
    run_in_own_loop(_migrate, url)
    base = {**WorkerProcess(exapp, tmp_path).env(), "VCFM_DATABASE_URL": url}

    cases = {
        "wrong secret": (
            {"APP_SECRET": "not-the-secret"},
            5,
            "refused the app's credentials (401): APP_SECRET is wrong",
        ),
        "database down": (
            {"VCFM_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"},
            3,
            "the job database cannot be used: database unreachable (postgresql+asyncpg://postgres@127.0.0.1:1/nothing)",
        ),
        "nextcloud down": (
            {"NEXTCLOUD_URL": "http://127.0.0.1:1"},
            5,
            "Nextcloud at http://127.0.0.1:1 is unreachable",
        ),
        "no secret": ({"APP_SECRET": ""}, 2, "APP_SECRET not set"),
    }
    for case, (env, code, sentence) in cases.items():
        started = time.monotonic()
        result = run_worker_once({**base, **env})
        lines = result.stderr.strip().splitlines()
        assert result.returncode == code, (case, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("video-converter-fm: worker cannot start: "), (case, lines)
        assert sentence in lines[0], (case, lines)
        assert time.monotonic() - started < 20, case

    unmigrated = run_in_own_loop(pg_server.create_database)
    result = run_worker_once({**base, "VCFM_DATABASE_URL": unmigrated})
    assert result.returncode == 3, result.stderr
    assert "the job table does not exist yet" in result.stderr


async def _migrate(url: str) -> None:
    store = await JobStore.open(url)
    await store.close()

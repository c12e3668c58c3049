"""Every command of ``video-converter-fm`` against a real database (SQLite; PostgreSQL where marked by the
``db_url`` parametrisation), in text and JSON, with its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from ex_app.lib.jobs import JobRecord, JobStatus, JobStore
from ex_app.lib.ops import SCHEMA_MISSING_MESSAGE

from .conftest import ALIVE_WORKER, CLI, DEAD_WORKER, FAKE_FFMPEG_VERSION, SCHEMA_HEAD, Jobs, Scratch

pytestmark = pytest.mark.anyio


def _args(db_url: str, *argv: str, scratch: Path | None = None) -> list[str]:
    extra = ["--scratch-dir", str(scratch)] if scratch is not None else []
    return [*argv, "--database-url", db_url, *extra]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- status --------------------------------------------------------------------------------------------------


async def test_status_reports_workers_queue_running_jobs_ffmpeg_scratch_and_schema(
    cli: CLI, db_url: str, jobs: Jobs, scratch: Scratch
) -> None:
    run = await cli(*_args(db_url, "status", "--json", scratch=scratch.root))

    assert run.code == 0, run.err
    report = json.loads(run.out)
    workers = {w["worker_id"]: w for w in report["workers"]}
    assert workers[ALIVE_WORKER]["alive"] is True
    assert workers[DEAD_WORKER]["alive"] is False
    assert workers[DEAD_WORKER]["seconds_since_seen"] >= 3600
    assert report["alive_workers"] == 1
    assert report["heartbeat_window_seconds"] == 50.0  # 2 × (60 s lease / 3) + 10 s
    assert report["queue"] | {"oldest_ready_seconds": None, "counts": None} == {
        "pending": 2,
        "ready": 1,
        "waiting_for_retry": 1,
        "processing": 2,
        "oldest_ready_seconds": None,
        "counts": None,
    }
    assert report["queue"]["oldest_ready_seconds"] >= 10 * 86400 - 60
    assert report["queue"]["counts"] == {"pending": 2, "processing": 2, "completed": 4, "failed": 4, "cancelled": 1}
    running = {job["id"]: job for job in report["processing"]}
    assert set(running) == {jobs.processing, jobs.expired_processing}
    assert running[jobs.processing]["progress"] == 42.0
    assert running[jobs.processing]["user_id"] == "alice"
    assert running[jobs.processing]["lease_expired"] is False
    assert running[jobs.expired_processing]["lease_expired"] is True
    assert report["ffmpeg"] == {
        "path": os.environ["VCFM_FFMPEG_PATH"],
        "found": True,
        "version": FAKE_FFMPEG_VERSION,
        "error": None,
    }
    assert report["scratch"]["exists"] is True
    assert report["scratch"]["free_bytes"] > 0
    assert report["scratch"]["job_dirs"] == 6
    assert report["scratch"]["orphaned_dirs"] == 3
    assert report["database"]["reachable"] is True
    assert report["database"]["revision"] == report["database"]["head"] == SCHEMA_HEAD
    assert report["healthy"] is True
    assert any("expired lease" in problem for problem in report["problems"])


async def test_status_text_is_an_aligned_summary(cli: CLI, db_url: str, jobs: Jobs, scratch: Scratch) -> None:
    run = await cli(*_args(db_url, "status", scratch=scratch.root))

    assert run.code == 0, run.err
    assert f"schema revision {SCHEMA_HEAD} (up to date)" in run.out
    assert FAKE_FFMPEG_VERSION in run.out
    assert "2 pending (1 ready, 1 waiting for a retry delay" in run.out
    assert "Workers: 1 alive (alive = heartbeat within the last 50 s)" in run.out
    lines = run.out.splitlines()
    header = next(line for line in lines if line.startswith("WORKER"))
    alive = next(line for line in lines if line.startswith(ALIVE_WORKER))
    assert alive.index("alive") == header.index("STATE")  # columns line up
    running = next(line for line in lines if line.startswith(f"{jobs.processing} "))
    assert "alice" in running and "42%" in running


async def test_status_without_a_live_worker_exits_1(
    cli: CLI, db_url: str, store: JobStore, jobs: Jobs, scratch: Scratch
) -> None:
    await store.remove_worker(ALIVE_WORKER)

    run = await cli(*_args(db_url, "status", "--json", scratch=scratch.root))

    assert run.code == 1
    assert "no live worker" in _one_line(run.err)
    report = json.loads(run.out)  # still one JSON document: the report itself
    assert report["alive_workers"] == 0 and report["healthy"] is False


async def test_status_says_when_ffmpeg_is_not_found(
    cli: CLI, db_url: str, jobs: Jobs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VCFM_FFMPEG_PATH", str(tmp_path / "no-such-ffmpeg"))

    text = await cli(*_args(db_url, "status"))
    data = await cli(*_args(db_url, "status", "--json"))

    assert text.code == 0
    assert "no-such-ffmpeg: not found" in text.out
    assert json.loads(data.out)["ffmpeg"]["found"] is False


# -- jobs / show ---------------------------------------------------------------------------------------------


async def test_jobs_lists_the_newest_ten_by_default(cli: CLI, db_url: str, jobs: Jobs, store: JobStore) -> None:
    run = await cli(*_args(db_url, "jobs", "--json"))

    assert run.code == 0, run.err
    data = json.loads(run.out)
    expected, total = await store.list(limit=10)
    assert data["total"] == total == 13
    assert [job["id"] for job in data["jobs"]] == [job.id for job in expected]
    assert len(data["jobs"]) == 10

    text = await cli(*_args(db_url, "jobs"))
    assert text.code == 0
    assert text.out.splitlines()[0].split() == [
        "ID", "STATUS", "USER", "TARGET", "PROGRESS", "RETRIES", "CREATED", "(UTC)", "FINISHED", "(UTC)", "SOURCE"
    ]  # fmt: skip
    assert text.out.rstrip().endswith("(10 of 13 matching)")


async def test_jobs_filters_by_status_and_user(cli: CLI, db_url: str, jobs: Jobs) -> None:
    run = await cli(*_args(db_url, "jobs", "--status", "failed", "--user", "bob", "-n", "50", "--json"))

    assert run.code == 0
    data = json.loads(run.out)
    assert sorted(job["id"] for job in data["jobs"]) == [jobs.bob_failed_1, jobs.bob_failed_2]
    assert {job["status"] for job in data["jobs"]} == {"failed"}


async def test_jobs_matching_nothing_exits_1(cli: CLI, db_url: str, jobs: Jobs) -> None:
    run = await cli(*_args(db_url, "jobs", "--user", "nobody"))

    assert run.code == 1
    assert run.out.strip() == "No jobs."


async def test_show_prints_every_field(cli: CLI, db_url: str, jobs: Jobs) -> None:
    data = await cli(*_args(db_url, "--json", "show", str(jobs.waiting_retry)))
    text = await cli(*_args(db_url, "show", str(jobs.waiting_retry)))

    assert data.code == text.code == 0
    job = json.loads(data.out)
    assert set(job) == {field.name for field in fields(JobRecord)}
    assert job["status"] == "pending" and job["retry_count"] == 1
    assert job["error_message"] == "Nextcloud was unavailable"
    for field in fields(JobRecord):
        assert f"{field.name}:" in text.out


async def test_show_unknown_job_exits_4(cli: CLI, db_url: str, jobs: Jobs) -> None:
    run = await cli(*_args(db_url, "show", "99999", "--json"))

    assert run.code == 4
    assert _one_line(run.err) == "video-converter-fm: Job 99999 not found"
    assert json.loads(run.out) == {"error": "Job 99999 not found", "exit_code": 4}


# -- stats ---------------------------------------------------------------------------------------------------


async def test_stats_counts_times_and_summarises_recent_failures(cli: CLI, db_url: str, jobs: Jobs) -> None:
    run = await cli(*_args(db_url, "stats", "--json"))

    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["counts"] == {"pending": 2, "processing": 2, "completed": 4, "failed": 4, "cancelled": 1}
    assert data["total"] == 13
    assert data["durations"] == [
        {"target": "mp4", "completed": 3, "mean_seconds": 20.0, "p95_seconds": 30.0},
        {"target": "webm", "completed": 1, "mean_seconds": 60.0, "p95_seconds": 60.0},
    ]
    assert data["window_seconds"] == 86400
    assert (data["recent_completed"], data["recent_failed"]) == (2, 3)
    assert data["top_errors"] == [
        {"message": "FFmpeg could not convert this file.", "count": 2},
        {"message": "The source file no longer exists.", "count": 1},
    ]

    text = await cli(*_args(db_url, "stats"))
    assert text.code == 0
    assert "Last 24 h: 2 completed, 3 failed" in text.out
    assert any(line.split()[:3] == ["mp4", "3", "20.0s"] for line in text.out.splitlines())


# -- retry / cancel / reap -----------------------------------------------------------------------------------


async def test_retry_puts_a_failed_job_back_to_pending_with_no_attempts(
    cli: CLI, db_url: str, jobs: Jobs, store: JobStore
) -> None:
    run = await cli(*_args(db_url, "retry", str(jobs.bob_failed_1), "--json"))

    assert run.code == 0, run.err
    assert json.loads(run.out)["status"] == "pending"
    job = await store.get(jobs.bob_failed_1)
    assert (job.status, job.retry_count, job.error_message) == (JobStatus.PENDING, 0, None)

    text = await cli(*_args(db_url, "retry", str(jobs.old_failed)))
    assert (text.code, text.out.strip()) == (0, f"Job {jobs.old_failed} is pending again.")


@pytest.mark.parametrize("command", ["retry", "cancel"])
async def test_retry_and_cancel_refuse_unknown_or_wrong_status_jobs_with_4(
    cli: CLI, db_url: str, jobs: Jobs, command: str
) -> None:
    wrong_status, reason = {
        "retry": (jobs.old_pending, "is pending; only failed or cancelled jobs can be retried"),
        "cancel": (jobs.recent_completed_mp4, "is already completed"),
    }[command]

    missing = await cli(*_args(db_url, command, "99999"))
    refused = await cli(*_args(db_url, command, str(wrong_status), "--json"))

    assert missing.code == refused.code == 4
    assert _one_line(missing.err) == "video-converter-fm: Job 99999 not found"
    assert _one_line(refused.err) == f"video-converter-fm: Job {wrong_status} {reason}"
    assert json.loads(refused.out)["exit_code"] == 4


async def test_cancel_stops_a_pending_job(cli: CLI, db_url: str, jobs: Jobs, store: JobStore) -> None:
    run = await cli(*_args(db_url, "cancel", str(jobs.old_pending)))

    assert (run.code, run.out.strip()) == (0, f"Job {jobs.old_pending} is cancelled.")
    assert (await store.get(jobs.old_pending)).status is JobStatus.CANCELLED


async def test_reap_requeues_jobs_whose_lease_expired(cli: CLI, db_url: str, jobs: Jobs, store: JobStore) -> None:
    run = await cli(*_args(db_url, "reap", "--json"))

    assert run.code == 0, run.err
    assert json.loads(run.out) == {"requeued": [jobs.expired_processing], "failed": [], "max_attempts": 3}
    reaped = await store.get(jobs.expired_processing)
    assert (reaped.status, reaped.retry_count) == (JobStatus.PENDING, 1)
    assert (await store.get(jobs.processing)).status is JobStatus.PROCESSING  # its lease is alive

    again = await cli(*_args(db_url, "reap"))
    assert again.code == 0 and "Requeued 0 job(s)" in again.out


async def test_reap_fails_jobs_out_of_attempts(
    cli: CLI, db_url: str, jobs: Jobs, store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VCFM_MAX_ATTEMPTS", "1")

    run = await cli(*_args(db_url, "reap", "--json"))

    assert json.loads(run.out)["failed"] == [jobs.expired_processing]
    assert (await store.get(jobs.expired_processing)).status is JobStatus.FAILED


# -- cleanup -------------------------------------------------------------------------------------------------


def _entries(root: Path) -> set[Path]:
    return set(root.iterdir())


async def test_cleanup_removes_exactly_the_expired_finished_jobs_and_orphaned_scratch_folders(
    cli: CLI, db_url: str, jobs: Jobs, scratch: Scratch, store: JobStore
) -> None:
    run = await cli(*_args(db_url, "cleanup", "--json", scratch=scratch.root))

    assert run.code == 0, run.err
    result = json.loads(run.out)
    expired = [jobs.old_completed, jobs.old_failed, jobs.old_cancelled]  # default retention: 7 days
    assert result["deleted_job_ids"] == expired
    assert result["removed_scratch_dirs"] == [str(path) for path in scratch.orphaned]
    assert result["dry_run"] is False
    _records, total = await store.list(limit=100)
    remaining = {job.id for job in (await store.list(limit=100))[0]}
    assert remaining == set(jobs.all) - set(expired) and total == 10
    assert _entries(scratch.root) == {*scratch.kept, *scratch.unrelated}


async def test_cleanup_dry_run_changes_nothing(
    cli: CLI, db_url: str, jobs: Jobs, scratch: Scratch, store: JobStore
) -> None:
    before = _entries(scratch.root)

    run = await cli(*_args(db_url, "cleanup", "--dry-run", "--older-than", "7d", scratch=scratch.root))

    assert run.code == 0, run.err
    assert run.out.startswith("Would delete 3 job(s)")
    assert "Would remove 3 orphaned scratch folder(s)" in run.out
    assert _entries(scratch.root) == before
    assert (await store.list(limit=1))[1] == 13


@pytest.mark.parametrize(
    ("older_than", "extra"),
    [("4", []), ("100h", ["completed_5d"]), ("90m", ["completed_5d", "recent_completed_mp4", "recent_completed_webm"])],
)
async def test_cleanup_older_than_takes_days_hours_and_minutes(
    cli: CLI, db_url: str, jobs: Jobs, scratch: Scratch, older_than: str, extra: list[str]
) -> None:
    run = await cli(*_args(db_url, "cleanup", "--older-than", older_than, "--json", scratch=scratch.root))

    assert run.code == 0, run.err
    expected = [jobs.old_completed, jobs.old_failed, jobs.old_cancelled, *(getattr(jobs, name) for name in extra)]
    if older_than == "4":
        expected.append(jobs.completed_5d)
    assert json.loads(run.out)["deleted_job_ids"] == sorted(expected)


# -- failures ------------------------------------------------------------------------------------------------

COMMANDS = [["status"], ["jobs"], ["show", "1"], ["stats"], ["retry", "1"], ["cancel", "1"], ["cleanup"], ["reap"]]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
async def test_a_closed_postgres_port_exits_3_with_one_line(cli: CLI, argv: list[str]) -> None:
    run = await cli(*argv, "--database-url", "postgresql://vcfm@127.0.0.1:1/test")

    assert run.code == 3
    line = _one_line(run.err)
    assert line.startswith("video-converter-fm: ")
    assert "unreachable" in line and "127.0.0.1:1" in line


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: argv[0])
async def test_a_missing_sqlite_database_exits_3_and_is_not_created(cli: CLI, tmp_path: Path, argv: list[str]) -> None:
    path = tmp_path / "nowhere" / "deeper" / "jobs.sqlite"

    run = await cli(*argv, "--json", "--database-url", f"sqlite:///{path}")

    assert run.code == 3
    assert SCHEMA_MISSING_MESSAGE in _one_line(run.err)
    assert json.loads(run.out.strip().splitlines()[-1] if argv[0] != "status" else run.out)
    assert not path.parent.exists()


async def test_a_database_without_the_job_table_exits_3(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")  # an empty file is a valid, empty SQLite database

    run = await cli("jobs", "--database-url", f"sqlite:///{path}")

    assert run.code == 3
    assert _one_line(run.err) == f"video-converter-fm: {SCHEMA_MISSING_MESSAGE} (sqlite+aiosqlite:///{path})"


async def test_a_file_that_is_not_a_database_exits_3(cli: CLI, tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a database, just text that goes on for a while" * 20)

    run = await cli("stats", "--database-url", f"sqlite:///{path}")

    assert run.code == 3
    assert "not a database" in _one_line(run.err)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["jobs", "--status", "lost"],
        ["jobs", "-n", "0"],
        ["show"],
        ["show", "abc"],
        ["cleanup", "--older-than", "7 weeks"],
        ["stats", "--window", "-1h"],
    ],
)
async def test_usage_errors_exit_2(cli: CLI, argv: list[str]) -> None:
    run = await cli(*argv)

    assert run.code == 2
    assert "usage:" in run.err and "Traceback" not in run.err


async def test_invalid_settings_exit_2_with_one_line(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFM_LEASE_SECONDS", "0")

    run = await cli("jobs")

    assert run.code == 2
    assert _one_line(run.err).startswith("video-converter-fm: invalid settings: lease_seconds:")


async def test_help_documents_the_exit_codes(cli: CLI) -> None:
    run = await cli("--help")
    sub = await cli("cleanup", "--help")

    assert run.code == sub.code == 0
    for text in (run.out, sub.out):
        assert "exit codes:" in text and "3  database unreachable" in text
    for command in ("status", "jobs", "show", "stats", "retry", "cancel", "cleanup", "reap"):
        assert command in run.out


# -- as an admin runs it -------------------------------------------------------------------------------------


def test_python_dash_m_runs_the_cli_and_fails_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFM_")} | {"APP_PERSISTENT_STORAGE": str(tmp_path)}
    cwd = Path(__file__).resolve().parents[3]

    ok = subprocess.run(
        [sys.executable, "-m", "ex_app.lib.cli", "--help"], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )
    missing = subprocess.run(
        [sys.executable, "-m", "ex_app.lib.cli", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )

    assert ok.returncode == 0 and "exit codes:" in ok.stdout
    assert missing.returncode == 3
    assert _one_line(missing.stderr).endswith(f"({tmp_path / 'jobs.sqlite'} does not exist)")
    assert json.loads(missing.stdout)["database"]["reachable"] is False
    assert not (tmp_path / "jobs.sqlite").exists()

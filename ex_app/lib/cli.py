"""``video-converter-fm``: the admin's view of the conversion queue, without SQL and without a shell on Nextcloud.

Runs inside the ExApp container or beside it (``python -m ex_app.lib.cli`` works too), on the same database
and settings as the app: the ``VCFM_*`` / ``APP_PERSISTENT_STORAGE`` environment, or ``--database-url`` and
``--scratch-dir``. It never creates or migrates the database.

Commands::

    status                          workers (alive by heartbeat), queue depth, running jobs, ffmpeg, scratch space,
                                    database + schema revision
    jobs [-n N] [--status S] [--user U]   the newest N jobs (default 10)
    show ID                         every field of one job
    stats [--window 24h]            counts by status, mean/p95 duration per target, recent failures and their errors
    retry ID                        a failed or cancelled job back to pending, attempts reset
    cancel ID                       cancel a pending or processing job
    cleanup [--older-than AGE] [--dry-run]   delete finished jobs older than AGE (default: VCFM_RETENTION_DAYS)
                                    and orphaned scratch folders; AGE is 7d, 12h, 30m, 45s or plain days
    reap                            requeue jobs whose worker died (lease expired); fail those out of attempts
    worker                          run a conversion worker without the web server (a replica; see replica.py):
                                    checks the database, Nextcloud and ffmpeg, then converts until SIGTERM

Every command takes ``--json`` (one JSON document on stdout; on failure ``{"error": …, "exit_code": …}``).

Exit codes:

    0  success
    1  nothing wrong with the tool, but the answer is bad: ``status`` found no live worker; ``jobs`` matched
       no job
    2  usage error (unknown command or option, invalid value, invalid VCFM_* setting)
    3  database unreachable, or its job table does not exist yet
    4  ``show``/``retry``/``cancel``: no such job, or the job's status does not allow it
    5  ``worker``: Nextcloud unreachable, or it refused the app's credentials
    6  ``worker``: ffmpeg cannot be run
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, NoReturn, TextIO

import anyio
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from .errors import Conflict, NotFound
from .jobs import JobRecord, JobStatus, JobStore
from .ops import (
    DatabaseUnavailable,
    StatusReport,
    cleanup,
    collect_stats,
    collect_status,
    open_existing_store,
    parse_age,
    retention,
)
from .ops._json import jsonable
from .ops.database import one_line
from .ops.status import nextcloud_line
from .settings import Settings

PROG = "video-converter-fm"

EXIT_OK = 0
EXIT_BAD_ANSWER = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_REFUSED = 4

EPILOG = """\
exit codes:
  0  success
  1  status: no live worker; jobs: no job matched
  2  usage error or invalid VCFM_* setting
  3  database unreachable, or its job table does not exist yet
  4  show/retry/cancel: no such job, or its status does not allow it
  5  worker: Nextcloud unreachable, or it refused the app's credentials (APP_SECRET)
  6  worker: ffmpeg cannot be run

Settings come from the app's environment (VCFM_DATABASE_URL, APP_PERSISTENT_STORAGE, VCFM_SCRATCH_DIR,
VCFM_LEASE_SECONDS, VCFM_MAX_ATTEMPTS, VCFM_RETENTION_DAYS, VCFM_FFMPEG_PATH); --database-url and --scratch-dir
override them."""


class CommandFailed(Exception):
    """An expected failure: reported as one line on stderr, never as a traceback."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's default; spelled out so that usage errors keep exit code 2 whatever argparse does later.
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid job id {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid job id {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _age(text: str) -> timedelta:
    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    # Common options are accepted before and after the command; SUPPRESS keeps a subcommand's unset
    # default from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    common.add_argument(
        "--database-url", default=argparse.SUPPRESS, metavar="URL", help="job database (default: the app's)"
    )
    common.add_argument(
        "--scratch-dir", default=argparse.SUPPRESS, metavar="DIR", help="scratch folder (default: the app's)"
    )
    parser = _Parser(
        prog=PROG,
        description="Inspect and maintain the video conversion queue of the video_converter_fm ExApp.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    def command(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_,
            description=help_,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    command("status", "workers, queue, running jobs, ffmpeg, scratch space and database health")

    jobs = command("jobs", "the newest jobs")
    jobs.add_argument("-n", "--limit", type=_positive_int, default=10, help="how many (default 10)")
    jobs.add_argument("--status", choices=[status.value for status in JobStatus], help="only jobs in this status")
    jobs.add_argument("--user", metavar="USER_ID", help="only this user's jobs")

    show = command("show", "every field of one job")
    show.add_argument("job_id", type=_job_id, metavar="ID")

    stats = command("stats", "counts by status, durations per target, recent failures")
    stats.add_argument(
        "--window", type=_age, default=timedelta(hours=24), metavar="AGE", help="recent = finished within (24h)"
    )

    retry = command("retry", "queue a failed or cancelled job again (attempts reset to 0)")
    retry.add_argument("job_id", type=_job_id, metavar="ID")

    cancel = command("cancel", "cancel a pending or processing job")
    cancel.add_argument("job_id", type=_job_id, metavar="ID")

    clean = command("cleanup", "delete old finished jobs and orphaned scratch folders")
    clean.add_argument(
        "--older-than",
        type=_age,
        metavar="AGE",
        help="finished more than AGE ago: 7d, 12h, 30m, 45s or plain days (default: VCFM_RETENTION_DAYS)",
    )
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")

    command("reap", "requeue jobs whose worker died (lease expired); fail those out of attempts")
    command(
        "worker",
        "run a conversion worker without the web server, on the ExApp's database and Nextcloud (APP_ID, "
        "APP_SECRET, APP_VERSION, NEXTCLOUD_URL); SIGTERM hands running jobs back",
    )
    return parser


# -- output --------------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned plain-text table; the last column is never padded."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit} ago" if seconds < 10 * size else f"{seconds // size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _bytes(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{value} B"
        size /= 1024
    raise AssertionError("unreachable")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes:.0f}m{rest:02.0f}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:.0f}h{minutes:02.0f}m"


def job_dict(job: JobRecord) -> dict[str, Any]:
    """A job as plain JSON values."""
    data: dict[str, Any] = jsonable(asdict(job))
    return data


class Output:
    """Writes either human text or one JSON document."""

    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr
        self.emitted = False

    def emit(self, data: Any, text: Callable[[], str]) -> None:
        self.emitted = True
        if self.as_json:
            json.dump(data, self.stdout, indent=2, ensure_ascii=False)
            self.stdout.write("\n")
        else:
            self.stdout.write(text().rstrip("\n") + "\n")

    def fail(self, code: int, message: str) -> int:
        self.stderr.write(f"{PROG}: {message}\n")
        # One JSON document per run: a command that already printed its report (status) says it there.
        if self.as_json and not self.emitted:
            json.dump({"error": message, "exit_code": code}, self.stdout, ensure_ascii=False)
            self.stdout.write("\n")
        return code


# -- commands ------------------------------------------------------------------------------------------------


async def _status(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    try:
        store, _info = await open_existing_store(settings.database_url)
    except DatabaseUnavailable as exc:
        report = await collect_status(None, settings, database_error=exc.user_message)
    else:
        async with store:
            report = await collect_status(store, settings)
    out.emit(report.to_dict(), lambda: _status_text(report))
    if not report.database.ok:
        return out.fail(EXIT_DATABASE, report.database.error or "database unreachable")
    if report.alive_workers == 0:
        return out.fail(EXIT_BAD_ANSWER, "no live worker: jobs are not being processed")
    return EXIT_OK


def _status_text(report: StatusReport) -> str:
    db, queue, scratch, ff = report.database, report.queue, report.scratch, report.ffmpeg
    if db.ok:
        schema = "up to date" if db.revision == db.head else f"expected {db.head}"
        db_line = f"{db.url} — reachable, schema revision {db.revision} ({schema})"
    else:
        db_line = f"{db.url} — {db.error}"
    scratch_line = f"{scratch.path} — {_bytes(scratch.free_bytes)} free of {_bytes(scratch.total_bytes)}"
    if not scratch.exists:
        scratch_line += " (folder not created yet)"
    elif scratch.job_dirs:
        orphans = f", {scratch.orphaned_dirs} orphaned" if scratch.orphaned_dirs else ""
        scratch_line += f"; {scratch.job_dirs} job folder(s){orphans}"
    lines = [
        f"Database  {db_line}",
        f"FFmpeg    {ff.version if ff.found else f'{ff.path}: {ff.error}'}",
        f"Scratch   {scratch_line}",
    ]
    if db.ok:
        waiting = report.nextcloud.notifications_waiting
        outbox = f"; {waiting} notification(s) waiting to be sent" if waiting else ""
        lines.append(f"Nextcloud {nextcloud_line(report.nextcloud)}{outbox}")
    if db.ok:
        oldest = f", oldest ready {_ago(queue.oldest_ready_seconds)}" if queue.oldest_ready_seconds is not None else ""
        lines.append(
            f"Queue     {queue.pending} pending ({queue.ready} ready, {queue.waiting_for_retry} waiting for a retry "
            f"delay{oldest}), {queue.processing} processing"
        )
        window = f"{report.heartbeat_window_seconds:g}"
        lines += ["", f"Workers: {report.alive_workers} alive (alive = heartbeat within the last {window} s)"]
        if report.workers:
            rows = [
                (
                    w.worker_id,
                    "alive" if w.alive else "DEAD",
                    w.host,
                    w.pid,
                    _when(w.started_at),
                    _ago(w.seconds_since_seen),
                    w.jobs_running,
                )
                for w in report.workers
            ]
            lines.append(table(("WORKER", "STATE", "HOST", "PID", "STARTED (UTC)", "LAST SEEN", "JOBS"), rows))
        lines += ["", f"Processing: {len(report.processing)}"]
        if report.processing:
            rows = [
                (
                    j.id,
                    j.user_id,
                    j.target,
                    f"{j.progress:.0f}%",
                    _when(j.started_at),
                    "EXPIRED" if j.lease_expired else _when(j.lease_expires_at),
                    j.source_path,
                )
                for j in report.processing
            ]
            lines.append(table(("ID", "USER", "TARGET", "PROGRESS", "STARTED (UTC)", "LEASE UNTIL", "SOURCE"), rows))
    if report.problems:
        lines += ["", "Problems:", *(f"  - {problem}" for problem in report.problems)]
    return "\n".join(lines)


async def _jobs(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    async with await _open(settings) as store:
        status = JobStatus(args.status) if args.status else None
        records, total = await store.list(user_id=args.user, status=status, limit=args.limit)
    data = {"total": total, "jobs": [job_dict(job) for job in records]}

    def text() -> str:
        if not records:
            return "No jobs."
        rows = [
            (
                j.id,
                j.status.value,
                j.user_id,
                j.target,
                f"{j.progress:.0f}%",
                j.retry_count,
                _when(j.created_at),
                _when(j.finished_at),
                j.source_path,
            )
            for j in records
        ]
        headers = ("ID", "STATUS", "USER", "TARGET", "PROGRESS", "RETRIES", "CREATED (UTC)", "FINISHED (UTC)", "SOURCE")
        return table(headers, rows) + f"\n({len(records)} of {total} matching)"

    out.emit(data, text)
    return EXIT_OK if records else EXIT_BAD_ANSWER


async def _show(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    async with await _open(settings) as store:
        job = await store.get(args.job_id)
    _emit_job(out, job)
    return EXIT_OK


def _emit_job(out: Output, job: JobRecord) -> None:
    data = job_dict(job)

    def text() -> str:
        rows = []
        for key, value in data.items():
            if isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False) if value else "-"
            rows.append((f"{key}:", "-" if value is None else value))
        return table(("", ""), rows).split("\n", 1)[1]

    out.emit(data, text)


async def _stats(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    async with await _open(settings) as store:
        report = await collect_stats(store, window=args.window)
    hours = f"{report.window_seconds / 3600:g} h"

    def text() -> str:
        lines = ["Jobs by status", table(("STATUS", "JOBS"), [*report.counts.items(), ("total", report.total)]), ""]
        lines.append("Duration of completed jobs (started → finished)")
        if report.durations:
            rows = [
                (d.target, d.completed, _duration(d.mean_seconds), _duration(d.p95_seconds)) for d in report.durations
            ]
            lines.append(table(("TARGET", "COMPLETED", "MEAN", "P95"), rows))
        else:
            lines.append("  no completed jobs")
        lines += ["", f"Last {hours}: {report.recent_completed} completed, {report.recent_failed} failed"]
        if report.top_errors:
            lines.append(table(("FAILURES", "ERROR"), [(e.count, e.message) for e in report.top_errors]))
        return "\n".join(lines)

    out.emit(report.to_dict(), text)
    return EXIT_OK


async def _retry(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    return await _change(args.job_id, settings, out, JobStore.retry, "is pending again")


async def _cancel(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    return await _change(args.job_id, settings, out, JobStore.cancel, "is cancelled")


async def _change(
    job_id: int,
    settings: Settings,
    out: Output,
    action: Callable[[JobStore, int], Awaitable[JobRecord]],
    done: str,
) -> int:
    """One state change through the store (which refuses what the job's status does not allow)."""
    async with await _open(settings) as store:
        job = await action(store, job_id)
    if out.as_json:
        _emit_job(out, job)
    else:
        out.emit(None, lambda: f"Job {job.id} {done}.")
    return EXIT_OK


async def _cleanup(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    older_than = args.older_than if args.older_than is not None else retention(settings)
    async with await _open(settings) as store:
        result = await cleanup(store, settings, older_than=older_than, dry_run=args.dry_run)

    def text() -> str:
        verb = "Would delete" if result.dry_run else "Deleted"
        ids = ", ".join(map(str, result.deleted_job_ids)) or "none"
        lines = [f"{verb} {len(result.deleted_job_ids)} job(s) finished before {_when(result.cutoff)} UTC: {ids}"]
        verb = "Would remove" if result.dry_run else "Removed"
        lines.append(f"{verb} {len(result.removed_scratch_dirs)} orphaned scratch folder(s)")
        lines += [f"  {path}" for path in result.removed_scratch_dirs]
        return "\n".join(lines)

    out.emit(result.to_dict(), text)
    return EXIT_OK


async def _reap(args: argparse.Namespace, settings: Settings, out: Output) -> int:
    async with await _open(settings) as store:
        requeued, failed = await store.reap_expired(settings.max_attempts)

    def text() -> str:
        return (
            f"Requeued {len(requeued)} job(s) whose worker stopped: {', '.join(map(str, requeued)) or 'none'}\n"
            f"Failed {len(failed)} job(s) interrupted {settings.max_attempts} times: "
            f"{', '.join(map(str, failed)) or 'none'}"
        )

    out.emit({"requeued": requeued, "failed": failed, "max_attempts": settings.max_attempts}, text)
    return EXIT_OK


async def _open(settings: Settings) -> JobStore:
    store, _info = await open_existing_store(settings.database_url)
    return store


Handler = Callable[[argparse.Namespace, Settings, Output], Awaitable[int]]

COMMANDS: dict[str, Handler] = {
    "status": _status,
    "jobs": _jobs,
    "show": _show,
    "stats": _stats,
    "retry": _retry,
    "cancel": _cancel,
    "cleanup": _cleanup,
    "reap": _reap,
}


# -- entry point ---------------------------------------------------------------------------------------------


def load_settings(args: argparse.Namespace) -> Settings:
    """The app's settings from the environment, with the command line's overrides."""
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if getattr(args, "scratch_dir", None):
        overrides["scratch_dir"] = args.scratch_dir
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'settings'}: {error['msg']}" for error in exc.errors()
        )
        raise CommandFailed(EXIT_USAGE, f"invalid settings: {problems}") from None


async def run(args: argparse.Namespace, out: Output) -> int:
    """Run the parsed command; expected failures become :class:`CommandFailed`."""
    settings = load_settings(args)
    try:
        return await COMMANDS[args.command](args, settings, out)
    except DatabaseUnavailable as exc:
        raise CommandFailed(EXIT_DATABASE, exc.user_message) from None
    except (NotFound, Conflict) as exc:
        raise CommandFailed(EXIT_REFUSED, exc.user_message) from None
    except (SQLAlchemyError, OSError) as exc:
        # The database went away or stayed locked after the store was opened.
        raise CommandFailed(EXIT_DATABASE, f"database error: {one_line(exc)}") from None


def _worker(args: argparse.Namespace, out: Output) -> int:
    """The long-running ``worker`` command: exits only on a failed start check or a signal."""
    from .replica import StartFailed, serve  # the web and worker stack, only for this command

    try:
        settings = load_settings(args)
        anyio.run(serve, settings)
    except CommandFailed as exc:
        return out.fail(exc.code, exc.message)
    except StartFailed as exc:
        return out.fail(exc.code, f"worker cannot start: {exc.message}")
    except KeyboardInterrupt:
        return 130
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = Output(getattr(args, "json", False), sys.stdout, sys.stderr)
    if args.command == "worker":
        return _worker(args, out)
    try:
        return anyio.run(run, args, out)
    except CommandFailed as exc:
        return out.fail(exc.code, exc.message)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The worker during a Nextcloud outage, against a real SQLite store; Nextcloud is a scripted stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from ex_app.lib.admin_settings import AdminSettings
from ex_app.lib.errors import NextcloudOutage, PermissionDenied
from ex_app.lib.jobs import JobStatus, JobStore, NewJob
from ex_app.lib.nextcloud import RemoteFile
from ex_app.lib.ops.cleanup import cleanup
from ex_app.lib.settings import Settings
from ex_app.lib.worker import Worker
from ex_app.lib.worker.pipeline import KeptOutput, convert, usable_kept_output
from ex_app.lib.worker.retry import WAITING_FOR_NEXTCLOUD
from tests.media import make_video

pytestmark = pytest.mark.anyio


class Nextcloud:
    """Up or down; records the notifications it accepted."""

    def __init__(self) -> None:
        self.up = True
        self.refuse = False
        self.sent: list[tuple[str, str]] = []

    async def probe(self) -> None:
        if not self.up:
            raise NextcloudOutage("Nextcloud could not be reached")

    def gateway(self, user_id: str) -> Gateway:
        return Gateway(self, user_id)


class Gateway:
    def __init__(self, nextcloud: Nextcloud, user_id: str) -> None:
        self.nextcloud, self.user_id = nextcloud, user_id

    async def notify(self, subject: str, message: str, link: str = "") -> None:
        if not self.nextcloud.up:
            raise NextcloudOutage("sending the notification: Nextcloud could not be reached")
        if self.nextcloud.refuse:
            raise PermissionDenied("sending the notification: Nextcloud refused access (403)")
        self.nextcloud.sent.append((self.user_id, subject))

    def folder_link(self, path: str) -> str:
        return f"folder of {path}"


@pytest.fixture
def nextcloud() -> Nextcloud:
    return Nextcloud()


def make_worker(store: JobStore, nextcloud: Nextcloud, tmp_path: Path) -> Worker:
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path), max_attempts=2, lease_seconds=5)
    return Worker(store, settings, nextcloud.gateway, probe=nextcloud.probe)  # type: ignore[arg-type]


async def claimed_job(store: JobStore, worker: Worker, name: str = "a.mov"):
    (job,) = await store.create_many([NewJob(user_id="alice", file_id=7, source_path=f"/V/{name}", target="mp4")])
    claimed = await store.claim(worker.worker_id, 60)
    assert claimed is not None and claimed.id == job.id
    return claimed


async def test_a_job_interrupted_by_an_outage_goes_back_without_spending_an_attempt(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    worker = make_worker(store, nextcloud, tmp_path)
    job = await claimed_job(store, worker)
    nextcloud.up = False

    for _ in range(5):  # far more often than max_attempts
        await worker._failed(job, nextcloud.gateway("alice"), NextcloudOutage("uploading: unreachable"))
        back = await store.get(job.id)
        assert (back.status, back.retry_count, back.error_message) == (JobStatus.PENDING, 0, WAITING_FOR_NEXTCLOUD)
        job = await store.claim(worker.worker_id, 60)
        assert job is not None

    assert not worker.health.reachable and not worker._reachable.is_set()  # the claim loop waits
    (beat,) = await store.workers()
    assert beat.nextcloud_unreachable_since == worker.health.unreachable_since
    assert nextcloud.sent == []


async def test_an_outage_looking_error_while_nextcloud_answers_spends_an_attempt(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    worker = make_worker(store, nextcloud, tmp_path)
    job = await claimed_job(store, worker)

    await worker._failed(job, nextcloud.gateway("alice"), NextcloudOutage("uploading: connection reset"))

    again = await store.get(job.id)
    assert (again.status, again.retry_count) == (JobStatus.PENDING, 1)
    assert worker.health.reachable


async def test_past_the_budget_waiting_jobs_fail_and_their_owners_hear_of_it_when_nextcloud_is_back(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    worker = make_worker(store, nextcloud, tmp_path)
    (waiting,) = await store.create_many([NewJob(user_id="bob", file_id=8, source_path="/b.mov", target="mkv")])
    nextcloud.up = False
    worker.health.down("refused", datetime.now(UTC) - timedelta(hours=7))

    await worker._fail_waiting_jobs_past_budget()

    failed = await store.get(waiting.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error_message is not None and "more than 6 hours" in failed.error_message
    assert [queued.subject for queued in await store.outbox()] == ["Conversion failed: b.mov"]
    nextcloud.up = True
    await worker._nextcloud_back()
    assert nextcloud.sent == [("bob", "Conversion failed: b.mov")]
    assert await store.outbox() == []


async def test_notifications_wait_in_the_outbox_and_are_sent_once_when_nextcloud_is_back(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    worker = make_worker(store, nextcloud, tmp_path)
    nextcloud.up = False
    await worker._notify(nextcloud.gateway("alice"), "Conversion finished: a.mov", "done", job_id=1)
    assert not worker.health.reachable  # the failed send was checked with a probe
    await worker._notify(nextcloud.gateway("alice"), "Conversion finished: b.mov", "done", job_id=2)
    assert [queued.job_id for queued in await store.outbox()] == [1, 2]

    await worker._flush_outbox()  # still down: nothing is sent, nothing lost
    assert nextcloud.sent == [] and len(await store.outbox()) == 2

    nextcloud.up = True
    await worker._nextcloud_back()
    await worker._flush_outbox()
    await worker._maintain_once()
    assert nextcloud.sent == [("alice", "Conversion finished: a.mov"), ("alice", "Conversion finished: b.mov")]
    assert await store.outbox() == []


async def test_a_notification_nextcloud_refuses_is_not_kept_forever(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    worker = make_worker(store, nextcloud, tmp_path)
    await store.queue_notification("alice", "s", "m")
    nextcloud.refuse = True
    await worker._flush_outbox()
    assert await store.outbox() == [] and nextcloud.sent == []


# ---- the kept output -----------------------------------------------------------------------------------------
class Source:
    def __init__(self, etag: str) -> None:
        self.etag = etag


async def test_a_kept_output_is_used_only_while_whole_in_scratch_and_made_from_the_current_source(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    work = settings.scratch / "job-1"
    work.mkdir(parents=True)
    output = make_video(work / "output.mp4", seconds=1)
    kept = KeptOutput(str(output), output.stat().st_size, "mp4", ("note",), "etag1")
    worker = make_worker(store, nextcloud, tmp_path)
    job = await claimed_job(store, worker)
    await store.keep_output(job.id, worker.worker_id, kept.to_dict())
    job = await store.get(job.id)

    assert await usable_kept_output(job, Source("etag1"), settings) == kept  # type: ignore[arg-type]
    assert await usable_kept_output(job, Source("edited"), settings) is None  # type: ignore[arg-type]
    outside = KeptOutput(str(make_video(tmp_path / "elsewhere.mp4", seconds=1)), 1, "mp4", (), "etag1")
    elsewhere = await store.get(job.id)
    object.__setattr__(elsewhere, "kept_output", outside.to_dict())
    assert await usable_kept_output(elsewhere, Source("etag1"), settings) is None  # type: ignore[arg-type]
    with output.open("ab") as fp:
        fp.write(b"more")  # not the file that was verified
    assert await usable_kept_output(job, Source("etag1"), settings) is None  # type: ignore[arg-type]


async def test_cleanup_keeps_the_output_of_a_job_waiting_for_nextcloud(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    worker = make_worker(store, nextcloud, tmp_path)
    job = await claimed_job(store, worker)
    work = settings.scratch / f"job-{job.id}"
    work.mkdir(parents=True)
    (work / "output.mp4").write_bytes(b"x")
    await store.release(job.id, worker.worker_id, message=WAITING_FOR_NEXTCLOUD)

    result = await cleanup(store, settings, older_than=timedelta(0), dry_run=False)

    assert result.removed_scratch_dirs == []
    assert (work / "output.mp4").exists()


class UploadOnlyGateway:
    """Nextcloud for a job whose output waits in scratch: anything but resolve and upload is a failure."""

    def __init__(self, source) -> None:
        self.source = source
        self.uploaded: list[tuple[Path, str, str]] = []

    async def resolve(self, file_id: int):
        return self.source

    async def can_add_files(self, folder: str) -> bool:
        return True

    async def folder_for_results(self, folder: str) -> tuple[bool, set[str]]:
        return True, set()

    async def download(self, remote, dest: Path) -> None:
        raise AssertionError("a kept output must not be downloaded again")

    async def upload_new(self, local: Path, folder: str, stem: str, extension: str, *, mtime=None, taken=None):
        size = (await anyio.Path(local).stat()).st_size  # there, whole
        self.uploaded.append((local, folder, f"{stem}.{extension}"))
        return RemoteFile(99, f"{folder}/{stem}.{extension}", "etag", size, "video/mp4", 0.0)


async def test_after_a_restart_a_job_with_a_kept_output_is_only_uploaded(
    store: JobStore, nextcloud: Nextcloud, tmp_path: Path
):
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    work = settings.scratch / "job-1-0123456789abcdef"
    work.mkdir(parents=True)
    output = make_video(work / "output.mp4", seconds=1)
    source = RemoteFile(7, "/V/a.mov", "etag1", 1000, "video/quicktime", 0.0)
    first = make_worker(store, nextcloud, tmp_path)
    job = await claimed_job(store, first)
    kept = KeptOutput(str(output), output.stat().st_size, "mp4", (), "etag1")
    await store.keep_output(job.id, first.worker_id, kept.to_dict())
    await store.release(job.id, first.worker_id, message=WAITING_FOR_NEXTCLOUD)  # that process stopped

    again = await store.claim("another-process", 60)
    assert again is not None and again.kept_output == kept.to_dict()
    gateway = UploadOnlyGateway(source)
    limits = AdminSettings.defaults(settings)

    async def progress(_: float) -> None:
        raise AssertionError("nothing is encoded")

    result = await convert(again, gateway, settings, limits, progress)  # type: ignore[arg-type]

    assert gateway.uploaded == [(output, "/V", "a.mp4")]
    assert result.output.path == "/V/a.mp4"
    assert not work.exists()  # uploaded: its scratch folder is gone

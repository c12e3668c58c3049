"""The worker: claims jobs, runs them a few at a time, and keeps their leases alive.

Crash safety comes from leases (as in apscheduler v4): a claimed job carries ``lease_owner`` and
``lease_expires_at``; while a job runs, its lease is renewed about once a second (that same write carries the
progress). If the process dies, the lease runs out and the reaper (every worker runs one) puts the job back to
``pending`` — or fails it once it has been interrupted too often. If a renewal finds the job no longer ours
(the user cancelled it, or it was reaped), the job's task is cancelled, which kills ffmpeg.

Waiting out the lease is only needed for *another* process's jobs. Each worker has a stable name
(``VCFM_WORKER_NAME``, the hostname by default) and holds that name's lock while it runs (jobs/identity.py);
a restarted process that gets the lock knows its predecessor is dead and takes back that predecessor's jobs at
once — ``retry_count`` + 1, the dead attempt's scratch folder removed — instead of when the lease runs out.

Nextcloud going away (stopped, unreachable, maintenance mode) is not the job's fault: see health.py. The worker
stops claiming, probes until Nextcloud answers, hands interrupted jobs back without spending attempts, keeps a
finished output for its upload (pipeline.KeptOutput), and keeps notifications it could not send in the outbox
until Nextcloud is back.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio

from ..admin_settings import AdminSettings, LiveSettings
from ..errors import ConverterError, NextcloudOutage, NextcloudUnavailable
from ..i18n import Message, _, translate
from ..jobs import JobRecord, JobStore
from ..jobs.models import utc_now
from ..logs import job_context, set_replica
from ..nextcloud import NextcloudGateway
from ..nextcloud.gateway import probe_nextcloud
from ..ops.cleanup import cleanup
from ..settings import Settings
from .health import NextcloudHealth, over_budget
from .pipeline import SAVED_ELSEWHERE, Converted, KeptOutput, convert, remove_job_scratch
from .retry import RetryPolicy, outage_message
from .space import MIB, ScratchSpace

log = logging.getLogger("video_converter_fm.worker")

GatewayFactory = Callable[[str], NextcloudGateway]
Probe = Callable[[], Awaitable[None]]


async def probe_from_environment() -> None:
    """Probe the Nextcloud that AppAPI named in ``NEXTCLOUD_URL`` (as nc_py_api reads it)."""
    await probe_nextcloud(os.environ.get("NEXTCLOUD_URL", "http://127.0.0.1"))


def _describe(exc: BaseException) -> str:
    return getattr(exc, "user_message", None) or type(exc).__name__


SUBJECT_OK = _("Conversion finished: {file}")
MESSAGE_OK = _("{file} was converted to {output}")
SUBJECT_FAILED = _("Conversion failed: {file}")
MESSAGE_FAILED = _("{file} could not be converted: {reason}")


@dataclass
class _Run:
    """What one run of a job produced."""

    progress: float = 0.0
    result: Converted | None = None
    error: BaseException | None = None
    lost: bool = False  # the job stopped being ours (cancelled or reaped)


def jobs_in_flight(concurrency: int) -> int:
    """How many jobs one worker holds at once: one transferring beside each of ``concurrency`` encoding."""
    return 2 * concurrency


class Worker:
    """Runs jobs from the store until cancelled. One per process; several processes may share a database."""

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        gateway_factory: GatewayFactory,
        live: LiveSettings | None = None,
        probe: Probe = probe_from_environment,
    ) -> None:
        self.store = store
        self.settings = settings
        self.live = live or LiveSettings(settings)
        self.gateway_factory = gateway_factory
        self.name = settings.worker_name
        self.worker_id = self._instance_id(self.name)
        self.name_lock = store.lock_name(self.name)
        self.policy = RetryPolicy(settings.max_attempts, settings.retry_backoff_seconds)
        self.running: set[int] = set()
        self.space = ScratchSpace(settings.scratch, settings.scratch_reserve_mb * MIB, settings.scratch_wait_seconds)
        # Live worker processes sharing the queue, as of the last heartbeat: the default per-user cap is half
        # of all of their places together.
        self.workers_alive = 1
        self._wake = anyio.Event()
        self.probe = probe
        self.health = NextcloudHealth()
        self._reachable = anyio.Event()  # set while Nextcloud answers: the claim loop waits on it
        self._reachable.set()
        self._went_down = anyio.Event()  # wakes the probe loop
        # True after a poll that found nothing and nobody woke us: the next claim is an idle poll, which must not
        # cost Nextcloud a settings read (admin_settings.py, "the rule").
        self._idle_poll = False
        # Two limits, so that a job moving bytes to or from Nextcloud keeps no CPU idle: ``encoders``
        # (the concurrency) is held only while ffprobe and ffmpeg work; ``slots``, the jobs in flight, has a
        # transfer place beside each encoder, so that one job downloads or uploads while another encodes.
        # CapacityLimiters, not Semaphores: the admin may change the concurrency while jobs run.
        self.encoders = anyio.CapacityLimiter(self.live.current.concurrency)
        self.slots = anyio.CapacityLimiter(jobs_in_flight(self.live.current.concurrency))
        self.live.on_change(self._settings_changed)

    async def _settings_changed(self, old: AdminSettings, new: AdminSettings) -> None:
        if new.concurrency != old.concurrency:
            self.encoders.total_tokens = new.concurrency
            self.slots.total_tokens = jobs_in_flight(new.concurrency)
            log.info("Now converting up to %d videos at once", new.concurrency)
            self.wake()

    def wake(self) -> None:
        """New work arrived: look now instead of at the next poll."""
        self._wake.set()

    @staticmethod
    def _instance_id(name: str) -> str:
        return f"{name}/{os.getpid()}-{uuid.uuid4().hex[:8]}"

    async def run(self) -> None:
        await self._claim_name()
        set_replica(self.name)
        log.info("Video conversion worker started (id %s, %d at a time)", self.worker_id, self.encoders.total_tokens)
        await self._take_back_from_predecessor()
        await self._maintain_once()
        await self._cleanup()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._maintenance_loop)
                tg.start_soon(self._watch_nextcloud)
                while True:
                    # No claiming while Nextcloud is down: a claimed job could only fail.
                    await self._reachable.wait()
                    slot = object()  # the job's task releases it, so the slot is borrowed on its behalf
                    await self.slots.acquire_on_behalf_of(slot)
                    await self._let_idle_replicas_go_first()
                    if not self._idle_poll or self.running:
                        await self.live.fresh()  # busy: the claim's limits must be the admin's latest
                    job = await self._claim()
                    if job is None:
                        self.slots.release_on_behalf_of(slot)
                        await self._idle()
                        continue
                    if self._idle_poll:
                        # Work found by a poll (queued by another process): its limits must be current too.
                        self._idle_poll = False
                        await self.live.fresh()
                    tg.start_soon(self._run_job, job, slot)
        finally:
            log.info("Video conversion worker stopped")
            with anyio.CancelScope(shield=True):
                try:
                    await self.store.remove_worker(self.worker_id)
                except Exception:
                    log.debug("could not remove the worker heartbeat", exc_info=True)
                await self.name_lock.release()

    async def _claim_name(self) -> None:
        """Hold this worker's name, or run under a unique one if a live process already holds it."""
        try:
            if await self.name_lock.acquire():
                return
        except Exception:
            log.warning("Could not lock the worker name %s", self.name, exc_info=True)
        taken = self.name
        # Two processes with one name (several workers on one machine, none named): the second one still
        # works, only without the fast takeover after a crash, which needs a name of its own.
        self.name = f"{taken}-{uuid.uuid4().hex[:6]}"
        self.worker_id = self._instance_id(self.name)
        self.name_lock = self.store.lock_name(self.name)
        try:
            # A fresh random name: no predecessor to take over from, the lock only keeps the rule uniform.
            await self.name_lock.acquire()
        except Exception:
            log.warning("Could not lock the worker name %s", self.name, exc_info=True)
        log.warning(
            "Another running worker is named %s; this one runs as %s. Give each worker its own VCFM_WORKER_NAME "
            "so that a restarted worker takes its jobs back at once after a crash",
            taken,
            self.name,
        )

    async def _take_back_from_predecessor(self) -> None:
        """Requeue at once the jobs a dead earlier run of this worker held (we hold its name, so it is dead)."""
        if not self.name_lock.held:
            return  # without the lock a live process may hold these jobs
        try:
            job_ids = await self.store.predecessor_jobs(self.name, self.worker_id)
            # Before requeueing: once pending, a job may be claimed at once, and its new attempt's scratch
            # folder (same path) must not be removed under it.
            for job_id in job_ids:
                if (await self.store.get(job_id)).kept_output:
                    continue  # a finished output waiting for its upload: the next attempt only uploads it
                await remove_job_scratch(self.settings, job_id)
            # Also when there is no job: the dead runs' heartbeats go, so status lists no dead worker.
            requeued, failed = await self.store.reap_predecessor(self.name, self.worker_id, self.settings.max_attempts)
        except Exception:
            log.exception("Could not take back the jobs of this worker's previous run; their leases will expire")
            return
        if requeued:
            log.warning(
                "Jobs %s were interrupted when this worker's previous run stopped; queued again at once",
                ", ".join(f"#{job_id}" for job_id in requeued),
            )
        await self._report_given_up(failed)

    async def _claim(self) -> JobRecord | None:
        try:
            cap = self.live.current.running_per_user(self.workers_alive)
            return await self.store.claim(self.worker_id, self.settings.lease_seconds, max_running_per_user=cap)
        except Exception:
            # The database hiccuped (locked, restarting); the worker must outlive that.
            log.exception("Could not claim a job; trying again shortly")
            return None

    async def _let_idle_replicas_go_first(self) -> None:
        """Before claiming into a transfer place (every encoder here has a job): wait one poll round.

        Such a job would download and then wait for an encoder here, while another worker sharing the queue
        may have an encoder free; that one only finds the job at its next poll, and this worker, woken by the
        job's arrival or by one of its own jobs ending, would always be first. So the others get a round and a
        half of polling to take it. Alone, or once one of this worker's jobs ends, there is nothing to wait for.
        """
        deadline = anyio.current_time() + 1.5 * self.settings.poll_seconds
        while self.workers_alive > 1 and len(self.running) >= self.encoders.total_tokens:
            with anyio.move_on_after(deadline - anyio.current_time()) as waited:
                await self._wake.wait()
            if waited.cancelled_caught:
                return
            self._wake = anyio.Event()

    async def _idle(self) -> None:
        with anyio.move_on_after(self.settings.poll_seconds):
            await self._wake.wait()
        self._idle_poll = not self._wake.is_set()
        self._wake = anyio.Event()

    async def _maintenance_loop(self) -> None:
        next_cleanup = anyio.current_time() + self.settings.cleanup_interval_seconds
        while True:
            await anyio.sleep(max(1.0, self.settings.lease_seconds / 3))
            await self._maintain_once()
            if anyio.current_time() >= next_cleanup:
                await self._cleanup()
                next_cleanup = anyio.current_time() + self.settings.cleanup_interval_seconds

    async def _beat(self) -> None:
        await self.store.beat(
            self.worker_id,
            socket.gethostname(),
            os.getpid(),
            len(self.running),
            nextcloud_unreachable_since=self.health.unreachable_since,
            nextcloud_error=self.health.last_error,
        )

    async def _maintain_once(self) -> None:
        try:
            await self._beat()
            # A worker that missed a lease's worth of heartbeats is gone (its jobs are about to be reaped).
            alive_since = utc_now() - timedelta(seconds=self.settings.lease_seconds)
            self.workers_alive = max(1, sum(w.last_seen >= alive_since for w in await self.store.workers()))
            requeued, failed = await self.store.reap_expired(self.settings.max_attempts)
            for job_id in requeued:
                log.warning("Job #%d was interrupted (its worker stopped); it is queued again", job_id)
            await self._report_given_up(failed)
            if requeued:
                self.wake()
            if self.health.reachable:
                await self._flush_outbox()
        except Exception:
            log.exception("Worker maintenance failed; trying again later")

    async def _report_given_up(self, failed: list[int]) -> None:
        for job_id in failed:
            job = await self.store.get(job_id)
            with job_context(job.id, job.user_id):
                log.error("Job #%d failed: %s", job.id, job.error_message)
                await self._tell_failure(job, self.gateway_factory(job.user_id), job.error or Message(""))

    # -- Nextcloud outages -------------------------------------------------------------------------------

    async def _confirm_outage(self, error: BaseException) -> bool:
        """After an outage-looking error: is all of Nextcloud down? Probes once (unless already known down);
        if so, claiming stops and the probe loop takes over."""
        if not self.health.reachable:
            self.health.last_error = _describe(error)
            return True
        try:
            await self.probe()
        except Exception as exc:
            await self._nextcloud_down(exc)
            return True
        return False  # Nextcloud answers: the error was this job's own

    async def _nextcloud_down(self, exc: BaseException) -> None:
        now = utc_now()
        since = None
        if self.health.reachable:
            # Another worker (or this worker's predecessor) may have seen the outage begin earlier.
            try:
                seen = [w.nextcloud_unreachable_since for w in await self.store.workers()]
                since = min((t for t in seen if t is not None), default=None)
            except Exception:
                log.debug("could not read the other workers' view of Nextcloud", exc_info=True)
        if self.health.down(_describe(exc), now, since=since):
            log.warning("Nextcloud is unreachable (%s); no new conversions until it answers", _describe(exc))
            self._reachable = anyio.Event()
            self._went_down.set()
        with anyio.CancelScope(shield=True):
            try:
                await self._beat()
            except Exception:
                log.debug("could not record Nextcloud's state", exc_info=True)

    async def _nextcloud_back(self) -> None:
        since = self.health.unreachable_since
        if not self.health.up():
            return
        log.warning("Nextcloud answers again (unreachable since %s); resuming", since)
        self._reachable.set()
        self.wake()
        try:
            await self._beat()
            await self._flush_outbox()
        except Exception:
            log.exception("Could not record that Nextcloud is back; trying again later")

    async def _watch_nextcloud(self) -> None:
        """While Nextcloud is down: probe with capped exponential backoff; fail waiting jobs past the budget."""
        while True:
            if self.health.reachable:
                await self._went_down.wait()
                self._went_down = anyio.Event()
                continue
            await anyio.sleep(
                self.health.next_probe_in(self.settings.outage_probe_seconds, self.settings.outage_probe_max_seconds)
            )
            try:
                await self.probe()
            except Exception as exc:
                await self._nextcloud_down(exc)
                await self._fail_waiting_jobs_past_budget()
                continue
            await self._nextcloud_back()

    def _outage_budget(self) -> timedelta:
        return timedelta(hours=self.live.current.outage_budget_hours)

    async def _fail_waiting_jobs_past_budget(self) -> None:
        budget = self._outage_budget()
        if not over_budget(self.health.unreachable_since, utc_now(), budget):
            return
        try:
            failed = await self.store.fail_pending(outage_message(budget))
        except Exception:
            log.exception("Could not fail the jobs waiting for Nextcloud; trying again later")
            return
        for job in failed:
            with job_context(job.id, job.user_id):
                log.error("Job #%d failed: %s", job.id, job.error_message)
                await self._tell_failure(job, self.gateway_factory(job.user_id), job.error or Message(""))

    async def _flush_outbox(self) -> None:
        """Send the notifications that waited for Nextcloud, each at most once."""
        while self.health.reachable:
            queued = await self.store.take_notification()
            if queued is None:
                return
            try:
                with anyio.fail_after(30):
                    await self.gateway_factory(queued.user_id).notify(queued.subject, queued.message, queued.link)
            except (NextcloudUnavailable, TimeoutError) as exc:
                # Not delivered: back into the outbox (taking it removed it), for the next time Nextcloud answers.
                await self.store.queue_notification(
                    queued.user_id, queued.subject, queued.message, queued.link, job_id=queued.job_id
                )
                if isinstance(exc, NextcloudOutage | TimeoutError):
                    await self._confirm_outage(exc)
                return
            except Exception as exc:
                log.warning("Dropping a queued notification Nextcloud refused: %s", _describe(exc))
                continue
            log.info("Sent a notification that waited for Nextcloud (to %s)", queued.user_id)

    async def _cleanup(self) -> None:
        """Delete finished jobs past the retention and scratch folders no running job owns."""
        try:
            older_than = timedelta(days=self.live.current.retention_days)
            result = await cleanup(self.store, self.settings, older_than=older_than, dry_run=False)
            if result.deleted_job_ids or result.removed_scratch_dirs:
                log.info(
                    "Cleanup: %d finished jobs older than %d days deleted, %d orphaned scratch folders removed",
                    len(result.deleted_job_ids),
                    self.live.current.retention_days,
                    len(result.removed_scratch_dirs),
                )
        except Exception:
            log.exception("Cleanup failed; trying again later")

    async def _run_job(self, job: JobRecord, slot: object) -> None:
        self.running.add(job.id)
        try:
            with job_context(job.id, job.user_id):
                await self._execute(job)
        finally:
            self.running.discard(job.id)
            self.slots.release_on_behalf_of(slot)
            self.wake()

    async def _execute(self, job: JobRecord) -> None:
        log.info("Processing job #%d: /files/%s%s → %s", job.id, job.user_id, job.source_path, job.target)
        gateway = self.gateway_factory(job.user_id)
        run = _Run()
        try:
            await self._supervise(job, gateway, run)
        except anyio.get_cancelled_exc_class():
            # Shutting down: hand the job back untouched so the next worker starts it afresh at once.
            with anyio.CancelScope(shield=True):
                try:
                    await self.store.release(job.id, self.worker_id)
                    log.info("Job #%d handed back to the queue (shutting down)", job.id)
                except Exception:
                    log.warning("Job #%d could not be handed back; its lease will expire", job.id, exc_info=True)
            raise
        # Recorded shielded: a shutdown arriving now must not lose a finished conversion.
        with anyio.CancelScope(shield=True):
            if run.lost:
                log.info("Job #%d stopped: it was cancelled or taken over; ffmpeg was stopped", job.id)
            elif run.result is not None:
                await self._succeeded(job, gateway, run.result)
            elif run.error is not None:
                await self._failed(job, gateway, run.error)

    async def _supervise(self, job: JobRecord, gateway: NextcloudGateway, run: _Run) -> None:
        """Run the pipeline beside a lease keeper; whichever ends first stops the other."""

        async def report(percent: float) -> None:
            run.progress = percent

        async with anyio.create_task_group() as tg:

            async def keep_lease() -> None:
                # Once a second: renews the lease, stores the progress, and notices a cancel.
                interval = min(1.0, self.settings.lease_seconds / 3)
                while True:
                    await anyio.sleep(interval)
                    try:
                        ours = await self.store.renew(
                            job.id, self.worker_id, self.settings.lease_seconds, progress=run.progress
                        )
                    except Exception:
                        log.warning("Could not renew the lease of job #%d", job.id, exc_info=True)
                        continue
                    if not ours:
                        run.lost = True
                        tg.cancel_scope.cancel()
                        return

            async def output_ready(kept: KeptOutput) -> None:
                # Recorded before the upload starts: if Nextcloud is down by then, or this process stops, the
                # next attempt finds the output and only uploads it.
                try:
                    await self.store.keep_output(job.id, self.worker_id, kept.to_dict())
                except Exception:
                    log.warning("Could not record the output of job #%d", job.id, exc_info=True)

            async def work() -> None:
                try:
                    run.result = await convert(
                        job, gateway, self.settings, self.live.current, report, self.space,
                        on_output_ready=output_ready, encoders=self.encoders,
                    )  # fmt: skip
                except ConverterError as exc:
                    run.error = exc
                except Exception as exc:
                    log.exception("Unexpected error in job #%d", job.id)
                    run.error = exc
                tg.cancel_scope.cancel()

            tg.start_soon(keep_lease)
            tg.start_soon(work)

    async def _succeeded(self, job: JobRecord, gateway: NextcloudGateway, result: Converted) -> None:
        done = await self.store.complete(
            job.id,
            self.worker_id,
            output_path=result.output.path,
            output_file_id=result.output.file_id,
            notes=result.notes,
        )
        if done is None:
            # Cancelled between the upload and now: honour the cancel, leave no output behind.
            log.info("Job #%d was cancelled at the last moment; removing its output", job.id)
            await gateway.delete_quietly(result.output)
            return
        log.info("Job #%d completed successfully: %s", job.id, result.output.path)
        lang = job.language
        message = translate(lang, MESSAGE_OK, file=result.source.name, output=result.output.name)
        if result.saved_elsewhere is not None:
            message += " " + translate(lang, SAVED_ELSEWHERE, **result.saved_elsewhere)
        await self._notify(
            gateway,
            translate(lang, SUBJECT_OK, file=result.source.name),
            message,
            gateway.file_link(result.output),
            job_id=job.id,
        )

    async def _failed(self, job: JobRecord, gateway: NextcloudGateway, error: BaseException) -> None:
        outage = None
        if isinstance(error, NextcloudOutage) and await self._confirm_outage(error):
            outage = self.health.outage_length(utc_now())
        decision = self.policy.decide(job.retry_count, error, outage=outage, budget=self._outage_budget())
        if decision.retry and outage is not None and not decision.counted:
            await self.store.release(job.id, self.worker_id, message=decision.message)
            log.warning("Job #%d waits for Nextcloud (no attempt spent): %s", job.id, _describe(error))
            return
        if decision.retry:
            await self.store.requeue(
                job.id, self.worker_id, decision.message, decision.delay, count_attempt=decision.counted
            )
            log.warning("Job #%d will be retried in %.0f s: %s", job.id, decision.delay, decision.message)
            return
        if await self.store.fail(job.id, self.worker_id, decision.message) is None:
            return
        log.error("Job #%d failed: %s", job.id, decision.message)
        await self._tell_failure(job, gateway, decision.message)

    async def _tell_failure(self, job: JobRecord, gateway: NextcloudGateway, reason: str) -> None:
        # ``reason`` is usually a Message: translate() renders it in the job's language too.
        name = job.source_path.rsplit("/", 1)[-1]
        await self._notify(
            gateway,
            translate(job.language, SUBJECT_FAILED, file=name),
            translate(job.language, MESSAGE_FAILED, file=name, reason=reason),
            gateway.folder_link(job.source_path),
            job_id=job.id,
        )

    async def _notify(
        self, gateway: NextcloudGateway, subject: str, message: str, link: str = "", *, job_id: int | None = None
    ) -> None:
        # A notification must not change the job's outcome; one that Nextcloud could not take because it is
        # down waits in the outbox and is sent when it is back.
        if self.health.reachable:
            try:
                with anyio.fail_after(30):
                    await gateway.notify(subject, message, link)
                return
            except (NextcloudUnavailable, TimeoutError) as exc:
                log.warning("Could not send the notification now, keeping it for later: %s", _describe(exc))
                if isinstance(exc, NextcloudOutage | TimeoutError):
                    await self._confirm_outage(exc)
            except Exception as exc:
                log.warning("Could not send the notification: %s", _describe(exc))
                return
        try:
            await self.store.queue_notification(gateway.user_id, subject, message, link, job_id=job_id)
        except Exception:
            log.exception("Could not keep the notification for later")

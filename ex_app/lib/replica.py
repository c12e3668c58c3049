"""``video-converter-fm worker``: the worker alone — more conversion capacity, on this machine or others.

The ExApp that AppAPI registered keeps serving the API and the page (and may convert too, unless
``VCFM_LOCAL_WORKER=false``). A replica runs only :class:`~.worker.Worker` against the same job database
(``VCFM_DATABASE_URL``, PostgreSQL when the replicas are on other machines) and talks to Nextcloud as the
ExApp: nc_py_api reads ``APP_ID``, ``APP_SECRET``, ``APP_VERSION`` and ``NEXTCLOUD_URL`` from the environment,
exactly as in the container AppAPI starts. There is no HTTP server and no registration.

Before it claims anything the replica checks what it depends on and stops with one sentence naming what is
wrong (:class:`StartFailed`): missing environment, the database (reachable, migrated by the ExApp to the
revision this code expects — a replica never migrates), Nextcloud (reachable, accepting the app's secret),
and ffmpeg. SIGTERM (``docker stop``, a Kubernetes rolling update) hands the running jobs back to the queue
and exits; another replica starts them afresh at once.
"""

from __future__ import annotations

import logging
import os
import signal

import anyio
from nc_py_api import AsyncNextcloudApp

from . import nclog
from .admin_settings import LiveSettings
from .errors import NextcloudUnavailable, PermissionDenied
from .jobs import JobStore
from .lifecycle import refresh_admin_settings
from .logs import configure_logging
from .nextcloud import NextcloudGateway, check_app_credentials
from .ops import DatabaseUnavailable, open_existing_store
from .ops.database import redact_url
from .ops.status import ffmpeg_status
from .settings import Settings
from .worker import GatewayFactory, Worker

log = logging.getLogger("video_converter_fm.replica")

#: Exit codes (the ops CLI's where they mean the same).
EXIT_CONFIG = 2
EXIT_DATABASE = 3
EXIT_NEXTCLOUD = 5
EXIT_FFMPEG = 6

#: How long Nextcloud may take to answer the start check.
NEXTCLOUD_CHECK_SECONDS = 15.0

#: What nc_py_api needs to speak for the ExApp.
APP_ENVIRONMENT = ("APP_ID", "APP_SECRET", "APP_VERSION", "NEXTCLOUD_URL")


class StartFailed(Exception):
    """The replica cannot work; ``message`` is one sentence for the admin, ``code`` the exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def check_database(settings: Settings) -> JobStore:
    """A store on the job database, which must exist at the schema revision this code expects."""
    try:
        store, info = await open_existing_store(settings.database_url)
    except DatabaseUnavailable as exc:
        raise StartFailed(EXIT_DATABASE, f"the job database cannot be used: {exc.user_message}") from None
    if not info.up_to_date:
        await store.close()
        raise StartFailed(
            EXIT_DATABASE,
            f"the job database ({redact_url(settings.database_url)}) is not migrated: its schema is at revision "
            f"{info.revision or 'none'}, this worker needs {info.head}. Start (or update) the ExApp first; "
            "it migrates the database",
        )
    return store


async def check_nextcloud() -> None:
    """Nextcloud answers and accepts the ExApp's id and secret."""
    missing = [name for name in APP_ENVIRONMENT if not os.environ.get(name)]
    if missing:
        raise StartFailed(
            EXIT_CONFIG,
            f"{', '.join(missing)} not set: a worker talks to Nextcloud as the ExApp and needs the app id, "
            "secret, version and Nextcloud URL the ExApp was registered with",
        )
    url = os.environ["NEXTCLOUD_URL"]
    try:
        with anyio.fail_after(NEXTCLOUD_CHECK_SECONDS):
            enabled = await check_app_credentials(AsyncNextcloudApp())
    except TimeoutError:
        raise StartFailed(
            EXIT_NEXTCLOUD, f"Nextcloud at {url} is unreachable: no answer within {NEXTCLOUD_CHECK_SECONDS:g} s"
        ) from None
    except NextcloudUnavailable as exc:
        cause = exc.__cause__
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else exc.user_message
        raise StartFailed(EXIT_NEXTCLOUD, f"Nextcloud at {url} is unreachable ({detail})") from None
    except PermissionDenied as exc:
        raise StartFailed(EXIT_NEXTCLOUD, f"Nextcloud at {url}: {exc.user_message}") from None
    except Exception as exc:  # anything else nc_py_api raises: still one sentence, never a traceback
        raise StartFailed(EXIT_NEXTCLOUD, f"Nextcloud at {url} could not be asked: {exc}") from None
    if not enabled:
        log.warning("The ExApp is disabled in Nextcloud; queued jobs are still converted")


async def check_ffmpeg(settings: Settings) -> None:
    found = await ffmpeg_status(settings.ffmpeg_path)
    if not found.found:
        raise StartFailed(EXIT_FFMPEG, f"ffmpeg cannot be run ({settings.ffmpeg_path}): {found.error}")


async def serve(settings: Settings, gateway_factory: GatewayFactory = NextcloudGateway) -> None:
    """Check the inputs, then convert until SIGTERM or SIGINT; ``StartFailed`` if a check fails."""
    configure_logging(settings.log_level)
    store = await check_database(settings)
    try:
        await check_nextcloud()
        await check_ffmpeg(settings)
        settings.scratch.mkdir(parents=True, exist_ok=True)
        to_nextcloud = nclog.install()
        live = LiveSettings(settings)
        worker = Worker(store, settings, gateway_factory, live)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, tg.cancel_scope)
            # The admin settings (concurrency, limits, offered targets) apply to replicas as to the ExApp.
            tg.start_soon(refresh_admin_settings, live, settings.settings_idle_refresh_seconds)
            tg.start_soon(nclog.forward_to_nextcloud, to_nextcloud)
            await worker.run()
    finally:
        with anyio.CancelScope(shield=True):
            await store.close()


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("%s received: handing running jobs back to the queue and stopping", signal.Signals(signum).name)
            scope.cancel()
            return

"""The FastAPI application: middleware, lifespan (database + worker), error answers.

Nothing runs at import: the database is opened and the worker started in the lifespan, so importing this
module twice (uvicorn reload, tests) starts nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from nc_py_api.ex_app import set_handlers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from . import nclog
from .admin_settings import LiveSettings
from .api.auth import AdminCheck, AppAPIAuth
from .api.routes import ROUTERS
from .chooser import ProbeCache
from .errors import ConverterError, InvalidRequest, JobError, NextcloudUnavailable, PermissionDenied, SourceGone
from .i18n import _, language_from_header
from .jobs import JobStore
from .lifecycle import follow_offered_targets, make_enabled_handler, refresh_admin_settings, report_initialised
from .logs import configure_logging
from .nextcloud import NextcloudGateway
from .settings import Settings, get_settings
from .worker import GatewayFactory, Worker

EX_APP_DIR = Path(__file__).resolve().parents[1]


class PageAssets(StaticFiles):
    """The Conversions page's built script and style sheet.

    Revalidated on every page load (a cheap 304 thanks to the ETag): the ``?v=`` AppAPI puts on the URL is
    Nextcloud's version, not ours, so with AppAPI's default ``max-age=3600`` a browser could run an old script
    against a newer API for an hour after an upgrade.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def create_app(settings: Settings | None = None, gateway_factory: GatewayFactory = NextcloudGateway) -> FastAPI:
    """Build the ExApp. ``settings`` defaults to the environment's."""
    settings = settings or get_settings()

    live = LiveSettings(settings)
    follow_offered_targets(live)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        to_nextcloud = nclog.install()
        settings.scratch.mkdir(parents=True, exist_ok=True)
        store = await JobStore.open(settings.database_url)
        worker = Worker(store, settings, gateway_factory, live)
        app.state.store, app.state.worker = store, worker
        try:
            async with anyio.create_task_group() as tg:
                app.state.task_group = tg
                if settings.local_worker:
                    tg.start_soon(worker.run)
                # else: replicas (`video-converter-fm worker`) convert; the API only queues and reports.
                tg.start_soon(refresh_admin_settings, live, settings.settings_idle_refresh_seconds)
                tg.start_soon(nclog.forward_to_nextcloud, to_nextcloud)
                yield
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await store.close()

    app = FastAPI(title="Video converter", lifespan=lifespan, version=_app_version())
    app.state.settings = settings
    app.state.live = live
    app.state.gateway_factory = gateway_factory
    app.state.probe_cache = ProbeCache()
    app.state.admin_check = AdminCheck()
    # Every route but /heartbeat needs AppAPI's signed headers; the middleware answers 401 otherwise
    # (tests/unit/api/test_auth_sweep.py tries every route and mount).
    app.add_middleware(AppAPIAuth)
    set_handlers(app, make_enabled_handler(live), default_init=False, map_app_static=False)

    @app.post("/init")
    async def init() -> dict:
        # AppAPI waits for progress 100 (sent after this answer) before it enables us.
        app.state.task_group.start_soon(report_initialised)
        return {}

    for router in ROUTERS:
        app.include_router(router)
    # Served through AppAPI's proxy (routes in info.xml). StaticFiles sends ETag and Last-Modified and answers
    # If-None-Match with 304; icons go out as exactly image/svg+xml, which the Files plugin insists on.
    # js/ and css/ may not exist yet (make build writes them), hence check_dir=False.
    app.mount("/img", StaticFiles(directory=EX_APP_DIR / "img"), name="img")
    app.mount("/js", PageAssets(directory=EX_APP_DIR / "js", check_dir=False), name="js")
    app.mount("/css", PageAssets(directory=EX_APP_DIR / "css", check_dir=False), name="css")
    _install_error_handlers(app)
    return app


def http_status(exc: ConverterError) -> int:
    """The HTTP status that tells a caller what went wrong (one place, so every route answers alike)."""
    if isinstance(exc, InvalidRequest):
        return exc.status_code
    if isinstance(exc, SourceGone):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NextcloudUnavailable):
        return 502
    if isinstance(exc, JobError):
        return 400
    return 500


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ConverterError)
    async def ours(request: Request, exc: ConverterError) -> JSONResponse:
        # In the caller's language: the page shows these sentences as they come.
        language = language_from_header(request.headers.get("accept-language"))
        return JSONResponse({"error": exc.user_message.render(language)}, status_code=http_status(exc))

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's list of problems is precise but hard to read; lead with one sentence naming the fields.
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        detail = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        return JSONResponse({"error": "; ".join(problems), "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own answers (no such route 404, wrong method 405, a static file missing) in our shape.
        headers = dict(exc.headers or {})
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the caller's fault: say so without internals. Starlette re-raises the exception after this
        # answer, so the server still logs the traceback once.
        return JSONResponse({"error": _("Something went wrong in the video converter")}, status_code=500)


def _app_version() -> str:
    return os.environ.get("APP_VERSION", "0.1.0")

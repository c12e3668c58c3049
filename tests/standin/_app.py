"""The ASGI application: routes, the request log / fault injection layer, and the ``/__standin__`` controls."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._appapi import AppAPI, files_page, proxy
from ._dav import dav_entry
from ._embedded import core_shim, embedded_page, exapp_l10n, favicon, server_css
from ._http import sabre_error
from ._login import dashboard, login_form, login_submit, logout
from ._ocs import OCS
from ._session import SCOPE_KEY, SessionLayer
from ._state import INSTANCE_ID, Fault, StandinState

DAV_METHODS = [
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "MOVE",
    "COPY",
    "SEARCH",
    "REPORT",
    "OPTIONS",
    "LOCK",
    "UNLOCK",
    "POST",
]
CONTROL = "/__standin__"
# Sabre exception bodies of injected statuses: 503 as in maintenance, 507 as when the user's quota is used up
# (Nextcloud's QuotaPlugin throws InsufficientStorage on PUT and on the chunked upload's final MOVE).
FAULT_BODIES = {503: "ServiceUnavailable", 507: "InsufficientStorage"}


class DroppedConnection(Exception):
    """Raised on purpose mid-response so that the server closes the connection (fault kind ``drop``)."""


def _caller_of(headers: dict[str, str]) -> str | None:
    for name, prefix in (("authorization-app-api", ""), ("authorization", "basic ")):
        value = headers.get(name, "")
        if value and value.lower().startswith(prefix):
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                return base64.b64decode(value[len(prefix) :].strip()).decode().split(":", 1)[0]
    return None


class LogAndFaults:
    """Records every request (not the controls) and applies injected faults before routing."""

    def __init__(self, app: ASGIApp, state: StandinState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry: dict[str, Any] = {
            "seq": len(self.state.requests) + 1,
            "t": time.time(),
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "user": _caller_of(headers),
            "ex_app_id": headers.get("ex-app-id"),
            "headers": headers,
            "status": None,
            "fault": None,
        }
        self.state.requests.append(entry)
        started = time.monotonic()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        if self.state.maintenance and scope["path"] != "/status.php":
            await maintenance_response(scope["path"])(scope, receive, recording_send)
            entry["fault"] = "maintenance"
            entry["ms"] = round((time.monotonic() - started) * 1000, 1)
            return
        fault = self.state.take_fault(scope["method"], scope["path"])
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "status":
                response = (
                    sabre_error(FAULT_BODIES[fault.status], "Injected by the stand-in")
                    if fault.status in FAULT_BODIES
                    else Response(b"", fault.status)
                )
                response.status_code = fault.status
                await response(scope, receive, recording_send)
                entry["ms"] = round((time.monotonic() - started) * 1000, 1)
                return
            if fault.kind == "hang":
                await anyio.sleep(fault.seconds)
                # A request held up on its way reaches a Nextcloud that may have entered maintenance meanwhile.
                if self.state.maintenance:
                    await maintenance_response(scope["path"])(scope, receive, recording_send)
                    entry["ms"] = round((time.monotonic() - started) * 1000, 1)
                    return
            elif fault.kind == "drop":
                await recording_send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"1048576"), (b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": b"\0" * 1024, "more_body": True})
                raise DroppedConnection(f"stand-in fault: dropping {scope['method']} {scope['path']}")
        try:
            await self.app(scope, receive, recording_send)
        finally:
            caller = scope.get(SCOPE_KEY)
            entry["as_user"] = caller.user if caller is not None else None  # who Nextcloud took the caller for
            entry["ms"] = round((time.monotonic() - started) * 1000, 1)


MAINTENANCE_HEADERS = {"X-Nextcloud-Maintenance-Mode": "1", "Retry-After": "120"}


def maintenance_response(path: str) -> Response:
    """What Nextcloud answers while in maintenance mode: 503 with ``X-Nextcloud-Maintenance-Mode: 1``
    (base.php / ocs/v1.php); WebDAV's MaintenancePlugin words it as a Sabre ServiceUnavailable."""
    if path.startswith("/remote.php/"):
        response = sabre_error("ServiceUnavailable", "System is in maintenance mode.")
        response.headers.update(MAINTENANCE_HEADERS)
        return response
    if path.startswith("/ocs/"):
        body = {"ocs": {"meta": {"status": "failure", "statuscode": 503, "message": "Service unavailable"}, "data": []}}
        return JSONResponse(body, status_code=503, headers=MAINTENANCE_HEADERS)
    page = (
        "<!DOCTYPE html><html><body><h2>Maintenance mode</h2>"
        "<p>This Nextcloud instance is currently in maintenance mode.</p></body></html>"
    )
    return Response(page, status_code=503, media_type="text/html; charset=utf-8", headers=MAINTENANCE_HEADERS)


async def status_php(request: Request) -> Response:
    """``/status.php`` — answered even in maintenance mode, which it reports (what clients and probes read)."""
    state: StandinState = request.app.state.standin
    return JSONResponse(
        {
            "installed": True,
            "maintenance": state.maintenance,
            "needsDbUpgrade": False,
            "version": "29.0.6.1",
            "versionstring": "29.0.6",
            "edition": "",
            "productname": "Nextcloud",
            "extendedSupport": False,
        }
    )


# ---- controls --------------------------------------------------------------------------------------------------
async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    return (await request.json()) if body.strip() else {}


async def control_health(request: Request) -> Response:
    return JSONResponse({"ok": True, "instance_id": INSTANCE_ID})


async def control_reset(request: Request) -> Response:
    request.app.state.standin.reset()
    return JSONResponse({"ok": True})


async def control_users(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    if request.method == "GET":
        return JSONResponse({"users": sorted(state.users), "admins": sorted(state.admins)})
    data = await _json(request)
    state.add_user(data["user"], data.get("password", data["user"]), bool(data.get("admin")), data.get("display_name"))
    return JSONResponse({"ok": True}, status_code=201)


async def control_readonly(request: Request) -> Response:
    data = await _json(request)
    node = request.app.state.standin.mark_readonly_share(data["user"], data["path"])
    return JSONResponse({"ok": True, "file_id": node.file_id}, status_code=201)


async def control_faults(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    if request.method == "POST":
        data = await _json(request)
        if data.get("kind") not in ("status", "hang", "drop"):
            return JSONResponse({"error": "kind must be status, hang or drop"}, status_code=400)
        fields = {f.name for f in dataclasses.fields(Fault)}
        state.faults.append(Fault(**{k: v for k, v in data.items() if k in fields}))
        return JSONResponse({"ok": True}, status_code=201)
    if request.method == "DELETE":
        state.faults.clear()
        return JSONResponse({"ok": True})
    return JSONResponse({"faults": [dataclasses.asdict(f) for f in state.faults if f.count > 0]})


async def control_uploads(request: Request) -> Response:
    """Chunked-upload folders that exist now (``/remote.php/dav/uploads/<user>/<name>``): leftovers show here."""
    state: StandinState = request.app.state.standin
    with state.lock:
        uploads = [{"user": user, "name": name} for (user, name) in sorted(state.uploads)]
    return JSONResponse({"uploads": uploads})


async def control_requests(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    if request.method == "DELETE":
        state.requests.clear()
        return JSONResponse({"ok": True})
    since = int(request.query_params.get("since", "0"))
    return JSONResponse({"requests": [r for r in list(state.requests) if r["seq"] > since]})


async def control_nextcloud_log(request: Request) -> Response:
    """What ExApps wrote to Nextcloud's log (``nextcloud.log`` on a real server)."""
    state: StandinState = request.app.state.standin
    return JSONResponse({"entries": list(state.exapp_log)})


async def control_exapp_calls(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    if request.method == "DELETE":
        state.exapp_calls.clear()
        return JSONResponse({"ok": True})
    return JSONResponse({"calls": state.exapp_calls})


async def control_exapps(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    return JSONResponse(
        {
            "exapps": [
                {
                    "appid": a.appid,
                    "version": a.version,
                    "enabled": a.enabled,
                    "status": a.status,
                    "host": a.host,
                    "port": a.port,
                    "routes": a.routes,
                }
                for a in state.exapps.values()
            ],
            "log": state.exapp_log,
        }
    )


async def control_maintenance(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    if request.method == "POST":
        state.maintenance = bool((await _json(request)).get("on", True))
    return JSONResponse({"maintenance": state.maintenance})


async def control_occ(request: Request) -> Response:
    data = await _json(request)
    appapi: AppAPI = request.app.state.appapi
    code, output = await appapi.occ([str(a) for a in data.get("argv", [])])
    return JSONResponse({"exit_code": code, "output": output})


CONTROL_ROUTES = [
    Route("/health", control_health),
    Route("/reset", control_reset, methods=["POST"]),
    Route("/users", control_users, methods=["GET", "POST"]),
    Route("/readonly", control_readonly, methods=["POST"]),
    Route("/faults", control_faults, methods=["GET", "POST", "DELETE"]),
    Route("/requests", control_requests, methods=["GET", "DELETE"]),
    Route("/uploads", control_uploads),
    Route("/exapp-calls", control_exapp_calls, methods=["GET", "DELETE"]),
    Route("/exapps", control_exapps),
    Route("/nextcloud-log", control_nextcloud_log),
    Route("/occ", control_occ, methods=["POST"]),
    Route("/maintenance", control_maintenance, methods=["GET", "POST"]),
]


def create_app(state: StandinState | None = None) -> ASGIApp:
    """The stand-in as an ASGI app. Pass a :class:`StandinState` to inspect or prepare it from a test."""
    state = state or StandinState()
    appapi = AppAPI(state)
    ocs_handler = OCS(state, appapi)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await appapi.aclose()

    routes = [
        Route("/remote.php/dav{rest:path}", dav_entry, methods=DAV_METHODS),
        Route("/status.php", status_php),
        Route("/ocs/v{version:int}.php/{rest:path}", ocs_handler.__call__, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/index.php/apps/app_api/proxy/{appid}/{other:path}", proxy, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/apps/app_api/proxy/{appid}/{other:path}", proxy, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/index.php/apps/files/", files_page),
        Route("/index.php/apps/files", files_page),
        Route("/apps/files/", files_page),
        Route("/index.php/login", login_form, methods=["GET"]),
        Route("/index.php/login", login_submit, methods=["POST"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/index.php/logout", logout),
        Route("/logout", logout),
        Route("/index.php/apps/dashboard/", dashboard),
        Route("/apps/dashboard/", dashboard),
        # AppAPI's route is /embedded/{appId}/{name}/{other} with other = ".*": extra segments, same page.
        Route("/index.php/apps/app_api/embedded/{appid}/{name}", embedded_page),
        Route("/index.php/apps/app_api/embedded/{appid}/{name}/{other:path}", embedded_page),
        Route("/apps/app_api/embedded/{appid}/{name}", embedded_page),
        Route("/apps/app_api/embedded/{appid}/{name}/{other:path}", embedded_page),
        Route("/apps/{appid}/l10n/{file}", exapp_l10n),
        Route("/dist/core-main.js", core_shim),
        Route("/core/css/server.css", server_css),
        Route("/core/img/favicon.ico", favicon),
        Route("/favicon.ico", favicon),
        Mount(CONTROL, routes=CONTROL_ROUTES),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.router.redirect_slashes = False
    app.state.standin = state
    app.state.appapi = appapi
    wrapped = LogAndFaults(SessionLayer(app, state), state)
    wrapped.state = state  # type: ignore[attr-defined]
    return wrapped

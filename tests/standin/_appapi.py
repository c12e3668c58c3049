"""AppAPI's side of the contract: occ register/enable/disable/unregister, calls to the ExApp, the user proxy and
the Files page's list of file actions.

Modelled on AppAPI 3.2.3 (``lib/Command/ExApp/*.php``, ``Service/ExAppService.php``, ``Service/AppAPIService.php``,
``Controller/ExAppProxyController.php``, ``Listener/LoadFilesPluginListener.php``): the same order of calls, the same
headers, the same console messages and exit codes. Where the stand-in must differ (it never waits forever) the
difference is commented.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import json
import re
import secrets
import shlex
import string
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ._http import identify
from ._state import INSTANCE_ID, ExApp, StandinState

AA_VERSION = "3.2.3"
USER_AGENT = "Nextcloud Server Crawler"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
APP_API_RESPONSE_HEADERS = {"aa-version", "ex-app-id", "authorization-app-api", "ex-app-version", "aa-request-id"}
ACCESS_LEVELS = {"PUBLIC": 0, "USER": 1, "ADMIN": 2}
HEARTBEAT_INTERVAL = 0.5  # AppAPI sleeps 1 s between attempts; half keeps tests quick


def request_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def auth_headers(exapp: ExApp, user: str | None, req_id: str = "CLI") -> dict[str, str]:
    """``AppAPICommonService::buildAppAPIAuthHeaders``: the user is empty for lifecycle calls."""
    return {
        "AA-VERSION": AA_VERSION,
        "EX-APP-ID": exapp.appid,
        "EX-APP-VERSION": exapp.version,
        "AUTHORIZATION-APP-API": base64.b64encode(f"{user or ''}:{exapp.secret}".encode()).decode(),
        "AA-REQUEST-ID": req_id,
    }


class AppAPI:
    """The stand-in's AppAPI: one per app, sharing the state and one HTTP client towards ExApps."""

    def __init__(self, state: StandinState):
        self.state = state
        self.client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"},
                timeout=httpx.Timeout(30.0),
                follow_redirects=False,
            )
            # Guzzle sends no "Accept: */*" or "Connection" of its own; keep the recorded header set.
            for name in ("accept", "connection"):
                self.client.headers.pop(name, None)
        return self.client

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    # ---- calls to the ExApp ------------------------------------------------------------------------------------
    async def _call(
        self,
        exapp: ExApp,
        method: str,
        path: str,
        headers: dict[str, str],
        kind: str,
        timeout: float = 30.0,  # noqa: ASYNC109 - a per-request httpx timeout, not a cancel scope
    ) -> httpx.Response | None:
        entry: dict[str, Any] = {
            "kind": kind,
            "appid": exapp.appid,
            "method": method,
            "path": path.split("?")[0],
            "query": path.split("?", 1)[1] if "?" in path else "",
            "headers": dict(headers),
            "t": time.time(),
            "status": None,
        }
        self.state.exapp_calls.append(entry)
        try:
            response = await self._http().request(
                method,
                exapp.url + path,
                headers=headers,
                content=b"" if method in ("PUT", "POST") else None,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            return None
        entry["status"] = response.status_code
        entry["headers"] = dict(response.request.headers)  # what was really sent, client defaults included
        return response

    async def heartbeat_once(self, exapp: ExApp) -> bool:
        response = await self._call(
            exapp,
            "GET",
            "/heartbeat",
            {"Accept": "application/json", "Content-Type": "application/json"},
            "lifecycle",
            timeout=10.0,
        )
        if response is None or response.status_code != 200:
            return False
        with contextlib.suppress(ValueError):
            return response.json().get("status") == "ok"
        return False

    async def heartbeat(self, appid: str) -> bool:
        """``AppAPIService::heartbeatExApp``: retry until ``{"status": "ok"}`` (AppAPI: 10 min; here bounded)."""
        deadline = time.monotonic() + self.state.heartbeat_timeout
        while time.monotonic() < deadline:
            exapp = self.state.exapps.get(appid)
            if exapp is None:
                return False
            if await self.heartbeat_once(exapp):
                return True
            await anyio.sleep(HEARTBEAT_INTERVAL)
        return False

    async def dispatch_init(self, exapp: ExApp) -> None:
        """``dispatchExAppInitInternal``: progress 0, enabled, POST /init (404/501 → progress 100)."""
        await self.set_init_progress(exapp, 0)
        exapp.enabled = True
        exapp.status["error"] = ""
        response = await self._call(exapp, "POST", "/init", auth_headers(exapp, None), "lifecycle")
        if response is None:
            await self.set_init_progress(exapp, 0, "cURL error: the ExApp did not answer POST /init")
        elif response.status_code in (404, 501):
            await self.set_init_progress(exapp, 100)
        elif response.status_code >= 400:
            await self.set_init_progress(
                exapp, 0, f"Server error: `POST /init` resulted in a `{response.status_code}` response"
            )

    async def set_init_progress(self, exapp: ExApp, progress: int, error: str = "") -> None:
        """``AppAPIService::setAppInitProgress``; reaching 100 enables the ExApp (heartbeat + PUT /enabled=1)
        before the ExApp's own PUT /ex-app/status gets its answer — as AppAPI does."""
        if not 0 <= progress <= 100:
            raise ValueError("Invalid ExApp init status progress value")
        status = exapp.status
        if progress != 0 and status.get("init") == 100:
            return
        if error:
            status["error"] = error
        else:
            if progress == 0:
                status.update(action="init", init_start_time=int(time.time()), error="")
            status["init"] = progress
        if progress == 100:
            status.update(action="", type="")
            await self.enable(exapp)

    async def enable(self, exapp: ExApp) -> bool:
        """``AppAPIService::enableExApp``."""
        exapp.enabled = True
        exapp.status["error"] = ""
        if not await self.heartbeat(exapp.appid):
            return False
        headers = {**auth_headers(exapp, None), "Accept-Language": "en"}
        response = await self._call(exapp, "PUT", "/enabled?enabled=1", headers, "lifecycle", timeout=60.0)
        if response is None:
            exapp.enabled = False
            return False
        with contextlib.suppress(ValueError):
            body = response.json()
            if isinstance(body, dict) and body.get("error"):
                exapp.enabled = False
                return False
        return True

    async def disable(self, exapp: ExApp) -> bool:
        """``AppAPIService::disableExApp``: tell the ExApp first, then mark it disabled whatever it said."""
        headers = {**auth_headers(exapp, None), "Accept-Language": "en"}
        response = await self._call(exapp, "PUT", "/enabled?enabled=0", headers, "lifecycle", timeout=60.0)
        result = True
        if response is None:
            result = False
        else:
            with contextlib.suppress(ValueError):
                body = response.json()
                if isinstance(body, dict) and body.get("error"):
                    result = False
        exapp.enabled = False
        return result

    def forget(self, appid: str) -> None:
        """``ExAppService::unregisterExApp``: the app row, its routes, file actions, menus and forms (not its
        appconfig_ex / preferences_ex, which AppAPI 3.2 keeps)."""
        state = self.state
        state.exapps.pop(appid, None)
        tables = (state.file_actions, state.top_menus, state.settings_forms)
        for table in (*tables, state.ui_scripts, state.ui_styles, state.ui_initial_states):
            for key in [k for k in table if k[0] == appid]:
                del table[key]

    # ---- occ ------------------------------------------------------------------------------------------------------
    async def occ(self, argv: list[str]) -> tuple[int, str]:
        """Run one ``occ`` command line; returns (exit code, console output)."""
        out: list[str] = []
        if not argv:
            return 1, "Usage: occ app_api:app:register|enable|disable|unregister|list …\n"
        command, rest = argv[0], argv[1:]
        parser = argparse.ArgumentParser(prog=f"occ {command}", add_help=False, exit_on_error=False)
        parser.add_argument("appid", nargs="?")
        try:
            if command == "app_api:app:register":
                parser.add_argument("daemon", nargs="?")
                parser.add_argument("--json-info")
                parser.add_argument("--info-xml")
                parser.add_argument("--wait-finish", action="store_true")
                parser.add_argument("--silent", action="store_true")
                parser.add_argument("--force-scopes", action="store_true")
                parser.add_argument("--test-deploy-mode", action="store_true")
                args = parser.parse_args(rest)
                code = await self._register(args, out)
            elif command in ("app_api:app:enable", "app_api:app:disable"):
                args = parser.parse_args(rest)
                code = await self._enable_disable(command.endswith("enable"), args.appid, out)
            elif command == "app_api:app:unregister":
                for flag in ("--silent", "--force", "--rm-data", "--keep-data"):
                    parser.add_argument(flag, action="store_true")
                args = parser.parse_args(rest)
                code = await self._unregister(args, out)
            elif command == "app_api:app:list":
                out.append("ExApps:")
                for app in self.state.exapps.values():
                    state = "enabled" if app.enabled else "disabled"
                    out.append(f"{app.appid} ({app.name}): {app.version} [{state}]")
                code = 0
            else:
                return 1, f'Command "{command}" is not defined in the Nextcloud stand-in.\n'
        except (argparse.ArgumentError, SystemExit) as exc:
            return 1, f"{exc}\n"
        return code, "".join(line + "\n" for line in out)

    async def _register(self, args: argparse.Namespace, out: list[str]) -> int:
        state = self.state
        appid = args.appid
        if not appid:
            out.append('Not enough arguments (missing: "appid").')
            return 1
        if appid in state.exapps:
            if not args.test_deploy_mode:
                out.append(f"ExApp {appid} is already registered.")
                return 3
            self.forget(appid)
        if args.json_info is None:
            out.append(f"Failed to get app info for `{appid}` from the Appstore")
            return 1
        try:
            info = json.loads(args.json_info)
        except ValueError:
            info = None
        if not isinstance(info, dict):
            out.append("The stand-in could not parse --json-info")  # AppAPI would fail further down
            return 1
        info["id"] = info.get("id") or appid
        external = info.setdefault("external-app", {})
        for key in ("docker-install", "translations_folder", "routes"):
            if key in info:
                external[key] = info.pop(key)
        appid = info["id"]
        daemon_name = args.daemon or info.get("daemon_config_name") or state.default_daemon
        daemon = state.daemons.get(daemon_name)
        if daemon is None:
            out.append(f"Daemon config {daemon_name} not found.")
            return 2
        used = {a.port for a in state.exapps.values()}
        port = int(info.get("port") or next(p for p in range(23000, 24000) if p not in used))
        routes = []
        for route in external.get("routes") or []:
            route = dict(route)
            excluded = route.get("headers_to_exclude")
            # ExAppMapper stores a JSON list only when it is given as an array; anything else becomes "[]".
            route["headers_to_exclude"] = excluded if isinstance(excluded, list) else []
            routes.append(route)
        exapp = ExApp(
            appid=appid,
            version=str(info.get("version", "")),
            name=str(info.get("name", appid)),
            daemon_config_name=daemon_name,
            # Stand-in extension: a "host" in the json-info overrides the daemon's host (AppAPI ignores it).
            host=str(info.get("host") or daemon["host"]),
            port=port,
            secret=str(info.get("secret") or secrets.token_urlsafe(96)[:128]),
            routes=routes,
            l10n=_translations(external.get("translations_folder")),
        )
        state.exapps[appid] = exapp
        if not await self.heartbeat(appid):
            out.append(
                f"ExApp {appid} heartbeat check failed. Make sure that Nextcloud instance and ExApp can reach it other."
            )
            exapp.status["error"] = "Heartbeat check failed"
            return 1
        out.append(f"ExApp {appid} deployed successfully.")
        await self.dispatch_init(exapp)
        if args.wait_finish:
            # AppAPI polls every 0.1 s with no upper bound; the stand-in gives up after init_timeout.
            deadline = time.monotonic() + state.init_timeout
            while True:
                if exapp.status.get("error"):
                    out.append(f"ExApp {appid} initialization step failed. Error: {exapp.status['error']}")
                    return 1
                if exapp.status.get("init") == 100:
                    break
                if time.monotonic() > deadline:
                    out.append(
                        f"ExApp {appid} initialization step failed. Error: stand-in timeout "
                        f"({state.init_timeout:.0f} s) waiting for progress 100"
                    )
                    return 1
                await anyio.sleep(0.1)
        out.append(f"ExApp {appid} successfully registered.")
        return 0

    async def _enable_disable(self, enable: bool, appid: str | None, out: list[str]) -> int:
        word = "enable" if enable else "disable"
        exapp = self.state.exapps.get(appid or "")
        if exapp is None:
            out.append(f"ExApp {appid} not found. Failed to {word}.")
            return 1
        if exapp.enabled == enable:
            out.append(f"ExApp {appid} already {word}d.")
            return 0
        ok = await (self.enable(exapp) if enable else self.disable(exapp))
        if ok:
            out.append(f"ExApp {appid} successfully {word}d.")
            return 0
        out.append(f"Failed to {word} ExApp {appid}.")
        return 1

    async def _unregister(self, args: argparse.Namespace, out: list[str]) -> int:
        appid = args.appid
        exapp = self.state.exapps.get(appid or "")
        if exapp is None:
            if args.silent:
                return 0
            out.append(f"ExApp {appid} not found. Failed to unregister.")
            return 1
        if exapp.enabled:
            if not await self.disable(exapp):
                if not args.silent:
                    out.append(f"Error during disabling {appid} ExApp.")
                if not args.force:
                    return 1
            elif not args.silent:
                out.append(f"ExApp {appid} successfully disabled.")
        self.forget(exapp.appid)
        if not args.silent:
            out.append(f"ExApp {appid} successfully unregistered.")
        return 0


def _translations(folder: object) -> dict[str, bytes]:
    """What AppAPI copies into the apps dir from ``translations_folder`` (a path on the Nextcloud server)."""
    if not isinstance(folder, str) or not folder or not Path(folder).is_dir():
        return {}
    return {f.name: f.read_bytes() for f in sorted(Path(folder).iterdir()) if f.suffix in (".js", ".json")}


# ---- the user proxy ------------------------------------------------------------------------------------------------
def _route_for(exapp: ExApp, other: str, method: str, user: str | None, state: StandinState) -> dict | None:
    """``passesExAppProxyRoutesChecks``: unanchored, case-insensitive regex; verb is a substring match."""
    for route in exapp.routes:
        try:
            matched = re.search(route.get("url", ""), other, re.IGNORECASE) is not None
        except re.error:
            continue
        if not matched or method.lower() not in str(route.get("verb", "")).lower():
            continue
        level = route.get("access_level")
        if not isinstance(level, int) or isinstance(level, bool):
            # AppAPI 3.2 stores --json-info access levels as given and its int-typed check then fails (a 500);
            # json-info must carry 0/1/2.
            raise TypeError(f"access_level {level!r} of route {route.get('url')!r} is not an int")
        if level == 0 or (level == 1 and user is not None) or (level == 2 and user in state.admins):
            return route
    return None


async def proxy(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    appapi: AppAPI = request.app.state.appapi
    appid = request.path_params["appid"]
    other = request.path_params.get("other", "")
    caller = identify(request, state)
    user = caller.user
    exapp = state.exapps.get(appid)
    if exapp is None or not exapp.enabled:
        return _not_found_page()
    try:
        route = _route_for(exapp, other, request.method, user, state)
    except TypeError as exc:
        return Response(str(exc), 500)
    if route is None:
        return _not_found_page()
    excluded = [str(h) for h in route.get("headers_to_exclude", [])]
    excluded += ["x-origin-ip", "authorization-app-api"]
    headers: list[tuple[str, str]] = []
    for name, value in request.headers.items():
        lname = name.lower()
        if lname in excluded or lname in HOP_BY_HOP:
            continue
        headers.append((name, value))
    if "cookie" in excluded and request.headers.get("cookie"):
        headers.append(("cookie", request.headers["cookie"]))  # the cookie jar re-adds session cookies
    names = {n.lower() for n, _ in headers}
    rid = request_id()
    appapi_headers = auth_headers(exapp, user, rid)
    headers = [(n, v) for n, v in headers if n.lower() not in {k.lower() for k in appapi_headers}]
    headers += list(appapi_headers.items())
    if "accept-language" not in names:
        # Recorded: the browser's Accept-Language is kept; AppAPI adds the user's language only when there is none.
        headers.append(("Accept-Language", state.languages.get(user or "", "en")))
    if "accept-encoding" not in names:
        headers.append(("Accept-Encoding", "gzip"))
    headers.append(("X-Origin-IP", request.client.host if request.client else "127.0.0.1"))
    url = exapp.url + "/" + other + (f"?{request.url.query}" if request.url.query else "")
    method = request.method.upper()
    has_body = method != "GET"
    client = appapi._http()
    entry = {
        "kind": "proxy",
        "appid": appid,
        "method": method,
        "path": "/" + other,
        "query": request.url.query,
        "headers": dict(headers),
        "t": time.time(),
        "status": None,
    }
    state.exapp_calls.append(entry)
    upstream_request = client.build_request(
        method, url, headers=headers, content=request.stream() if has_body else None, timeout=httpx.Timeout(None)
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except httpx.HTTPError as exc:
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return Response(b"", 500)
    entry["status"] = upstream.status_code
    entry["headers"] = dict(upstream.request.headers)
    out_headers = {
        k: v
        for k, v in upstream.headers.items()
        if k.lower() not in APP_API_RESPONSE_HEADERS and k.lower() not in HOP_BY_HOP
    }
    content_type = upstream.headers.get("content-type", "")
    if (
        "cache-control" not in upstream.headers
        and not other.endswith(".html")
        and content_type not in ("application/json", "application/x-tar")
    ):
        # ProxyResponse::cacheFor(3600), recorded whatever the status (a 304 too)
        out_headers["Cache-Control"] = "private, max-age=3600, must-revalidate"
        out_headers["Expires"] = formatdate(time.time() + 3600, usegmt=True)
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=out_headers,
        background=BackgroundTask(upstream.aclose),
    )


def _not_found_page() -> Response:
    # Nextcloud's NotFoundResponse renders the HTML 404 template.
    return HTMLResponse(
        "<!DOCTYPE html><html><head><title>Nextcloud</title></head><body>"
        "<h2>Page not found</h2><p>The page could not be found on the server.</p></body></html>",
        status_code=404,
    )


# ---- the Files page ------------------------------------------------------------------------------------------------
def file_action_row(row: dict[str, Any]) -> dict[str, Any]:
    """A files-actions-menu row as AppAPI serialises it (permissions as a string, as read back from the DB)."""
    return {
        k: row[k]
        for k in (
            "id",
            "appid",
            "name",
            "display_name",
            "mime",
            "permissions",
            "order",
            "icon",
            "action_handler",
            "version",
        )
    }


async def files_page(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    caller = identify(request, state)
    if caller.user is None:
        return RedirectResponse("/index.php/login?redirect_url=/index.php/apps/files/", status_code=303)
    states = {"core-config": {"version": "29.0.6.1"}, "files-config": {"show_hidden": False}}
    actions = state.enabled_file_actions()
    if actions:  # LoadFilesPluginListener provides the state only when there is at least one action
        states["app_api-ex_files_actions_menu"] = {
            "fileActions": [file_action_row(r) for r in actions],
            "instanceId": INSTANCE_ID,
        }
    inputs = "\n".join(
        f'<input type="hidden" id="initial-state-{html.escape(key)}" '
        f'value="{base64.b64encode(json.dumps(value).encode()).decode()}">'
        for key, value in states.items()
    )
    page = (
        f'<!DOCTYPE html>\n<html class="ng-csp" data-placeholder-focus="false" lang="en">\n<head>\n'
        f'<title>Files - Nextcloud</title>\n</head>\n<body id="body-user">\n{inputs}\n'
        f'<div id="content" class="app-files"></div>\n</body>\n</html>\n'
    )
    return HTMLResponse(page)


def format_argv(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)

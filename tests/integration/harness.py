"""One integration suite, two targets: the in-process stand-in or a real Nextcloud (``NC_URL`` set).

:class:`NextcloudTarget` is what tests talk to — user-side helpers over plain HTTP with basic auth, ``occ``, and
(stand-in only) ``faults`` and the logs. :class:`ExAppProcess` runs our ExApp as a subprocess and registers it.
Environment variables are documented in README.md next to this file.
"""

from __future__ import annotations

import base64
import email.utils
import http.cookiejar
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from tests.standin import StandinServer, StandinState, free_port

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "video_converter_fm"
AA_VERSION = "3.2.3"
PROXY = f"/index.php/apps/app_api/proxy/{APP_ID}/"


@dataclass(frozen=True)
class User:
    name: str
    password: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.name, self.password)


def app_version() -> str:
    root = ET.parse(ROOT / "appinfo" / "info.xml").getroot()
    return (root.findtext("version") or "0.0.0").strip()


class Faults:
    """Stand-in fault injection: the next ``count`` matching requests misbehave."""

    def __init__(self, client: httpx.Client):
        self._client = client

    def _add(self, **spec: Any) -> None:
        self._client.post(
            "/__standin__/faults", json={k: v for k, v in spec.items() if v is not None}
        ).raise_for_status()

    def status(
        self, count: int = 1, status: int = 503, method: str | None = None, path_prefix: str = "/remote.php/dav"
    ) -> None:
        self._add(kind="status", count=count, status=status, method=method, path_prefix=path_prefix)

    def hang(
        self, seconds: float, count: int = 1, method: str | None = None, path_prefix: str = "/remote.php/dav"
    ) -> None:
        self._add(kind="hang", count=count, seconds=seconds, method=method, path_prefix=path_prefix)

    def drop(self, count: int = 1, method: str | None = None, path_prefix: str = "/remote.php/dav") -> None:
        self._add(kind="drop", count=count, method=method, path_prefix=path_prefix)

    def clear(self) -> None:
        self._client.delete("/__standin__/faults").raise_for_status()

    def maintenance(self, on: bool = True) -> None:
        """Maintenance mode (``occ maintenance:mode --on``): every request but ``/status.php`` answers 503 with
        ``X-Nextcloud-Maintenance-Mode: 1``; status.php says ``"maintenance": true``."""
        self._client.post("/__standin__/maintenance", json={"on": on}).raise_for_status()

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Every request the stand-in received (method, path, query, status, user, headers, fault)."""
        return self._client.get("/__standin__/requests", params={"since": since}).json()["requests"]

    def uploads(self) -> list[dict[str, str]]:
        """Chunked-upload folders that exist now (user, name): an aborted upload must not leave one behind."""
        return self._client.get("/__standin__/uploads").json()["uploads"]

    def exapp_calls(self) -> list[dict[str, Any]]:
        """What the stand-in (as AppAPI) sent to ExApps: lifecycle calls and proxied requests."""
        return self._client.get("/__standin__/exapp-calls").json()["calls"]

    def nextcloud_log(self) -> list[dict[str, Any]]:
        """What ExApps sent to Nextcloud's log (app, level 0–4, message)."""
        return self._client.get("/__standin__/nextcloud-log").json()["entries"]

    def mark_readonly(self, user: str, path: str) -> None:
        """Make ``path`` a folder shared read-only with ``user`` (permissions SGD, writes → 403)."""
        self._client.post("/__standin__/readonly", json={"user": user, "path": path}).raise_for_status()


class NextcloudTarget:
    """A Nextcloud to test against; the same API for the stand-in and a real server."""

    def __init__(
        self, url: str, admin: User, alice: User, bob: User, occ_cmd: list[str], standin: StandinServer | None = None
    ):
        self.url = url.rstrip("/")
        self.admin, self.alice, self.bob = admin, alice, bob
        self.users = {"admin": admin, "alice": alice, "bob": bob}
        self.occ_cmd = occ_cmd
        self.standin = standin
        # Anonymous requests and the stand-in's controls: a client that keeps no cookies, so it can never carry
        # anybody's session. Each user gets a client of their own (``client(user)``): on a real Nextcloud a
        # request with alice's session cookie IS alice whatever Basic credentials it also carries, so a shared
        # cookie jar would silently turn "bob" into alice (it did: the isolation test failed on Nextcloud 29).
        self.http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(60.0), cookies=_no_cookies())
        self._clients: dict[str, httpx.Client] = {}
        self._faults = Faults(self.http) if standin else None

    @property
    def is_standin(self) -> bool:
        return self.standin is not None

    @property
    def faults(self) -> Faults:
        if self._faults is None:
            pytest.skip("needs the stand-in (fault injection / request log); NC_URL points at a real Nextcloud")
        return self._faults

    def close(self) -> None:
        self.http.close()
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def user(self, who: str | User) -> User:
        return who if isinstance(who, User) else self.users[who]

    def client(self, who: str | User) -> httpx.Client:
        """The user's own HTTP client: basic auth on every request, and a cookie jar no other user shares
        (it holds the session Nextcloud starts on the first answer, as a browser or a sync client would)."""
        user = self.user(who)
        client = self._clients.get(user.name)
        if client is None:
            client = self._clients[user.name] = httpx.Client(
                base_url=self.url, timeout=httpx.Timeout(60.0), auth=user.auth
            )
        return client

    # ---- occ --------------------------------------------------------------------------------------------------
    def occ(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``occ`` (NC_OCC for a real server, the look-alike CLI for the stand-in)."""
        result = subprocess.run([*self.occ_cmd, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError(
                f"occ {shlex.join(args[:2])} … exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    # ---- user-side files over WebDAV ---------------------------------------------------------------------------
    def _dav(self, user: User, path: str) -> str:
        return f"/remote.php/dav/files/{quote(user.name)}/{quote(path.strip('/'))}"

    def upload(self, who: str | User, path: str, data: bytes | str | os.PathLike[str]) -> str:
        """PUT a file (bytes, or a local path streamed from disk); returns its OC-FileId."""
        user = self.user(who)
        if isinstance(data, bytes):
            response = self.client(user).put(self._dav(user, path), content=data)
        else:
            with open(data, "rb") as fh:
                response = self.client(user).put(
                    self._dav(user, path),
                    content=fh,
                    headers={"Content-Length": str(os.path.getsize(data))},
                )
        response.raise_for_status()
        return response.headers["OC-FileId"]

    def download(self, who: str | User, path: str) -> bytes:
        user = self.user(who)
        response = self.client(user).get(self._dav(user, path))
        response.raise_for_status()
        return response.content

    def mkdir(self, who: str | User, path: str, exist_ok: bool = True) -> None:
        user = self.user(who)
        parts = [p for p in path.strip("/").split("/") if p]
        for i in range(1, len(parts) + 1):
            response = self.client(user).request("MKCOL", self._dav(user, "/".join(parts[:i])))
            if response.status_code == 405 and (exist_ok or i < len(parts)):
                continue
            response.raise_for_status()

    def move(self, who: str | User, source: str, destination: str) -> None:
        """WebDAV MOVE within the user's files (the file keeps its id)."""
        user = self.user(who)
        response = self.client(user).request(
            "MOVE",
            self._dav(user, source),
            headers={"Destination": str(self.http.base_url.join(self._dav(user, destination))), "Overwrite": "F"},
        )
        response.raise_for_status()

    def delete(self, who: str | User, path: str, missing_ok: bool = True) -> None:
        user = self.user(who)
        response = self.client(user).delete(self._dav(user, path))
        if response.status_code == 404 and missing_ok:
            return
        response.raise_for_status()

    def _propfind(self, user: User, path: str, depth: str) -> ET.Element:
        body = (
            '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
            "<d:resourcetype/><d:getcontentlength/><d:getcontenttype/><d:getlastmodified/><oc:fileid/>"
            "<oc:permissions/>"
            "</d:prop></d:propfind>"
        )
        response = self.client(user).request(
            "PROPFIND",
            self._dav(user, path),
            content=body,
            headers={"Depth": depth, "Content-Type": "application/xml"},
        )
        response.raise_for_status()
        return ET.fromstring(response.content)

    def listdir(self, who: str | User, path: str = "") -> list[str]:
        """Names in a folder (folders end with '/')."""
        user = self.user(who)
        root = self._propfind(user, path, "1")
        names = []
        for resp in root.findall("{DAV:}response")[1:]:
            href = resp.findtext("{DAV:}href") or ""
            name = href.rstrip("/").rsplit("/", 1)[-1]
            names.append(unquote(name) + ("/" if href.endswith("/") else ""))
        return sorted(names)

    def file_id(self, who: str | User, path: str) -> int:
        user = self.user(who)
        root = self._propfind(user, path, "0")
        return int(root.findtext(".//{http://owncloud.org/ns}fileid") or "0")

    def mtime(self, who: str | User, path: str) -> float:
        """The file's modification time (seconds since the epoch) as Nextcloud reports it."""
        root = self._propfind(self.user(who), path, "0")
        return email.utils.parsedate_to_datetime(root.findtext(".//{DAV:}getlastmodified") or "").timestamp()

    # ---- admin settings ---------------------------------------------------------------------------------------------
    def set_admin_setting(self, form_id: str, field_id: str, value: Any, app: str = APP_ID) -> None:
        """What Nextcloud's admin settings page sends when an admin changes a field of our declarative form."""
        response = self.client(self.admin).post(
            "/ocs/v2.php/settings/api/declarative/value",
            json={"app": app, "formId": form_id, "fieldId": field_id, "value": value},
            headers={"OCS-APIRequest": "true", "Accept": "application/json"},
        )
        response.raise_for_status()

    # ---- AppAPI proxy, notifications, Files page ---------------------------------------------------------------
    def proxy(self, who: str | User | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A user's request through AppAPI's proxy to our ExApp; ``who=None`` is anonymous."""
        client = self.client(who) if who is not None else self.http
        return client.request(method, PROXY + path.lstrip("/"), **kwargs)

    def notifications(self, who: str | User) -> list[dict[str, Any]]:
        user = self.user(who)
        response = self.client(user).get(
            "/ocs/v2.php/apps/notifications/api/v2/notifications",
            headers={"OCS-APIRequest": "true", "Accept": "application/json"},
        )
        response.raise_for_status()
        return response.json()["ocs"]["data"]

    def file_actions(self, who: str | User) -> list[dict[str, Any]]:
        """The file actions the Files page receives (AppAPI's initial state ``ex_files_actions_menu``)."""
        user = self.user(who)
        response = self.client(user).get("/index.php/apps/files/", follow_redirects=True)
        response.raise_for_status()
        match = re.search(r'id="initial-state-app_api-ex_files_actions_menu"\s+value="([^"]*)"', response.text)
        if not match:
            return []
        return json.loads(base64.b64decode(match.group(1)))["fileActions"]


def _no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that refuses every cookie (no domain is allowed)."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def standin_target(port: int | None = None) -> NextcloudTarget:
    server = StandinServer(StandinState(), port=port).start()
    admin, alice, bob = User("admin", "admin"), User("alice", "alice"), User("bob", "bob")
    occ = [sys.executable, "-m", "tests.standin.occ", "--url", server.url]
    return NextcloudTarget(server.url, admin, alice, bob, occ, standin=server)


def real_target() -> NextcloudTarget:
    def need(name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise pytest.UsageError(f"NC_URL is set, so {name} must be set too (see tests/integration/README.md)")
        return value

    admin = User(os.environ.get("NC_ADMIN_USER", "admin"), need("NC_ADMIN_PASSWORD"))
    alice = User(need("NC_USER"), need("NC_USER_PASSWORD"))
    bob = User(need("NC_USER2"), need("NC_USER2_PASSWORD"))
    return NextcloudTarget(need("NC_URL"), admin, alice, bob, shlex.split(need("NC_OCC")))


# ---- the ExApp ------------------------------------------------------------------------------------------------
class ExAppProcess:
    """Our ExApp as a subprocess (``python -m ex_app.lib.main``), registered with the target like an admin would."""

    def __init__(
        self,
        nextcloud: NextcloudTarget,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
        host: str | None = None,
        port: int | None = None,
    ):
        self.nc = nextcloud
        self.host = host or os.environ.get("EXAPP_HOST", "127.0.0.1")
        self.port = port or int(os.environ.get("EXAPP_PORT", "0")) or free_port()
        self.secret = secrets.token_urlsafe(48)
        self.version = app_version()
        self.storage = workdir / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "exapp.log"
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.registered = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "APP_ID": APP_ID,
            "APP_SECRET": self.secret,
            "APP_VERSION": self.version,
            "AA_VERSION": AA_VERSION,
            "APP_HOST": os.environ.get("EXAPP_BIND", self.host),
            "APP_PORT": str(self.port),
            "NEXTCLOUD_URL": self.nc.url,
            "APP_PERSISTENT_STORAGE": str(self.storage),
            **self.extra_env,
        }

    def start(self, timeout: float = 30.0) -> ExAppProcess:
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in _reap
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ex_app.lib.main"],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._log = log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the ExApp exited with {self.proc.returncode}; log:\n{self.log()}")
            try:
                if httpx.get(self.url + "/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the ExApp did not answer /heartbeat within {timeout} s; log:\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reap()

    def kill(self) -> None:
        """SIGKILL, for crash tests: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reap()

    def restart(self, **extra_env: str) -> ExAppProcess:
        self.stop()
        self.extra_env.update(extra_env)
        return self.start()

    def _reap(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
            self._log = None
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def json_info(self) -> str:
        result = subprocess.run(
            [
                sys.executable,
                "scripts/json_info.py",
                f"--host={self.host}",
                "--port",
                str(self.port),
                f"--secret={self.secret}",
                # The stand-in runs on this machine, so it can copy l10n/ as AppAPI does from this server path; a
                # real Nextcloud elsewhere could not (set NC_TRANSLATIONS_FOLDER to its own copy's path).
                *self._translations_folder(),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def _translations_folder(self) -> list[str]:
        folder = os.environ.get("NC_TRANSLATIONS_FOLDER") or (str(ROOT / "l10n") if self.nc.is_standin else "")
        return [f"--translations-folder={folder}"] if folder else []

    def register(self) -> None:
        """``occ app_api:app:register video_converter_fm manual_install --json-info … --wait-finish``."""
        self.nc.occ("app_api:app:unregister", APP_ID, "--silent", "--force", check=False)
        self.nc.occ("app_api:app:register", APP_ID, "manual_install", "--json-info", self.json_info(), "--wait-finish")
        self.registered = True

    def unregister(self) -> None:
        if self.registered:
            self.nc.occ("app_api:app:unregister", APP_ID, "--silent", "--force", check=False)
            self.registered = False

    # direct calls, bypassing AppAPI
    def direct(
        self, method: str, path: str, user: str | None = None, secret: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """A request straight to the ExApp port; with ``user``/``secret`` it carries AppAPI-style headers."""
        headers = dict(kwargs.pop("headers", {}))
        if user is not None or secret is not None:
            token = base64.b64encode(f"{user or ''}:{secret if secret is not None else self.secret}".encode())
            headers.update(
                {
                    "AA-VERSION": AA_VERSION,
                    "EX-APP-ID": APP_ID,
                    "EX-APP-VERSION": self.version,
                    "AUTHORIZATION-APP-API": token.decode(),
                }
            )
        return httpx.request(method, self.url + "/" + path.lstrip("/"), headers=headers, timeout=30, **kwargs)

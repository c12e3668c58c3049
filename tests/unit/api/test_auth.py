"""Every route but /heartbeat refuses a request without AppAPI's signature; admins are asked of Nextcloud.

The sweep walks the app's OpenAPI schema *and* its route table (mounts included), so a route added later is
covered without touching this file.
"""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from ex_app.lib.api.auth import AdminCheck, _signed_user
from ex_app.lib.app import create_app
from ex_app.lib.settings import Settings

APP_ID, SECRET, VERSION = "video_converter_fm", "sweep-secret-0123456789", "1.0.0"
OPEN = {"/heartbeat"}


def signed(user: str = "alice", secret: str = SECRET, app_id: str = APP_ID) -> dict[str, str]:
    return {
        "AA-VERSION": "3.2.3",
        "EX-APP-ID": app_id,
        "EX-APP-VERSION": VERSION,
        "AUTHORIZATION-APP-API": base64.b64encode(f"{user}:{secret}".encode()).decode(),
    }


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path) -> FastAPI:
    for name, value in {
        "APP_ID": APP_ID,
        "APP_SECRET": SECRET,
        "APP_VERSION": VERSION,
        "NEXTCLOUD_URL": "http://127.0.0.1:9",
        "APP_PERSISTENT_STORAGE": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    return create_app(Settings())


def endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """(method, concrete path) for every operation in the OpenAPI schema and every route and mount."""
    found: set[tuple[str, str]] = set()
    for path, operations in app.openapi()["paths"].items():
        found |= {(method.upper(), path) for method in operations}
    # FastAPI keeps included routers as such; iter_route_contexts flattens them into the routes they serve.
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute | Route):
            found |= {(method, context.path) for method in context.methods or ()}
        elif isinstance(route, Mount):
            found |= {(method, context.path.rstrip("/") + "/app.svg") for method in ("GET", "HEAD")}
        else:  # a new kind of route must be added to the sweep, not skipped by it
            raise AssertionError(f"the sweep does not know {type(route).__name__} {context.path}")
    return sorted((method, re.sub(r"\{[^}]+\}", "1", path)) for method, path in found)


async def _request(app: FastAPI, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://exapp") as client:
        return await client.request(method, path, headers=headers)


def test_the_sweep_sees_the_routes_it_must_guard(app: FastAPI):
    paths = {path for _, path in endpoints(app)}
    assert {"/api/jobs", "/api/jobs/1", "/api/admin/status", "/img/app.svg", "/enabled", "/heartbeat"} <= paths
    assert len(paths) >= 10


@pytest.mark.anyio
async def test_every_route_but_heartbeat_refuses_an_unsigned_request(app: FastAPI):
    wrong = [
        {},
        signed(secret="not-the-secret"),
        signed(app_id="another_app"),
        {**signed(), "AUTHORIZATION-APP-API": "%%% not base64"},
        {k: v for k, v in signed().items() if k != "EX-APP-VERSION"},
        {"Authorization": "Basic " + base64.b64encode(b"alice:alice").decode()},
    ]
    refused = []
    for method, path in endpoints(app):
        for headers in wrong:
            response = await _request(app, method, path, headers)
            if path in OPEN:
                assert response.status_code == 200, (method, path)
                continue
            refused.append((method, path))
            assert response.status_code == 401, (method, path, headers, response.status_code)
            if method != "HEAD":
                assert response.json() == {"error": "AppAPI authentication failed"}
    assert len(refused) >= 10 * len(wrong)


@pytest.mark.anyio
async def test_a_signed_request_gets_through(app: FastAPI):
    # Control for the sweep: the same static file answers once AppAPI's signature is right.
    assert (await _request(app, "GET", "/img/app.svg")).status_code == 401
    response = await _request(app, "GET", "/img/app.svg", signed())
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.anyio
async def test_unknown_routes_and_methods_answer_in_our_error_shape(app: FastAPI):
    missing = await _request(app, "GET", "/api/nope", signed())
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    wrong_method = await _request(app, "PATCH", "/api/jobs", signed())
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()
    no_icon = await _request(app, "GET", "/img/nope.svg", signed())
    assert no_icon.status_code == 404 and "error" in no_icon.json()


@pytest.mark.anyio
async def test_lifecycle_routes_refuse_a_request_signed_for_a_user(app: FastAPI):
    response = await _request(app, "PUT", "/enabled?enabled=0", signed("alice"))
    assert response.status_code == 403 and "error" in response.json()
    assert (await _request(app, "POST", "/init", signed("alice"))).status_code == 403


@pytest.mark.parametrize(
    ("header", "user"),
    [
        (base64.b64encode(f"alice:{SECRET}".encode()).decode(), "alice"),
        (base64.b64encode(f":{SECRET}".encode()).decode(), ""),  # AppAPI's lifecycle calls carry no user
        (base64.b64encode(f"alice:{SECRET}x".encode()).decode(), None),
        (base64.b64encode(b"alice").decode(), None),
        ("YWxpY2U6\n", None),
    ],
)
def test_the_signature_names_the_user(header: str, user: str | None):
    headers = {"ex-app-id": APP_ID, "ex-app-version": VERSION, "authorization-app-api": header}
    assert _signed_user(headers, APP_ID, SECRET) == user


def test_no_secret_configured_refuses_everyone():
    headers = {k.lower(): v for k, v in signed(secret="").items()}
    assert _signed_user(headers, APP_ID, "") is None


class _Asker:
    def __init__(self, answers: dict[str, bool]):
        self.answers, self.asked = answers, []

    def __call__(self, user: str) -> _Asker:
        self.asked.append(user)
        self._user = user
        return self

    async def is_admin(self) -> bool:
        return self.answers[self._user]


@pytest.mark.anyio
async def test_admin_answers_are_remembered_briefly_per_user():
    now = [0.0]
    check = AdminCheck(ttl=30, clock=lambda: now[0])
    nextcloud = _Asker({"admin": True, "alice": False})
    assert await check.is_admin("admin", nextcloud) is True
    assert await check.is_admin("alice", nextcloud) is False
    assert await check.is_admin("alice", nextcloud) is False
    assert nextcloud.asked == ["admin", "alice"]
    now[0] = 31.0
    nextcloud.answers["alice"] = True  # made an admin meanwhile
    assert await check.is_admin("alice", nextcloud) is True
    assert nextcloud.asked == ["admin", "alice", "alice"]


@pytest.mark.anyio
async def test_an_unexpected_failure_answers_500_in_our_error_shape(app: FastAPI):
    async def broken() -> dict:
        raise RuntimeError("internal detail that must not leak")

    app.add_api_route("/api/broken-for-this-test", broken)
    response = await _request(app, "GET", "/api/broken-for-this-test", signed())
    assert response.status_code == 500
    assert response.json() == {"error": "Something went wrong in the video converter"}

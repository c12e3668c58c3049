"""Registering, enabling and disabling the ExApp, and who may reach it — against the stand-in or a real server."""

from __future__ import annotations

import base64

import pytest

from .harness import APP_ID, ExAppProcess, NextcloudTarget

pytestmark = pytest.mark.integration

ACTIONS = {"Convert into MP4", "Convert into WebM", "Convert into MKV", "Extract audio (MP3)"}


def _our_actions(nextcloud: NextcloudTarget, user: str) -> list[dict]:
    return [a for a in nextcloud.file_actions(user) if a["appid"] == APP_ID]


def test_registering_runs_the_recorded_lifecycle_sequence(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    calls = [c for c in nextcloud.faults.exapp_calls() if c["kind"] == "lifecycle" and c["appid"] == APP_ID]
    sequence = [f"{c['method']} {c['path']}" + (f"?{c['query']}" if c["query"] else "") for c in calls[:4]]
    assert sequence == ["GET /heartbeat", "POST /init", "GET /heartbeat", "PUT /enabled?enabled=1"]
    assert all(c["status"] == 200 for c in calls[:4])
    init = {k.lower(): v for k, v in calls[1]["headers"].items()}
    assert init["user-agent"] == "Nextcloud Server Crawler" and init["aa-version"] == "3.2.3"
    assert init["authorization-app-api"] == base64.b64encode(f":{exapp.secret}".encode()).decode()
    assert init["aa-request-id"] == "CLI"


def test_registered_app_lists_its_four_video_actions_for_alice(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    actions = {a["display_name"]: a for a in _our_actions(nextcloud, "alice")}
    # The brief's four; the app may offer more targets (the lead decides the final list).
    assert set(actions) >= ACTIONS
    assert {actions[name]["mime"] for name in ACTIONS} == {"video"}


def test_disabling_removes_the_actions_and_enabling_brings_them_back(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    out = nextcloud.occ("app_api:app:disable", APP_ID)
    assert f"ExApp {APP_ID} successfully disabled." in out.stdout
    try:
        assert _our_actions(nextcloud, "alice") == []
    finally:
        out = nextcloud.occ("app_api:app:enable", APP_ID)
    assert f"ExApp {APP_ID} successfully enabled." in out.stdout
    assert {a["display_name"] for a in _our_actions(nextcloud, "alice")} >= ACTIONS


def test_targets_through_the_proxy_answer_for_the_calling_user(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    response = nextcloud.proxy("alice", "GET", "api/targets")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == nextcloud.alice.name
    assert body["targets"]


def test_an_undeclared_route_through_the_proxy_is_404(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    assert nextcloud.proxy("alice", "GET", "api/no-such-route").status_code == 404


def test_an_anonymous_proxy_call_is_404_as_appapi_answers(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    assert nextcloud.proxy(None, "GET", "api/targets").status_code == 404


def test_direct_calls_without_or_with_wrong_appapi_headers_are_401(exapp: ExAppProcess):
    assert exapp.direct("GET", "api/targets").status_code == 401
    assert exapp.direct("GET", "api/targets", user="alice", secret="wrong").status_code == 401


def test_heartbeat_needs_no_auth(exapp: ExAppProcess):
    response = exapp.direct("GET", "heartbeat")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"

"""Registering, enabling and disabling the ExApp, and who may reach it — against the stand-in or a real server."""

from __future__ import annotations

import base64
import json
import re

import pytest

from .harness import APP_ID, ExAppProcess, NextcloudTarget

pytestmark = pytest.mark.integration

PAGE = f"/index.php/apps/app_api/embedded/{APP_ID}/conversions"


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


def test_registered_app_offers_one_convert_entry_for_video_and_audio(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    # By default no quick entries: one "Convert into…" that opens the Conversions page (see the README).
    (action,) = _our_actions(nextcloud, "alice")
    assert (action["name"], action["display_name"]) == ("vcfm_convert", "Convert into…")
    assert (action["mime"], action["action_handler"], action["version"]) == ("video,audio", "api/convert", "2.0")
    assert action["icon"] == "img/convert.svg"


def test_enable_registers_the_conversions_page(nextcloud: NextcloudTarget, exapp: ExAppProcess):
    page = nextcloud.http.get(PAGE, auth=nextcloud.alice.auth)
    assert page.status_code == 200, page.text
    assert f'src="/index.php/apps/app_api/proxy/{APP_ID}/js/video_converter_fm-main.js?v=' in page.text
    match = re.search(r'id="initial-state-app_api-config" value="([^"]+)"', page.text)
    assert match, "the page's initial state"
    config = json.loads(json.loads(base64.b64decode(match.group(1))))
    assert config["app_id"] == APP_ID and config["version"] == exapp.version and config["page"] == "conversions"
    assert config["api_base"] == f"/apps/app_api/proxy/{APP_ID}"
    if nextcloud.is_standin:
        state = nextcloud.standin.state
        assert state.top_menus[(APP_ID, "conversions")]["display_name"] == "Conversions"
        assert state.top_menus[(APP_ID, "conversions")]["icon"] == "img/app.svg"
        assert [k[3] for k in state.ui_scripts if k[0] == APP_ID] == ["js/video_converter_fm-main"]


def test_disabling_removes_the_page_and_the_actions_and_enabling_brings_them_back(
    nextcloud: NextcloudTarget, exapp: ExAppProcess
):
    out = nextcloud.occ("app_api:app:disable", APP_ID)
    assert f"ExApp {APP_ID} successfully disabled." in out.stdout
    try:
        assert _our_actions(nextcloud, "alice") == []
        assert nextcloud.http.get(PAGE, auth=nextcloud.alice.auth).status_code == 404
        if nextcloud.is_standin:
            state = nextcloud.standin.state
            assert (APP_ID, "conversions") not in state.top_menus
            leftovers = [k for t in (state.ui_scripts, state.ui_styles, state.ui_initial_states) for k in t]
            assert [k for k in leftovers if k[0] == APP_ID] == []
    finally:
        out = nextcloud.occ("app_api:app:enable", APP_ID)
    assert f"ExApp {APP_ID} successfully enabled." in out.stdout
    assert [a["name"] for a in _our_actions(nextcloud, "alice")] == ["vcfm_convert"]
    assert nextcloud.http.get(PAGE, auth=nextcloud.alice.auth).status_code == 200


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

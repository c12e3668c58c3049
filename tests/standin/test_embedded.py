"""The stand-in's embedded ExApp page, against the recorded AppAPI 3.2.3 (and NC32) pages and status rules."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import require
from tests.standin import StandinServer, StandinState
from tests.standin._state import ExApp
from tests.standin.test_contract import CONTRACT_DIR

APPID = "nc_ui_probe"
PAGE = f"/index.php/apps/app_api/embedded/{APPID}/jobs"


def prepare(state: StandinState, l10n: dict[str, bytes] | None = None) -> None:
    """The recorded probe ExApp, enabled, with the recorded top menu, script, style and initial state."""
    state.exapps[APPID] = ExApp(
        appid=APPID,
        version="1.0.0",
        name="probe",
        daemon_config_name="manual_install",
        host="127.0.0.1",
        port=1,
        secret="s",
        routes=[],
        enabled=True,
        l10n=dict(l10n or {}),
    )
    for name, admin in (("jobs", 0), ("admin_jobs", 1)):
        state.top_menus[(APPID, name)] = {
            "id": 5,
            "appid": APPID,
            "name": name,
            "display_name": "Conversions",
            "icon": "img/app.svg",
            "admin_required": admin,
        }
    key = (APPID, "top_menu", "jobs")
    state.ui_scripts[(*key, "js/probe-main")] = {
        "id": 1,
        "appid": APPID,
        "type": "top_menu",
        "name": "jobs",
        "path": "js/probe-main",
        "after_app_id": "",
    }
    state.ui_styles[(*key, "css/probe")] = {
        "id": 1,
        "appid": APPID,
        "type": "top_menu",
        "name": "jobs",
        "path": "css/probe",
    }
    state.ui_initial_states[(*key, "probe_state")] = {
        "id": 1,
        "appid": APPID,
        "type": "top_menu",
        "name": "jobs",
        "key": "probe_state",
        "value": {"hello": "world"},
    }


GERMAN = {
    "de.json": json.dumps({"translations": {"Conversions": "Umwandlungen"}, "pluralForm": "nplurals=2;"}).encode(),
    "de.js": b'OC.L10N.register("nc_ui_probe", {"Conversions": "Umwandlungen"}, "nplurals=2;");\n',
}


@pytest.fixture(params=[29, 32])
def server(request: pytest.FixtureRequest) -> Iterator[StandinServer]:
    state = StandinState(nc_version=request.param)
    prepare(state, GERMAN)
    with StandinServer(state) as srv:
        yield srv
    state.close()


def client(server: StandinServer, user: str | None = "alice") -> httpx.Client:
    auth = (user, user) if user else None
    return httpx.Client(base_url=server.url, auth=auth, timeout=10, follow_redirects=False)


def test_the_page_has_the_recorded_shape(server: StandinServer):
    with client(server) as alice:
        page = alice.get(PAGE)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache, no-store, must-revalidate"
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
    text = page.text
    assert '<html class="ng-csp" data-placeholder-focus="false" lang="en" data-locale="en" translate="no" >' in text
    token = re.search(r'<head data-user="alice" data-user-displayname="alice" data-requesttoken="([^"]+)">', text)
    assert token and len(token.group(1)) > 20
    assert re.search(r"<title>\s*Conversions - Nextcloud\s*</title>", text)
    v = "14550eca-0" if server.state.nc_version == 29 else "df83879a-0"
    style_v = "59466387-0" if server.state.nc_version == 29 else "a2a05700-0"
    script = f'<script nonce="{nonce}" defer src="/index.php/apps/app_api/proxy/{APPID}/js/probe-main.js?v={v}">'
    assert script in text
    assert f'href="/index.php/apps/app_api/proxy/{APPID}/css/probe.css?v={style_v}"' in text
    assert text.index("/dist/core-main.js") < text.index("js/probe-main.js"), "core first, then the ExApp"
    # The initial state: namespace app_api, the value JSON-encoded twice.
    value = re.search(r'id="initial-state-app_api-probe_state" value="([^"]+)"', text).group(1)
    assert json.loads(json.loads(base64.b64decode(value))) == {"hello": "world"}
    assert text.count('id="content"') == 2
    wrapper = "main" if server.state.nc_version == 29 else "div"
    assert f'<{wrapper} id="content" class="app-app_api">' in text
    apps = json.loads(base64.b64decode(re.search(r'id="initial-state-core-apps" value="([^"]+)"', text).group(1)))
    entries = apps if server.state.nc_version == 32 else list(apps.values())
    assert isinstance(apps, list if server.state.nc_version == 32 else dict)
    ours = next(e for e in entries if e["id"] == f"app_api_{APPID}_jobs")
    assert ours["href"] == PAGE and ours["active"] is True and ours["name"] == "Conversions"
    assert "admin_jobs" not in json.dumps(entries), "admin-only entries are not in alice's menu"
    assert "/l10n/" not in text, "no translations script for an English user"


def test_the_recorded_page_has_the_same_landmarks(server: StandinServer):
    name = "ui-embedded-page.html" if server.state.nc_version == 29 else "ui-embedded-page-nc32.html"
    recorded = CONTRACT_DIR / name
    require(recorded.is_file(), f"no recorded page at {recorded} (set NC_CONTRACT_DIR)")
    with client(server) as alice:
        ours = alice.get(PAGE).text
    theirs = recorded.read_text()
    for landmark in (
        r'<html class="ng-csp" data-placeholder-focus="false" lang="en" data-locale="en" translate="no" >',
        r'<head data-user="alice" data-user-displayname="alice" data-requesttoken="',
        r'<(main|div) id="content" class="app-app_api">',
        r'<div id="content"></div>',
        r'<nav id="header-(left|start)__appmenu"></nav>',
        r'<input type="hidden" id="initial-state-app_api-probe_state" value="IntcImhlbGxvXCI6XCJ3b3JsZFwifSI=">',
    ):
        found_theirs = re.search(landmark, theirs)
        found_ours = re.search(landmark, ours)
        assert found_theirs and found_ours, landmark
        assert found_theirs.group(0) == found_ours.group(0), landmark


def test_extra_path_and_query_give_the_same_page(server: StandinServer):
    with client(server) as alice:
        for url in (f"{PAGE}?fileIds=12,13", f"{PAGE}/some/sub/path"):
            page = alice.get(url)
            assert page.status_code == 200 and "js/probe-main.js" in page.text


def test_unknown_and_admin_only_entries_are_404_for_a_user_and_the_admin_sees_them(server: StandinServer):
    with client(server) as alice:
        base = "/index.php/apps/app_api/embedded"
        for url in (
            f"{base}/{APPID}/nope",
            f"{base}/{APPID}/admin_jobs",
            "/index.php/apps/app_api/embedded/other_app/jobs",
        ):
            page = alice.get(url)
            assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    with client(server, "admin") as admin:
        assert admin.get(f"/index.php/apps/app_api/embedded/{APPID}/admin_jobs").status_code == 200


def test_without_a_session_the_page_sends_to_the_login(server: StandinServer):
    with client(server, None) as anonymous:
        page = anonymous.get(PAGE)
        assert page.status_code == 303
        assert page.headers["location"] == f"/index.php/login?redirect_url={PAGE}"
        with_query = anonymous.get(f"{PAGE}?fileIds=12,13")
        assert with_query.headers["location"] == f"/index.php/login?redirect_url={PAGE}%3FfileIds%3D12%2C13"


def test_a_browser_login_session_opens_the_page_and_comes_back_to_it(server: StandinServer):
    with client(server, None) as browser:
        form = browser.get(f"/index.php/login?redirect_url={PAGE}%3FfileIds%3D7")
        token = re.search(r'name="requesttoken" value="([^"]+)"', form.text).group(1)
        login = browser.post(
            "/index.php/login",
            data={
                "user": "alice",
                "password": "alice",
                "timezone": "UTC",
                "timezone_offset": "0",
                "requesttoken": token,
                "redirect_url": f"{PAGE}?fileIds=7",
            },
        )
        assert login.status_code == 303 and login.headers["location"].endswith(f"{PAGE}?fileIds=7")
        page = browser.get(f"{PAGE}?fileIds=7")
        assert page.status_code == 200 and 'data-user="alice"' in page.text


def test_the_pretty_url_answers_on_32_only(server: StandinServer):
    with client(server) as alice:
        page = alice.get(f"/apps/app_api/embedded/{APPID}/jobs")
    assert page.status_code == (200 if server.state.nc_version == 32 else 404)


def test_a_german_user_gets_the_translations_script_and_a_translated_title(server: StandinServer):
    with client(server) as alice:
        changed = alice.put(
            "/ocs/v2.php/cloud/users/alice?format=json",
            data={"key": "language", "value": "de"},
            headers={"OCS-APIRequest": "true"},
        )
        assert changed.status_code == 200 and changed.json()["ocs"]["data"] == []
        page = alice.get(PAGE).text
        assert 'lang="de" data-locale="de"' in page
        assert re.search(r"<title>\s*Umwandlungen - Nextcloud\s*</title>", page)
        tag = re.search(r'<script nonce="[^"]+" defer src="/apps/nc_ui_probe/l10n/de.js"></script>\s*</head>', page)
        assert tag, "the l10n script goes right before </head>, without ?v="
        script = alice.get("/apps/nc_ui_probe/l10n/de.js")
        assert script.status_code == 200 and script.headers["content-type"] == "application/javascript"
        assert b"OC.L10N.register" in script.content
        # Another language without a catalogue: no script, English title.
        alice.put(
            "/ocs/v2.php/cloud/users/alice", data={"key": "language", "value": "es"}, headers={"OCS-APIRequest": "true"}
        )
        page = alice.get(PAGE).text
        assert "/l10n/" not in page and re.search(r"<title>\s*Conversions - Nextcloud", page)
        # A user cannot change someone else's language.
        refused = alice.put(
            "/ocs/v2.php/cloud/users/bob", data={"key": "language", "value": "de"}, headers={"OCS-APIRequest": "true"}
        )
        assert refused.status_code == 403 and "bob" not in server.state.languages


def test_the_core_shim_gives_what_nextcloud_libraries_read(server: StandinServer):
    with client(server) as alice:
        shim = alice.get("/dist/core-main.js")
        css = alice.get("/core/css/server.css")
    assert shim.status_code == 200 and shim.headers["content-type"] == "application/javascript"
    for needed in (
        "_oc_l10n_registry_translations",
        "_oc_l10n_registry_plural_functions",
        "OC.L10N",
        "getLocale",
        "getLanguage",
        "data-requesttoken",
        "isUserAdmin",
        "getCurrentUser",
    ):
        assert needed in shim.text, needed
    assert css.status_code == 200 and "--color-primary-element" in css.text

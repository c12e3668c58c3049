"""AppAPI's embedded ExApp pages (top-menu entries), as a browser gets them.

The truth is the contract README, section "Embedded UI pages (top menu), scripts, initial state and
redirect_handler", and ``ui-embedded-page.html`` / ``ui-embedded-page-nc32.html`` (NC32 when the stand-in runs
as 32, ``StandinState(nc_version=32)``):

- ``GET /index.php/apps/app_api/embedded/<appid>/<name>[/<anything>][?<anything>]`` → the page (200, no-store,
  the recorded CSP); without a session **303** to ``/index.php/login?redirect_url=<page path>``; an unknown,
  deleted or (for a non-admin) ``admin_required`` entry → Nextcloud's **404** HTML page. NC32 also answers the
  pretty URL without ``index.php``. Building the page never calls the ExApp.
- In the page: ``<html lang data-locale>`` from the user's language, ``<head data-user data-user-displayname
  data-requesttoken>``, the title ``<display name> - Nextcloud`` (translated from the ExApp's l10n), the ExApp's
  registered scripts rewritten to ``/index.php/apps/app_api/proxy/<appid>/<path>.js?v=<core hash>-0`` in
  registration order (at most 10), its styles as ``…/<path>.css?v=<app_api hash>-0``, the inline ``_oc_*``
  globals, its initial states as hidden inputs (namespace ``app_api``, value JSON-encoded **twice**, base64),
  core's ``apps`` (the app menu; an object on 29, an array on 32) and ``active-app`` states, and the two elements
  with id ``content`` (``<main>`` on 29, ``<div>`` on 32).
- ``ExAppUIL10NMiddleware``: when the user's language is not ``en`` and the ExApp's ``l10n/<lang>.json`` exists
  (copied from ``translations_folder`` at registration), ``<script nonce defer src="/apps/<appid>/l10n/<lang>.js">``
  goes before ``</head>``; ``GET /apps/<appid>/l10n/<file>`` serves those files.

**Not Nextcloud's core scripts.** The real page loads ``/dist/core-main.js`` and a dozen other apps' bundles; the
stand-in has none of them. In core-main's place it serves a small shim (:data:`CORE_SHIM`) providing what the
``@nextcloud/*`` client libraries read: ``window.OC`` (``config``, ``webroot``, ``L10N.register``/``translate``
filling ``_oc_l10n_registry_translations`` and ``_oc_l10n_registry_plural_functions``, ``getLocale``,
``getLanguage``, ``isUserAdmin``, ``requestToken``, ``getCurrentUser``), global ``t``/``n``; and in
``/core/css/server.css`` a handful of Nextcloud's CSS variables. Nextcloud's header, app menu, notifications and
theming are not rendered.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ._session import identify
from ._state import ExApp, StandinState

MAX_SCRIPTS = 10  # AppAPI's proxy_js/<i> routes
NO_STORE = "no-cache, no-store, must-revalidate"
# ?v= of core scripts (core version hash + theming cachebuster) and of AppAPI's styles (md5 of its version …)
VERSIONS = {
    29: {"core": "14550eca-0", "app_api": "59466387-0", "version": "29.0.6.1", "versionstring": "29.0.6"},
    32: {"core": "df83879a-0", "app_api": "a2a05700-0", "version": "32.0.2.2", "versionstring": "32.0.2"},
}

CORE_SHIM = r"""/* Nextcloud stand-in: not Nextcloud's core-main.js, only what the @nextcloud/* libraries read. */
(function () {
	var head = document.head, root = document.documentElement
	var translations = window._oc_l10n_registry_translations = window._oc_l10n_registry_translations || {}
	var plurals = window._oc_l10n_registry_plural_functions = window._oc_l10n_registry_plural_functions || {}
	function fill(text, vars) {
		if (!vars) { return text }
		return String(text).replace(/{([^{}]*)}/g, function (m, k) { return k in vars ? String(vars[k]) : m })
	}
	// Core's OC.L10N.register ignores the "nplurals=…" string l10n/<lang>.js passes and registers its own plural
	// rule for the user's language (@nextcloud/l10n getPlural); the libraries call it as a function.
	function getPlural(number) {
		var language = (root.lang || 'en').replace('-', '_')
		var oneForZeroToo = ['fr', 'pt_BR', 'hy', 'ln', 'mg', 'nso', 'ti', 'wa', 'ak', 'am', 'bh', 'fil', 'tl']
		if (oneForZeroToo.indexOf(language) >= 0) {
			return number === 0 || number === 1 ? 0 : 1
		}
		if (['ja', 'ko', 'zh', 'zh_CN', 'zh_TW', 'zh_HK', 'th', 'vi', 'id', 'tr'].indexOf(language) >= 0) { return 0 }
		return number === 1 ? 0 : 1
	}
	function register(app, bundle) {
		translations[app] = Object.assign(translations[app] || {}, bundle || {})
		plurals[app] = getPlural
	}
	function translate(app, text, vars) {
		var found = (translations[app] || {})[text]
		var text2 = typeof found === 'string' && found ? found : (Array.isArray(found) && found[0] ? found[0] : text)
		return fill(text2, vars)
	}
	function translatePlural(app, one, many, count, vars) {
		var found = (translations[app] || {})['_' + one + '_::_' + many + '_']
		var index = (plurals[app] || getPlural)(count)
		var text = Array.isArray(found) && found[index] ? found[index] : (count === 1 ? one : many)
		return fill(String(text).replace('%n', count), vars)
	}
	var OC = window.OC = window.OC || {}
	OC.webroot = window._oc_webroot || ''
	OC.config = window._oc_config || {}
	OC.appswebroots = window._oc_appswebroots || {}
	OC.coreApps = ['', 'admin', 'log', 'core/search', 'core', '3rdparty']
	OC.theme = window._theme || {}
	OC.requestToken = head.getAttribute('data-requesttoken')
	OC.currentUser = head.getAttribute('data-user')
	OC.isUserAdmin = function () { return !!window._oc_isadmin }
	OC.getCurrentUser = function () {
		return { uid: head.getAttribute('data-user'), displayName: head.getAttribute('data-user-displayname') }
	}
	OC.getLocale = function () { return root.getAttribute('data-locale') || 'en' }
	OC.getLanguage = function () { return root.lang || 'en' }
	OC.L10N = { register: register, translate: translate, translatePlural: translatePlural, _getPlural: getPlural }
	OC.generateUrl = function (url) { return OC.webroot + '/index.php' + url }
	window.OCA = window.OCA || {}
	window.OCP = window.OCP || {}
	window.t = window.t || translate
	window.n = window.n || translatePlural
})()
"""

SERVER_CSS = """/* Nextcloud stand-in: a few of Nextcloud's CSS variables, not its server.css. */
:root {
	--color-main-background: #ffffff; --color-main-background-rgb: 255,255,255; --color-main-text: #222222;
	--color-text-maxcontrast: #6b6b6b; --color-background-hover: #f5f5f5; --color-background-dark: #ededed;
	--color-primary-element: #00679e; --color-primary-element-hover: #005a8a; --color-primary-element-text: #ffffff;
	--color-primary-element-light: #e5eff5; --color-primary-element-light-text: #00293f;
	--color-border: #ededed; --color-border-dark: #dbdbdb; --color-border-maxcontrast: #7d7d7d;
	--color-error: #db0606; --color-warning: #a37200; --color-success: #2d7b41; --color-info: #0071ad;
	--border-radius: 3px; --border-radius-large: 10px; --border-radius-element: 8px; --border-radius-pill: 100px;
	--default-clickable-area: 34px; --default-grid-baseline: 4px; --default-font-size: 15px;
	--font-face: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
	--animation-quick: 100ms; --animation-slow: 300ms; --header-height: 50px;
}
body { margin: 0; font-family: var(--font-face); font-size: var(--default-font-size);
	color: var(--color-main-text); background: var(--color-main-background); }
.hidden-visually { position: absolute; left: -10000px; top: auto; width: 1px; height: 1px; overflow: hidden; }
"""


def _nonce() -> str:
    return base64.b64encode(secrets.token_bytes(24)).decode()


def _state_input(key: str, value: Any) -> str:
    """``IInitialState::provideInitialState``: base64 of the JSON-encoded value."""
    encoded = base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    return f'\t\t\t\t\t<input type="hidden" id="initial-state-{html.escape(key)}" value="{encoded}">'


def _csp(host: str, nonce: str, nc_version: int, page: bool) -> str:
    img = "'self' data: blob:" + (" https://*.tile.openstreetmap.org" if nc_version >= 32 else "")
    frame_self = "'self' " if nc_version >= 32 else ""
    if page:
        scripts = f"'nonce-{nonce}' {host} 'unsafe-eval' 'unsafe-inline'"
        script_src = f"script-src {scripts};script-src-elem 'strict-dynamic' {scripts};"
        frame = f"frame-src {frame_self}{host};"
    else:  # Nextcloud's error page
        script_src = f"script-src 'nonce-{nonce}';script-src-elem 'strict-dynamic' 'nonce-{nonce}';"
        frame = "frame-src 'self';" if nc_version >= 32 else ""
    return (
        "default-src 'none';base-uri 'none';manifest-src 'self';"
        f"{script_src}style-src 'self' 'unsafe-inline';img-src {img};font-src 'self' data:;connect-src 'self';"
        f"media-src 'self';{frame}frame-ancestors 'self';form-action 'self'"
    )


def translations_of(exapp: ExApp, language: str) -> dict[str, Any] | None:
    """The ExApp's ``l10n/<language>.json`` translations, or None when it has none (or for en)."""
    raw = exapp.l10n.get(f"{language}.json")
    if language == "en" or raw is None:
        return None
    try:
        return dict(json.loads(raw).get("translations") or {})
    except (ValueError, AttributeError):
        return None


def _t(translations: dict[str, Any] | None, text: str) -> str:
    found = (translations or {}).get(text)
    return found if isinstance(found, str) and found else text


def not_found_page(request: Request, state: StandinState) -> Response:
    nonce = _nonce()
    return HTMLResponse(
        '<!DOCTYPE html>\n<html><head><title>Nextcloud</title></head><body id="body-login">\n'
        '<div class="guest-box"><h2>Page not found</h2>\n'
        "<p>The page could not be found on the server or you may not be allowed to view it.</p></div>\n"
        "</body></html>\n",
        status_code=404,
        headers={
            "Cache-Control": NO_STORE,
            "Content-Security-Policy": _csp(request.headers.get("host", ""), nonce, state.nc_version, page=False),
        },
    )


async def embedded_page(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    appid, name = request.path_params["appid"], request.path_params["name"]
    if not request.url.path.startswith("/index.php/") and state.nc_version < 32:
        return not_found_page(request, state)  # the pretty URL was only recorded on 32
    caller = identify(request, state)
    if caller.user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/index.php/login?redirect_url=" + quote(target, safe="/")
        return RedirectResponse(location, 303, headers={"Cache-Control": NO_STORE})
    user = caller.user
    exapp = state.exapps.get(appid)
    entry = state.top_menus.get((appid, name))
    admin = user in state.admins
    if exapp is None or not exapp.enabled or entry is None or (entry["admin_required"] and not admin):
        return not_found_page(request, state)
    nonce = _nonce()
    token = caller.session.requesttoken if caller.session else ""
    return HTMLResponse(
        render_page(state, exapp, entry, user, token, nonce),
        headers={
            "Cache-Control": NO_STORE,
            "Content-Security-Policy": _csp(request.headers.get("host", ""), nonce, state.nc_version, page=True),
        },
    )


def _menu(state: StandinState, user: str, active: str) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {
        "dashboard": {"id": "dashboard", "order": -1, "href": "/index.php/apps/dashboard/", "name": "Dashboard"},
        "files": {"id": "files", "order": 0, "href": "/index.php/apps/files/", "name": "Files"},
    }
    for (appid, name), row in state.top_menus.items():
        exapp = state.exapps.get(appid)
        if exapp is None or not exapp.enabled or (row["admin_required"] and user not in state.admins):
            continue
        key = f"app_api_{appid}_{name}"
        translations = translations_of(exapp, state.languages.get(user, "en"))
        entries[key] = {
            "id": key,
            "type": "link",
            "app": "app_api",
            "href": f"/index.php/apps/app_api/embedded/{appid}/{name}",
            "icon": f"/index.php/apps/app_api/proxy/{appid}/{row['icon']}" if row["icon"] else "",
            "name": _t(translations, row["display_name"]),
            "order": 100,
        }
    for key, entry in entries.items():
        entry.setdefault("type", "link")
        entry.setdefault("app", key)
        entry.setdefault("icon", f"/apps/{key}/img/app.svg")
        entry.update(active=key == active, unread=0, classes="", default=key == "dashboard")
    return entries


def render_page(state: StandinState, exapp: ExApp, entry: dict[str, Any], user: str, token: str, nonce: str) -> str:
    """The page as AppAPI 3.2.3 (or 32) renders ``embedded.php`` inside Nextcloud's user template."""
    v = VERSIONS[state.nc_version]
    appid, name = exapp.appid, entry["name"]
    language = state.languages.get(user, "en")
    translations = translations_of(exapp, language)
    title = _t(translations, entry["display_name"])
    display = state.display_names.get(user, user)
    proxy = f"/index.php/apps/app_api/proxy/{appid}/"
    scripts = [s for k, s in state.ui_scripts.items() if k[:3] == (appid, "top_menu", name)][:MAX_SCRIPTS]
    styles = [s for k, s in state.ui_styles.items() if k[:3] == (appid, "top_menu", name)]
    states = [s for k, s in state.ui_initial_states.items() if k[:3] == (appid, "top_menu", name)]
    esc = html.escape

    style_links = "".join(
        f'<link rel="stylesheet" href="{esc(proxy + s["path"])}.css?v={v["app_api"]}">\n' for s in styles
    )
    script_tags = f'<script nonce="{nonce}" defer src="/dist/core-main.js?v={v["core"]}"></script>\n'
    script_tags += "".join(
        f'<script nonce="{nonce}" defer src="{esc(proxy + s["path"])}.js?v={v["core"]}"></script>\n' for s in scripts
    )
    config = {
        "modRewriteWorking": False,
        "session_keepalive": True,
        "session_lifetime": 1440,
        "version": v["version"],
        "versionstring": v["versionstring"],
        "enable_non-accessible_features": True,
    }
    globals_js = (
        f'<script nonce="{nonce}">\nvar _oc_debug=false;\nvar _oc_isadmin={str(user in state.admins).lower()};\n'
        'var _oc_webroot="";\n'
        f"var _oc_appswebroots={json.dumps({'app_api': '/apps/app_api', appid: f'/apps/{appid}'})};\n"
        'var datepickerFormatDate="M\\/d\\/yy";\nvar firstDay=0;\n'
        f"var _oc_config={json.dumps(config)};\nvar oc_appconfig={{}};\n"
        'var _theme={"entity":"Nextcloud","name":"Nextcloud","productName":"Nextcloud","title":"Nextcloud"};\n'
        'var oc_userconfig={"avatar":{"version":0,"generated":true}};\n\n</script>\n'
    )
    l10n = ""
    if translations is not None:
        l10n = f'<script nonce="{nonce}" defer src="/apps/{esc(appid)}/l10n/{esc(language)}.js"></script>'

    active = f"app_api_{appid}_{name}"
    menu = _menu(state, user, active)
    inputs = [_state_input(f"app_api-{s['key']}", json.dumps(s["value"], separators=(",", ":"))) for s in states]
    inputs += [
        _state_input("core-active-app", active),
        _state_input("core-apps", list(menu.values()) if state.nc_version >= 32 else menu),
        _state_input("core-config", config),
        _state_input("core-capabilities", {"core": {"pollinterval": 60, "webdav-root": "remote.php/webdav"}}),
        _state_input("core-versionHash", v["core"].split("-")[0]),
    ]
    nc32 = state.nc_version >= 32
    start, end = ("header-start", "header-end") if nc32 else ("header-left", "header-right")
    body_tag = (
        '<body dir="ltr" id="body-user" data-theme-default data-themes=default>'
        if nc32
        else '<body id="body-user"  data-themes=>'
    )
    wrapper = "div" if nc32 else "main"
    return (
        "<!DOCTYPE html>\n"
        f'<html class="ng-csp" data-placeholder-focus="false" lang="{esc(language)}" data-locale="{esc(language)}" '
        'translate="no" >\n'
        f'\t<head data-user="{esc(user)}" data-user-displayname="{esc(display)}" data-requesttoken="{esc(token)}">\n'
        '\t\t<meta charset="utf-8">\n'
        f"\t\t<title>\n\t\t\t{esc(title)} - Nextcloud\t\t</title>\n"
        '\t\t<meta name="viewport" content="width=device-width, initial-scale=1.0" />\n'
        '\t\t<link rel="icon" href="/core/img/favicon.ico">\n'
        f'\t\t<link rel="stylesheet" href="/core/css/server.css?v={v["core"]}">\n'
        f"{style_links}"
        f"\t\t{script_tags}{globals_js}{l10n}"
        "\t</head>\n"
        f"\t{body_tag}\n"
        '\t<noscript>\n\t<div id="nojavascript"><div>This application requires JavaScript for correct operation.'
        "</div></div>\n</noscript>\n\n" + "\n".join(inputs) + "\n\t\t\n"
        '\t\t<header id="header">\n'
        f'\t\t\t<div class="{start}">\n\t\t\t\t<nav id="{start}__appmenu"></nav>\n\t\t\t</div>\n'
        f'\t\t\t<div class="{end}">\n\t\t\t\t<div id="user-menu"></div>\n\t\t\t</div>\n'
        "\t\t</header>\n\n"
        f'\t\t<{wrapper} id="content" class="app-app_api">\n'
        '\t\t\t<h1 class="hidden-visually" id="page-heading-level-1">\n\t\t\t\tNextcloud\t\t\t</h1>\n'
        '\t\t\t\n<div id="content"></div>\n'
        f"\t\t</{wrapper}>\n"
        "\t</body>\n</html>\n"
    )


async def exapp_l10n(request: Request) -> Response:
    """``/apps/<appid>/l10n/<lang>.js|json``: Nextcloud serves the copy AppAPI made at registration."""
    state: StandinState = request.app.state.standin
    exapp = state.exapps.get(request.path_params["appid"])
    name = request.path_params["file"]
    content = exapp.l10n.get(name) if exapp is not None else None
    if content is None:
        return Response(b"", 404)
    media = "application/javascript" if name.endswith(".js") else "application/json"
    return Response(content, headers={"Content-Type": media})


# A 1×1 transparent PNG: browsers ask for an icon, and a 404 in the console would hide real errors.
FAVICON = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


async def favicon(request: Request) -> Response:
    return Response(FAVICON, headers={"Content-Type": "image/png"})


async def core_shim(request: Request) -> Response:
    return Response(CORE_SHIM, headers={"Content-Type": "application/javascript"})


async def server_css(request: Request) -> Response:
    return Response(SERVER_CSS, headers={"Content-Type": "text/css"})

"""The web login, so a real browser (or a browser-like client) can log in to the stand-in.

Recorded (``browser-to-nextcloud-ui*.jsonl``, sections ``*_login_form``): ``GET /index.php/login`` answers the page
with the request token in ``<head data-requesttoken="…">`` and starts a session; ``POST /index.php/login`` with
``user, password, timezone, timezone_offset, requesttoken`` answers **303** to ``/index.php/apps/dashboard/``
(absolute URL), renewing the session id; NC29 also sets ``nc_username``/``nc_token``/``nc_session_id``, NC32
does not. Not recorded, from ``LoginController``/``LogoutController``: a wrong password or a stale token answers
303 back to the form (``?user=…``) which then shows the message; ``redirect_url`` is honoured after login;
``/index.php/logout`` drops the session and answers 303 to ``/index.php/login?clear=1``. Real Nextcloud renders its
form with JavaScript; this page is a plain HTML form with the same field names.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ._session import (
    PASSPHRASE_COOKIE,
    REMEMBER_COOKIES,
    SESSION_COOKIE,
    drop,
    expired_cookies,
    identify,
    new_session,
    regenerate,
    remember_cookies,
    session_cookie,
)
from ._state import StandinState

DASHBOARD = "/index.php/apps/dashboard/"
NO_STORE = {"Cache-Control": "no-cache, no-store, must-revalidate"}


def _absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


def _safe_redirect(value: str | None) -> str | None:
    """A local path only (``OC_Util::getDefaultPageUrl`` otherwise), never another host."""
    if value and value.startswith("/") and not value.startswith("//") and "@" not in value and "\\" not in value:
        return value
    return None


def _page(title: str, body: str, user: str | None, token: str) -> str:
    user_attrs = (
        f' data-user="{html.escape(user)}" data-user-displayname="{html.escape(user)}"' if user is not None else ""
    )
    return (
        '<!DOCTYPE html>\n<html class="ng-csp" data-placeholder-focus="false" lang="en" data-locale="en" '
        'translate="no" >\n\t<head\n'
        f'{user_attrs} data-requesttoken="{html.escape(token)}">\n\t\t<meta charset="utf-8">\n'
        f"\t\t<title>\n\t\t\t{html.escape(title)}\t\t</title>\n"
        '\t\t<meta name="viewport" content="width=device-width, initial-scale=1.0">\n\t</head>\n'
        f'<body id="{"body-user" if user else "body-login"}">\n{body}\n</body>\n</html>\n'
    )


async def login_form(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    caller = identify(request, state)
    if caller.user is not None:
        # LoginController::showLoginForm: a logged-in user goes to the default page
        return RedirectResponse(_absolute(request, DASHBOARD), 303, headers=NO_STORE)
    session = caller.session
    if session is None:  # an AppAPI-authenticated request has none
        session = new_session(state)
        caller.cookies += [
            session_cookie(PASSPHRASE_COOKIE, session.passphrase),
            session_cookie(SESSION_COOKIE, session.id),
        ]
    messages, session.messages = session.messages, []
    user = request.query_params.get("user", "")
    redirect_url = _safe_redirect(request.query_params.get("redirect_url")) or ""
    notes = "".join(f'<p class="warning">{html.escape(m)}</p>' for m in messages)
    form = (
        f'<main><h1>Log in to Nextcloud</h1>{notes}\n<form method="post" name="login" action="/index.php/login">\n'
        f'<label>Account name or email <input type="text" name="user" id="user" autocomplete="username" '
        f'value="{html.escape(user)}" required autofocus></label>\n'
        '<label>Password <input type="password" name="password" id="password" autocomplete="current-password" '
        "required></label>\n"
        '<input type="hidden" name="timezone" value="UTC">\n<input type="hidden" name="timezone_offset" value="0">\n'
        f'<input type="hidden" name="requesttoken" value="{html.escape(session.requesttoken)}">\n'
        f'<input type="hidden" name="redirect_url" value="{html.escape(redirect_url)}">\n'
        '<button type="submit">Log in</button>\n</form></main>'
    )
    return HTMLResponse(_page("Login – Nextcloud", form, None, session.requesttoken), headers=NO_STORE)


async def login_submit(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    caller = identify(request, state)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    user, password = form.get("user", ""), form.get("password", "")
    redirect_url = _safe_redirect(form.get("redirect_url"))
    session = caller.session

    def back_to_form(message: str) -> Response:
        target = session if session is not None else new_session(state)
        if target is not session:
            caller.cookies += [
                session_cookie(PASSPHRASE_COOKIE, target.passphrase),
                session_cookie(SESSION_COOKIE, target.id),
            ]
        target.messages.append(message)
        query = {"user": user, **({"redirect_url": redirect_url} if redirect_url else {})}
        return RedirectResponse(f"/index.php/login?{urlencode(query)}", 303, headers=NO_STORE)

    if session is None or form.get("requesttoken") != session.requesttoken:
        if caller.user is not None:  # logged in already, in another tab
            return RedirectResponse(_absolute(request, redirect_url or DASHBOARD), 303, headers=NO_STORE)
        return back_to_form("Please try again")
    if not state.check_password(user, password):
        return back_to_form("Wrong login or password.")
    session.user, session.via = user, "login"
    regenerate(state, session)
    caller.user, caller.via = user, "login"
    caller.cookies.append(session_cookie(SESSION_COOKIE, session.id))
    if state.nc_version < 32:
        caller.cookies += remember_cookies(user, session)
    return RedirectResponse(_absolute(request, redirect_url or DASHBOARD), 303, headers=NO_STORE)


async def logout(request: Request) -> Response:
    state: StandinState = request.app.state.standin
    caller = identify(request, state)
    if caller.session is not None and caller.via in ("session", "basic"):
        drop(state, caller.session)
    caller.cookies += expired_cookies((SESSION_COOKIE, *REMEMBER_COOKIES))
    return RedirectResponse(
        _absolute(request, "/index.php/login?clear=1"),
        303,
        headers={**NO_STORE, "Clear-Site-Data": '"cache", "storage"'},
    )


async def dashboard(request: Request) -> Response:
    """Where the login lands: a plain page linking the Files app and every top-menu entry the user may open."""
    state: StandinState = request.app.state.standin
    caller = identify(request, state)
    if caller.user is None:
        return RedirectResponse(f"/index.php/login?redirect_url={DASHBOARD}", 303, headers=NO_STORE)
    entries = [
        row
        for (appid, _), row in sorted(state.top_menus.items())
        if appid in state.exapps
        and state.exapps[appid].enabled
        and (not row.get("admin_required") or caller.user in state.admins)
    ]
    links = "".join(
        f'<li><a href="/index.php/apps/app_api/embedded/{html.escape(r["appid"])}/{html.escape(r["name"])}">'
        f"{html.escape(r['display_name'] or r['name'])}</a></li>"
        for r in entries
    )
    token = caller.session.requesttoken if caller.session is not None else ""
    body = (
        f'<div id="content" class="app-dashboard"><h1>Hello {html.escape(caller.user)}</h1>\n<ul>'
        f'<li><a href="/index.php/apps/files/">Files</a></li>{links}</ul>\n'
        f'<p><a href="/index.php/logout?requesttoken={html.escape(token)}">Log out</a></p></div>'
    )
    return HTMLResponse(_page("Dashboard - Nextcloud", body, caller.user, token), headers=NO_STORE)

"""Who is asking, the way Nextcloud decides it: session cookies, AppAPI headers, HTTP basic auth.

The facts come from the recordings (contract README, "CSRF and which user"; ``browser-to-nextcloud-ui*.jsonl``,
``exapp-to-nextcloud*.jsonl``) and Nextcloud's ``lib/base.php`` / ``OC\\User\\Session``:

- A request without any cookie is answered with the same-site pair (``nc_sameSiteCookielax`` /
  ``nc_sameSiteCookiestrict``, value ``true``); one without a valid session also gets a new session
  (``oc_sessionPassphrase`` + ``<instanceid>``), anonymous until someone logs in on it.
- **A valid session cookie wins**: alice's cookies plus ``Authorization: Basic bob`` is alice (recorded for the
  proxy and for OCS ``cloud/user``). Basic auth makes such a session too, but only from a client's *second*
  request: the first basic-auth answer sets ``cookie_test`` (recorded) and keeps nothing; a request that brings
  ``cookie_test`` back gets a session token, and from then on the jar is that user's (``Session::logClientIn`` /
  ``supportsCookies``; checked on a real Nextcloud 29: alice, alice, then Basic bob → alice; alice, then Basic
  bob → bob). That is why a harness sharing one cookie jar between users reads alice's data as "bob".
- A session made by AppAPI is never reused: AppAPI logs the user in without a session token, so the next request's
  ``validateSession()`` logs it out again and the AppAPI headers decide (the recording shows the session id
  cookie renewed on every AppAPI request). An ExApp's client that keeps cookies therefore stays whoever its
  ``AUTHORIZATION-APP-API`` header says.
- The same-site check applies when the request carries the session cookie (or ``nc_token``) and no
  ``OCS-APIRequest`` header: index.php routes need the lax cookie, else **302 to the same URI** setting the pair
  (recorded, GET and POST); ``remote.php``/``ocs`` need both, else 503 ``Strict Cookie has not been found in
  request`` (``performSameSiteCookieProtection``, NC source, not recorded). Over https Nextcloud prefixes the names
  with ``__Host-``; the stand-in speaks plain http only.

Use :func:`identify` from any route: it returns the :class:`Caller` the session layer resolved for this request.
Handlers that change the session (login, logout) append ``Set-Cookie`` values to ``caller.cookies``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import email.utils
import json
import secrets
import string
import time
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._state import INSTANCE_ID

if TYPE_CHECKING:
    from starlette.requests import Request

    from ._state import StandinState

PASSPHRASE_COOKIE = "oc_sessionPassphrase"
SESSION_COOKIE = INSTANCE_ID  # PHP's session_name() is the instance id
LAX_COOKIE, STRICT_COOKIE = "nc_sameSiteCookielax", "nc_sameSiteCookiestrict"
REMEMBER_COOKIES = ("nc_username", "nc_token", "nc_session_id")  # NC29 sets them on a form login
COOKIE_TEST = "cookie_test"  # Session::supportsCookies
SCOPE_KEY = "standin.caller"
CONTROL = "/__standin__"
# Entry points that are not index.php: base.php checks the strict pair for them, before any login.
NON_INDEX_SCRIPTS = ("/remote.php", "/ocs/", "/public.php", "/status.php", "/cron.php")
# LoginController/LogoutController pages carry #[NoSameSiteCookieRequired]: people arrive there from anywhere.
NO_SAME_SITE_CHECK = ("/index.php/login", "/login", "/index.php/logout", "/logout")


@dataclasses.dataclass
class Session:
    """One PHP session: ``user`` None until someone logs in on it."""

    id: str
    passphrase: str
    requesttoken: str
    user: str | None = None
    via: str = "anonymous"  # "basic" (Authorization header) | "login" (the login form) | "anonymous"
    messages: list[str] = dataclasses.field(default_factory=list)  # login errors shown on the next form


@dataclasses.dataclass
class Caller:
    """The outcome of Nextcloud's login chain for one request."""

    user: str | None  # None = anonymous
    appid: str | None = None  # set when authenticated by AppAPI
    app_api_failed: bool = False  # an AUTHORIZATION-APP-API header was sent but did not pass
    session: Session | None = None  # the valid session the request carried or was given (anonymous or not)
    via: str = ""  # "session" | "basic" | "appapi" | "" (anonymous)
    cookies: list[str] = dataclasses.field(default_factory=list)  # Set-Cookie values for the response


# ---- cookies ---------------------------------------------------------------------------------------------------
def _token() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(26))


def _http_date(when: float) -> str:
    return email.utils.formatdate(when, usegmt=True)


def parse_cookies(header: str) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        # PHP is lenient; read name=value pairs by hand when a value upsets SimpleCookie
        pairs = (part.strip().split("=", 1) for part in header.split(";") if "=" in part)
        return {name: value for name, value in pairs}
    return {name: morsel.value for name, morsel in jar.items()}


def session_cookie(name: str, value: str) -> str:
    """``setcookie`` as PHP's session code writes it (recorded form)."""
    return f"{name}={value}; path=/; HttpOnly; SameSite=Lax"


def same_site_cookies() -> list[str]:
    """``OC::sendSameSiteCookies`` (recorded form, value ``true``)."""
    return [
        f"{LAX_COOKIE}=true; path=/; httponly;expires=Fri, 31-Dec-2100 23:59:59 GMT; SameSite=lax",
        f"{STRICT_COOKIE}=true; path=/; httponly;expires=Fri, 31-Dec-2100 23:59:59 GMT; SameSite=strict",
    ]


def remember_cookies(user: str, session: Session) -> list[str]:
    """What NC29 sets on a form login even without "remember me" (recorded; NC32 no longer does)."""
    values = {"nc_username": user, "nc_token": _token(), "nc_session_id": session.id}
    return [f"{name}={values[name]}; Path=/; Max-Age=1296000; HttpOnly; SameSite=Lax" for name in REMEMBER_COOKIES]


def expired_cookies(names: tuple[str, ...]) -> list[str]:
    return [f"{name}=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; path=/; HttpOnly" for name in names]


def new_session(state: StandinState, user: str | None = None, via: str = "anonymous") -> Session:
    session = Session(_token(), _token() + _token(), _token() + _token(), user, via)
    with state.lock:
        state.sessions[session.id] = session
        while len(state.sessions) > 20000:  # a long-running stand-in must not grow without end
            state.sessions.pop(next(iter(state.sessions)))
    return session


def regenerate(state: StandinState, session: Session) -> Session:
    """``session_regenerate_id``: same data, new id (done at login so a fixated id is worthless)."""
    with state.lock:
        state.sessions.pop(session.id, None)
        session.id = _token()
        state.sessions[session.id] = session
    return session


def drop(state: StandinState, session: Session) -> None:
    with state.lock:
        state.sessions.pop(session.id, None)


# ---- the login chain -------------------------------------------------------------------------------------------
def _b64(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _app_api(headers: dict[str, str], path: str, state: StandinState) -> Caller:
    """``AppAPIService::validateExAppRequestToNC``: secret, enabled app (not for DAV or ``ex-app/state``), user."""
    appid = headers.get("ex-app-id", "")
    exapp = state.exapps.get(appid)
    decoded = _b64(headers.get("authorization-app-api", ""))
    if exapp is not None and decoded is not None and ":" in decoded:
        user, secret = decoded.split(":", 1)
        dav = path.startswith("/remote.php/dav")
        enabled_ok = dav or exapp.enabled or path.endswith("/apps/app_api/ex-app/state")
        if secret == exapp.secret and enabled_ok and (user == "" or user in state.users):
            if state.bruteforce_delay:
                state.bruteforce_delay = 0
            return Caller(user or None, appid, via="appapi")
    # Nextcloud counts the failure for brute-force protection and carries on as anonymous.
    state.bruteforce_delay += 200
    return Caller(None, None, app_api_failed=True)


def authenticate(path: str, headers: dict[str, str], state: StandinState) -> Caller:
    """Resolve the request's user: AppAPI headers, else a valid session cookie, else basic auth."""
    cookies = parse_cookies(headers.get("cookie", ""))
    fresh = same_site_cookies() if not cookies else []
    session = None
    sid = cookies.get(SESSION_COOKIE)
    if sid is not None:
        candidate = state.sessions.get(sid)
        if candidate is not None and secrets.compare_digest(candidate.passphrase, cookies.get(PASSPHRASE_COOKIE, "")):
            session = candidate
    if headers.get("authorization-app-api"):
        caller = _app_api(headers, path, state)
        caller.cookies = fresh
        if caller.appid is not None:
            if sid is None:
                caller.cookies += [
                    session_cookie(PASSPHRASE_COOKIE, _token()),
                    session_cookie(SESSION_COOKIE, _token()),
                ]
            else:  # the previous AppAPI session is logged out again: a new id, nothing else (recorded)
                caller.cookies.append(session_cookie(SESSION_COOKIE, _token()))
        return caller
    if session is not None and session.user is not None:
        # OC::handleLogin is not even tried once the session has a user: other credentials are ignored.
        return Caller(session.user, session=session, via="session", cookies=fresh)
    if session is None:
        # base.php starts a session for every request that does not bring a valid one (recorded: even an
        # anonymous request that ends in a 404 gets the session cookies).
        session = new_session(state)
        fresh += [session_cookie(PASSPHRASE_COOKIE, session.passphrase), session_cookie(SESSION_COOKIE, session.id)]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        decoded = _b64(auth[6:].strip())
        if decoded and ":" in decoded:
            user, password = decoded.split(":", 1)
            if state.check_password(user, password):
                if COOKIE_TEST in cookies:
                    # Session::supportsCookies: the client keeps cookies, so logClientIn creates a session
                    # token — from now on this session is the user's, whatever credentials come with it.
                    session.user, session.via = user, "basic"
                else:
                    # First contact: logged in for this request only; the cookie test tells the next request
                    # whether the client keeps cookies.
                    fresh.append(f"{COOKIE_TEST}=test; expires={_http_date(time.time() + 3600)}; Max-Age=3600")
                return Caller(user, session=session, via="basic", cookies=fresh)
    return Caller(None, session=session, cookies=fresh)


def identify(request: Request, state: StandinState, dav: bool = False) -> Caller:
    """The caller :class:`SessionLayer` resolved for this request (computed here when called outside it)."""
    caller = request.scope.get(SCOPE_KEY)
    if caller is None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = "/remote.php/dav" if dav else request.url.path
        caller = request.scope[SCOPE_KEY] = authenticate(path, headers, state)
    return caller


def same_site_refusal(path: str, query: str, headers: dict[str, str]) -> Response | None:
    """The answer when the request carries a session but not the same-site cookies its entry point needs."""
    cookies = parse_cookies(headers.get("cookie", ""))
    if headers.get("ocs-apirequest") or (SESSION_COOKIE not in cookies and "nc_token" not in cookies):
        return None  # Request::cookieCheckRequired
    lax = cookies.get(LAX_COOKIE) == "true"
    if path.startswith(NON_INDEX_SCRIPTS):
        if lax and cookies.get(STRICT_COOKIE) == "true":
            return None
        return Response(
            json.dumps({"error": "Strict Cookie has not been found in request"}),
            503,
            headers={"Content-Type": "application/json"},
        )
    if lax or path in NO_SAME_SITE_CHECK:
        return None
    # SameSiteCookieMiddleware::afterException: back to the same URI, now with the cookies.
    location = path + (f"?{query}" if query else "")
    return Response(
        b"", 302, headers={"Location": location, "Content-Length": "0", "Content-Type": "text/html; charset=UTF-8"}
    )


class SessionLayer:
    """Resolves the caller once per request, applies the same-site check, and adds Set-Cookie (and on NC32
    ``X-User-Id``) to the answer."""

    def __init__(self, app: ASGIApp, state: StandinState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path, query = scope["path"], scope.get("query_string", b"").decode("latin-1")
        refusal = same_site_refusal(path, query, headers)
        if refusal is not None and path.startswith(NON_INDEX_SCRIPTS):
            # base.php refuses before any login is tried
            caller = Caller(None)
        else:
            caller = authenticate(path, headers, self.state)
        scope[SCOPE_KEY] = caller

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookies = same_site_cookies() if refusal is not None else caller.cookies
                extra = [(b"set-cookie", c.encode("latin-1")) for c in cookies]
                if self.state.nc_version >= 32 and caller.user:
                    extra.append((b"x-user-id", caller.user.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, send_with_session)
            return
        await self.app(scope, receive, send_with_session)

"""Who may call the ExApp: AppAPI's signed headers on every route but ``/heartbeat``; admins asked of Nextcloud.

AppAPI signs each request it sends us (lifecycle calls and the user proxy) with ``AUTHORIZATION-APP-API:
base64(<user>:<app secret>)``, ``EX-APP-ID`` and ``EX-APP-VERSION``. :class:`AppAPIAuth` checks them as
nc_py_api's ``AppAPIAuthMiddleware`` does (same headers, same ``scope["username"]`` for its dependencies), with
three differences that matter here: it never prints the expected secret (nc_py_api 0.30 ``print``s "Invalid App
secret: <sent> != <ours>" to stdout, i.e. into the container log, on every bad request), it compares the secret in
constant time, and it refuses with our error shape (``{"error": …}``, 401) instead of an empty text body. It also
keeps users off AppAPI's lifecycle routes (``/enabled``, ``/init``: 403 unless signed with the empty user).

Admin routes do not trust any header claim: AppAPI's ADMIN access level only guards the proxy, and the user id in
the signed header says who, not what they may do. :class:`AdminCheck` asks Nextcloud (OCS ``cloud/user`` as that
user: its ``groups``) and remembers the answer for a short while.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import time
from collections.abc import Callable
from typing import Protocol

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

# AppAPI polls it before the app is enabled and without signing it: the one open route.
OPEN_PATHS = frozenset({"/heartbeat"})
# AppAPI's lifecycle calls, signed with an empty user; a request signed for a user (the proxy's) has no business
# there — it could disable the app — even though info.xml does not let the proxy forward them.
LIFECYCLE_PATHS = frozenset({"/enabled", "/init"})


def _signed_user(headers: dict[str, str], app_id: str, secret: str) -> str | None:
    """The user id AppAPI signed for (``""`` for lifecycle calls), or None when the signature does not hold."""
    if not (headers.get("ex-app-id") and headers.get("ex-app-version") and headers.get("authorization-app-api")):
        return None
    if not secret or not hmac.compare_digest(headers["ex-app-id"].encode(), app_id.encode()):
        return None
    try:
        decoded = base64.b64decode(headers["authorization-app-api"], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, sent_secret = decoded.partition(":")
    if not sep or not hmac.compare_digest(sent_secret.encode(), secret.encode()):
        return None
    return user


class AppAPIAuth:
    """Pure ASGI middleware: 401 ``{"error": …}`` unless the request carries AppAPI's signature for this app."""

    def __init__(self, app: ASGIApp, app_id: str | None = None, secret: str | None = None) -> None:
        self.app = app
        # AppAPI hands both to the container through the environment (nc_py_api reads the same variables).
        self.app_id = app_id if app_id is not None else os.environ.get("APP_ID", "")
        self.secret = secret if secret is not None else os.environ.get("APP_SECRET", "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        user = _signed_user(headers, self.app_id, self.secret)
        if user is None:
            log.warning("refused %s %s: no valid AppAPI signature", scope.get("method", "WS"), scope["path"])
            response = JSONResponse({"error": "AppAPI authentication failed"}, status_code=401)
            await response(scope, receive, send)
            return
        if user and scope["path"] in LIFECYCLE_PATHS:
            log.warning(
                "refused %s %s signed for user %r: lifecycle calls come from AppAPI",
                scope.get("method"),
                scope["path"],
                user,
            )
            response = JSONResponse({"error": "Only Nextcloud's AppAPI may call this"}, status_code=403)
            await response(scope, receive, send)
            return
        scope["username"] = user  # where nc_py_api's dependencies (and ours) read the caller from
        await self.app(scope, receive, send)


class _AdminAsker(Protocol):
    async def is_admin(self) -> bool: ...


class AdminCheck:
    """Whether Nextcloud counts a user as an admin, remembered for ``ttl`` seconds per user.

    The short memory keeps an admin page that polls from costing a Nextcloud request each time; it also bounds
    how long a user removed from the admin group keeps access (and how long a new admin waits).
    """

    def __init__(self, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._known: dict[str, tuple[float, bool]] = {}

    async def is_admin(self, user: str, ask: Callable[[str], _AdminAsker]) -> bool:
        now = self._clock()
        known = self._known.get(user)
        if known is not None and known[0] > now:
            return known[1]
        answer = await ask(user).is_admin()
        if len(self._known) > 10000:  # users come and go; never let the memory grow without end
            self._known.clear()
        self._known[user] = (now + self.ttl, answer)
        return answer

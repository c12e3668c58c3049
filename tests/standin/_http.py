"""Answers shaped like Nextcloud's: OCS envelopes, Sabre error bodies, and who is asking (authentication)."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

# Who is asking: the login chain (cookies, AppAPI, basic auth) lives in _session; re-exported for the routers.
from ._session import Caller, identify

OCS_CONTENT_TYPE = "application/json; charset=utf-8"
EMPTY_OK_CONTENT_TYPE = "text/html; charset=UTF-8"  # Nextcloud's header on bodiless DAV successes


# ---- OCS ---------------------------------------------------------------------------------------------------------
_EMPTY: Any = object()


def ocs(
    version: int,
    data: Any = _EMPTY,
    status: int = 200,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An OCS answer. ``status`` is the HTTP-ish status of the controller (200 OK, 404 …).

    v1 always answers HTTP 200 (401 excepted) and puts the code in ``meta.statuscode`` (100 for OK);
    v2 answers with the real HTTP status and ``statuscode`` equal to it.
    """
    if data is _EMPTY:
        data = []  # Nextcloud's "no result" is an empty JSON array; pass None for a JSON null
    ok = status == 200
    code = 997 if status == 401 else status  # OCSController::RESPOND_UNAUTHORISED
    if version == 1:
        meta = {
            "status": "ok" if ok else "failure",
            "statuscode": 100 if ok else code,
            "message": "OK" if ok and message is None else (message or ""),
            "totalitems": "",
            "itemsperpage": "",
        }
        http_status = 401 if status == 401 else 200
    else:
        meta = {
            "status": "ok" if ok else "failure",
            "statuscode": code,
            "message": "OK" if ok and message is None else (message or ""),
        }
        http_status = status
    body = json.dumps({"ocs": {"meta": meta, "data": data}}, separators=(",", ":"))
    return Response(body, status_code=http_status, headers={**(headers or {}), "Content-Type": OCS_CONTENT_TYPE})


# ---- Sabre -------------------------------------------------------------------------------------------------------
SABRE_STATUS = {
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "PreconditionFailed": 412,
    "Forbidden": 403,
    "Conflict": 409,
    "NotAuthenticated": 401,
    "ServiceUnavailable": 503,
    "InsufficientStorage": 507,
    "BadRequest": 400,
    "NotImplemented": 501,
}


def sabre_error(exception: str, message: str = "", headers: dict[str, str] | None = None, extra: str = "") -> Response:
    """The XML error body Sabre writes, e.g. ``Sabre\\DAV\\Exception\\NotFound`` with its message."""
    msg = f"  <s:message>{escape(message)}</s:message>\n" if message else "  <s:message/>\n"
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
        f"  <s:exception>Sabre\\DAV\\Exception\\{exception}</s:exception>\n"
        f"{msg}{extra}"
        "</d:error>\n"
    )
    return Response(
        body,
        status_code=SABRE_STATUS[exception],
        headers={**(headers or {}), "Content-Type": "application/xml; charset=utf-8"},
    )


def not_found(path: str) -> Response:
    return sabre_error("NotFound", f"File with name {path} could not be located")


def forbidden() -> Response:
    return sabre_error("Forbidden")


def empty(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(
        b"",
        status_code=status,
        headers={**(headers or {}), "Content-Length": "0", "Content-Type": EMPTY_OK_CONTENT_TYPE},
    )


__all__ = ["Caller", "empty", "forbidden", "identify", "not_found", "ocs", "sabre_error"]

"""Conditional GET for lists that browsers poll: a cheap version tag and the ``If-None-Match`` check.

Every poll of the conversions page is a full PHP request through the AppAPI proxy before it reaches us, so the
answer "nothing changed" must be cheap here too: the tag is computed from a small aggregate query (see
:meth:`JobStore.list_version`), never by building the list and hashing it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime


def list_etag(version: tuple[int, datetime | None], *parts: object) -> str:
    """A weak ETag for a list whose rows are summed up by ``version`` (count, latest change).

    ``parts`` are everything else the answer depends on: the query (filter, page) and the language the
    messages are rendered in, plus the app version so that an upgrade that changes the JSON never answers 304
    to a body of the old shape. Weak, because equal tags promise the same meaning, not the same bytes.
    """
    count, latest = version
    key = "|".join([str(count), latest.isoformat() if latest else "-", *(str(p) for p in parts)])
    return 'W/"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether a request's ``If-None-Match`` header names ``etag`` (RFC 9110: weak comparison, ``*`` matches)."""
    if not if_none_match:
        return False
    candidates: Iterable[str] = if_none_match.split(",")
    wanted = _opaque(etag)
    return any(c.strip() == "*" or _opaque(c) == wanted for c in candidates)

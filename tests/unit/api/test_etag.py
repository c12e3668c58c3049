"""The job list's ETag: it changes exactly when the answer may change, and If-None-Match is read per RFC 9110."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ex_app.lib.api.etag import list_etag, not_modified

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def test_the_same_version_and_query_give_the_same_weak_tag() -> None:
    tag = list_etag((3, T0), "processing", 50, 0, "fr")
    assert tag == list_etag((3, T0), "processing", 50, 0, "fr")
    assert tag.startswith('W/"') and tag.endswith('"')


@pytest.mark.parametrize(
    ("version", "parts"),
    [
        ((4, T0), ("processing", 50, 0, "fr")),  # a job created or deleted
        ((3, T0 + timedelta(microseconds=1)), ("processing", 50, 0, "fr")),  # a job changed
        ((3, None), ("processing", 50, 0, "fr")),
        ((3, T0), (None, 50, 0, "fr")),  # another filter
        ((3, T0), ("processing", 20, 0, "fr")),  # another page
        ((3, T0), ("processing", 50, 50, "fr")),
        ((3, T0), ("processing", 50, 0, "de")),  # messages in another language
    ],
)
def test_any_change_of_version_or_query_changes_the_tag(version: tuple, parts: tuple) -> None:
    assert list_etag(version, *parts) != list_etag((3, T0), "processing", 50, 0, "fr")


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('W/"abc"', True),
        ('"abc"', True),  # weak comparison ignores the W/ prefix
        ('"zzz", W/"abc"', True),
        ('"zzz"', False),
        ("*", True),
        ('W/"ab"', False),
    ],
)
def test_if_none_match_is_compared_weakly(header: str | None, matches: bool) -> None:
    assert not_modified(header, 'W/"abc"') is matches

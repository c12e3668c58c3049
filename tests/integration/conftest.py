"""Fixtures of the integration suite; ``NC_URL`` set → a real Nextcloud, unset → the in-process stand-in."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import pytest

from .harness import ExAppProcess, NextcloudTarget, real_target, standin_target

# Short leases, polls and backoffs so crash recovery and retries happen within seconds in tests; the
# defaults (60 s lease, 10 s first backoff) are for production.
FAST_ENV = {
    "VCFM_LEASE_SECONDS": "4",
    "VCFM_POLL_SECONDS": "0.5",
    "VCFM_RETRY_BACKOFF_SECONDS": "0.5",
    "VCFM_MAX_ATTEMPTS": "5",
    "VCFM_CONCURRENCY": "2",
    "VCFM_SETTINGS_REFRESH_SECONDS": "0.5",
    "VCFM_OUTAGE_PROBE_SECONDS": "0.2",
    "VCFM_OUTAGE_PROBE_MAX_SECONDS": "1",
}

#: What the ``in_place_of_the_session_exapp`` fixture gives: ``(**extra_env)`` → a context manager of an ExApp.
ExAppInPlace = Callable[..., contextlib.AbstractContextManager[ExAppProcess]]


@pytest.fixture(scope="session")
def nextcloud() -> Iterator[NextcloudTarget]:
    target = real_target() if os.environ.get("NC_URL") else standin_target()
    try:
        yield target
    finally:
        target.close()
        if target.standin is not None:
            target.standin.stop()
            target.standin.state.close()


@pytest.fixture(scope="session")
def exapp(nextcloud: NextcloudTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExAppProcess]:
    """The ExApp, started and registered once for the session; unregistered and stopped at the end."""
    process = ExAppProcess(nextcloud, tmp_path_factory.mktemp("exapp"), extra_env=FAST_ENV)
    process.start()
    try:
        process.register()
        yield process
    finally:
        try:
            process.unregister()
        finally:
            process.stop()


@pytest.fixture
def exapp_factory(nextcloud: NextcloudTarget, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Build extra ExApp processes with their own env (e.g. ``VCFM_LEASE_SECONDS``); the caller registers them."""
    made: list[ExAppProcess] = []

    def make(**extra_env: str) -> ExAppProcess:
        process = ExAppProcess(nextcloud, tmp_path_factory.mktemp("exapp"), extra_env=extra_env)
        made.append(process)
        return process

    yield make
    for process in made:
        try:
            process.unregister()
        finally:
            process.stop()


@pytest.fixture
def in_place_of_the_session_exapp(exapp: ExAppProcess, exapp_factory: Callable[..., ExAppProcess]) -> ExAppInPlace:
    """``with in_place_of_the_session_exapp(**extra_env) as process``: a new ExApp with its own env, started and
    registered where the session's ExApp was (only one ExApp with our id can be registered); on leaving, it is
    unregistered and stopped, and the session's ExApp registered again."""

    @contextlib.contextmanager
    def in_place(**extra_env: str) -> Iterator[ExAppProcess]:
        process = exapp_factory(**extra_env)
        process.start()
        try:
            # Inside the try: a registration that fails half-way has already unregistered the session's ExApp.
            process.register()
            yield process
        finally:
            process.unregister()
            process.stop()
            exapp.register()  # give the session's ExApp its registration back

    return in_place

"""FastAPI dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request

from ..admin_settings import AdminSettings
from ..errors import InvalidRequest
from ..i18n import _, language_from_header
from ..jobs import JobRecord, JobStore, NewJob
from ..settings import Settings


class NotAUser(InvalidRequest):
    """This route needs a Nextcloud user."""

    status_code = 403


class NotAnAdmin(InvalidRequest):
    """This route is for Nextcloud administrators."""

    status_code = 403


# The dependencies are coroutines although none of them waits for anything: FastAPI runs a plain ``def``
# dependency in a worker thread, and those hand-overs (one per dependency per request, each contending with
# the event loop for the GIL) were a large part of a job-list poll's time.


async def _store(request: Request) -> JobStore:
    return request.app.state.store


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _user(request: Request) -> str:
    return _caller(request)


def _caller(request: Request) -> str:
    # AppAPIAuthMiddleware verified AUTHORIZATION-APP-API and put its user id here. Lifecycle calls from
    # AppAPI carry an empty user; they have no business on user routes.
    user = request.scope.get("username") or ""
    if not user:
        raise NotAUser("This route must be called by a Nextcloud user through the AppAPI proxy")
    return user


async def _admin(request: Request) -> str:
    # Nextcloud decides who is an admin, not a header: the signed user id only says who is asking.
    user = _caller(request)
    if not await request.app.state.admin_check.is_admin(user, request.app.state.gateway_factory):
        raise NotAnAdmin(_("Only Nextcloud administrators can see this"))
    return user


async def _limits(request: Request) -> AdminSettings:
    # Jobs are being created or chosen: the admin's latest values must apply (re-read when some seconds old).
    return await request.app.state.live.fresh()


async def _unfinished(request: Request, limits: Annotated[AdminSettings, Depends(_limits)]) -> int:
    """The caller's pending + processing jobs, counted only when a per-user limit is set."""
    if not limits.max_jobs_per_user:
        return 0
    return await request.app.state.store.unfinished_count(_caller(request))


async def _language(request: Request) -> str:
    return language_from_header(request.headers.get("accept-language"))


Store = Annotated[JobStore, Depends(_store)]
AppSettings = Annotated[Settings, Depends(_settings)]
CurrentUser = Annotated[str, Depends(_user)]
AdminUser = Annotated[str, Depends(_admin)]
require_admin = Depends(_admin)  # for a whole router: APIRouter(dependencies=[require_admin])
Language = Annotated[str, Depends(_language)]
Limits = Annotated[AdminSettings, Depends(_limits)]
Unfinished = Annotated[int, Depends(_unfinished)]


async def queue_jobs(request: Request, store: JobStore, new_jobs: Sequence[NewJob]) -> list[JobRecord]:
    """Create ``new_jobs`` and wake this process's worker, so that it claims them now, not at its next poll."""
    created = await store.create_many(new_jobs) if new_jobs else []
    if created:
        request.app.state.worker.wake()
    return created

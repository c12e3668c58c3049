from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from ...chooser import jobs_for_batch
from ...enqueue import job_for_file
from ...jobs import JobStatus
from ...jobs.store import ListVersion
from ...media import JobOptions, get_target
from ...nextcloud import NextcloudGateway
from ..deps import CurrentUser, Language, Limits, Store, Unfinished, queue_jobs
from ..etag import list_etag, not_modified
from ..schemas import ActionResult, BatchCreate, CreatedJob, JobCreate, JobList, JobPublic, SkippedFile

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


# The page polls the list; both answers must be revalidated every time. Without our own Cache-Control the
# AppAPI proxy adds "private, max-age=3600" to a 304 (it only spares exactly application/json, and a 304 has no
# body type), and the browser would then serve the list from its cache for an hour.
_REVALIDATE = {"Cache-Control": "no-cache", "Vary": "Accept-Language"}


@router.get("", response_model=JobList, responses={304: {"description": "The list has not changed (ETag)"}})
async def list_jobs(
    user: CurrentUser,
    store: Store,
    language: Language,
    request: Request,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobList | Response:
    """The caller's jobs, newest first. Answers 304 when ``If-None-Match`` names the current ETag."""
    if_none_match = request.headers.get("if-none-match")

    def tag(version: ListVersion) -> str:
        return list_etag(version, status_filter, limit, offset, language, request.app.version)

    version, page = await store.list_if_changed(
        lambda version: not_modified(if_none_match, tag(version)),
        user_id=user,
        status=status_filter,
        limit=limit,
        offset=offset,
    )
    headers = {"ETag": tag(version), **_REVALIDATE}
    if page is None:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    items, total = page
    now = datetime.now(UTC)
    body = JobList(
        items=[JobPublic.of(j, language=language, now=now) for j in items], total=total, limit=limit, offset=offset
    )
    # Serialised here: returned as a model, FastAPI would validate the freshly built model all over again.
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


@router.post("", response_model=JobPublic, status_code=status.HTTP_201_CREATED)
async def create_job(
    body: JobCreate,
    user: CurrentUser,
    language: Language,
    limits: Limits,
    unfinished: Unfinished,
    store: Store,
    request: Request,
) -> JobPublic:
    """A job for one file named by id or path (for scripts)."""
    target = get_target(body.target)
    options = JobOptions.from_dict(body.options)  # before touching Nextcloud: a typo is answered at once
    gateway: NextcloudGateway = request.app.state.gateway_factory(user)
    remote = await (
        gateway.resolve(body.file_id) if body.file_id is not None else gateway.resolve_path(body.path or "")
    )
    new_job = job_for_file(
        remote, user_id=user, target=target, language=language, limits=limits, unfinished=unfinished, options=options
    )
    (job,) = await queue_jobs(request, store, [new_job])
    return JobPublic.of(job, language=language)


@router.post("/batch", response_model=ActionResult, status_code=status.HTTP_201_CREATED)
async def create_batch(
    body: BatchCreate,
    user: CurrentUser,
    language: Language,
    limits: Limits,
    unfinished: Unfinished,
    store: Store,
    request: Request,
) -> ActionResult:
    """The chooser's "Convert": one job per usable file; the others listed with the reason, nothing made for them."""
    target = get_target(body.target)
    options = JobOptions.from_dict(body.options)  # a bad option refuses the whole request before any lookup
    new_jobs, refused = await jobs_for_batch(
        request.app.state.gateway_factory(user),
        body.file_ids,
        user_id=user,
        target=target,
        options=options,
        limits=limits,
        unfinished=unfinished,
        language=language,
        cache=request.app.state.probe_cache,
    )
    created = await queue_jobs(request, store, new_jobs)
    return ActionResult(
        jobs=[CreatedJob.of(job) for job in created],
        skipped=[SkippedFile(file_id=r.file_id, name=r.name, reason=r.reason(language)) for r in refused],
    )


@router.get("/{job_id}", response_model=JobPublic)
async def get_job(job_id: int, user: CurrentUser, store: Store, language: Language) -> JobPublic:
    return JobPublic.of(await store.get(job_id, user_id=user), language=language)


@router.post("/{job_id}/cancel", response_model=JobPublic)
async def cancel_job(job_id: int, user: CurrentUser, store: Store, language: Language) -> JobPublic:
    """Stop a pending or running job; a running ffmpeg is killed and nothing is uploaded."""
    return JobPublic.of(await store.cancel(job_id, user_id=user), language=language)


@router.post("/{job_id}/retry", response_model=JobPublic)
async def retry_job(job_id: int, user: CurrentUser, store: Store, request: Request, language: Language) -> JobPublic:
    """Put a failed or cancelled job back in the queue with a fresh retry count."""
    job = await store.retry(job_id, user_id=user)
    request.app.state.worker.wake()
    return JobPublic.of(job, language=language)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job(job_id: int, user: CurrentUser, store: Store) -> Response:
    """Forget a finished job (the converted file stays in Files)."""
    await store.delete(job_id, user_id=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

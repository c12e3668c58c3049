from fastapi import APIRouter, Request

from ...enqueue import ActionEntry, jobs_from_action
from ...lifecycle import PAGE_NAME
from ...media import get_target
from ..deps import CurrentUser, Language, Limits, Store, Unfinished, queue_jobs
from ..schemas import ActionPayload, ActionResult, CreatedJob, SkippedFile

router = APIRouter(tags=["files actions"])


@router.post("/api/convert")
async def convert_into(payload: ActionPayload, user: CurrentUser) -> dict:
    """The handler of the Files "Convert into…" entry: nothing is created here; AppAPI's Files plugin sees
    ``redirect_handler`` and opens the Conversions page with ``?fileIds=<the selected ids>``, where the user
    picks the target and options (the page then calls ``POST /api/jobs/batch``)."""
    return {"redirect_handler": PAGE_NAME}


@router.post("/api/actions/{target_id}", response_model=ActionResult)
async def files_action(
    target_id: str,
    payload: ActionPayload,
    user: CurrentUser,
    language: Language,
    limits: Limits,
    unfinished: Unfinished,
    store: Store,
    request: Request,
) -> ActionResult:
    """The handler of a Files "Convert into …" action: one job per selected video, answered at once."""
    target = get_target(target_id)
    entries = [
        ActionEntry(f.file_id, f.name, f.directory, f.etag, f.mime, f.file_type == "dir", f.size) for f in payload.files
    ]
    new_jobs, skipped = jobs_from_action(
        entries,
        user_id=user,
        target=target,
        language=language,
        limits=limits,
        unfinished=unfinished,
    )
    created = await queue_jobs(request, store, new_jobs)
    return ActionResult(
        jobs=[CreatedJob.of(job) for job in created],
        skipped=[SkippedFile(file_id=s.file_id, name=s.name, reason=s.reason) for s in skipped],
    )

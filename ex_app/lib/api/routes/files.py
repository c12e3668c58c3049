from typing import Annotated

from fastapi import APIRouter, Query, Request

from ...chooser import describe_files
from ...errors import InvalidRequest
from ...media import JobOptions
from ..deps import AppSettings, CurrentUser, Language, Limits
from ..schemas import FileList, FilePublic, MediaPublic, SkippedFile, TargetChoicePublic

router = APIRouter(prefix="/api/files", tags=["chooser"])

MAX_IDS = 100


def parse_ids(raw: str) -> list[int]:
    """``"12,13"`` → ``[12, 13]``; the Files app joins the selected ids with commas."""
    try:
        ids = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise InvalidRequest("ids: give file ids separated by commas, e.g. ids=12,13") from None
    if not ids or any(i <= 0 for i in ids):
        raise InvalidRequest("ids: give file ids separated by commas, e.g. ids=12,13")
    if len(ids) > MAX_IDS:
        raise InvalidRequest("ids: at most {limit} files at once", limit=MAX_IDS)
    return ids


@router.get("", response_model=FileList)
async def describe(
    ids: str,
    user: CurrentUser,
    language: Language,
    limits: Limits,
    settings: AppSettings,
    request: Request,
    quality: str | None = None,
    max_height: Annotated[int | None, Query()] = None,
    audio_bitrate: str | None = None,
) -> FileList:
    """The chooser's view of the selected files: details, what each can become (and whether that is a fast copy,
    for the given options), the output names; the files that cannot be converted with the reason."""
    wanted = {"quality": quality, "max_height": max_height, "audio_bitrate": audio_bitrate}
    options = JobOptions.from_dict({k: v for k, v in wanted.items() if v is not None})
    files, refused = await describe_files(
        request.app.state.gateway_factory(user),
        parse_ids(ids),
        limits=limits,
        options=options,
        scratch=settings.scratch,
        cache=request.app.state.probe_cache,
    )
    out: list[FilePublic] = []
    for f in files:
        media = None
        if f.media is not None:
            video, audio = f.media.main_video, f.media.main_audio
            size = video.display_size if video is not None else None
            media = MediaPublic(
                duration=f.media.duration,
                video_codec=video.codec if video else None,
                audio_codec=audio.codec if audio else None,
                width=size[0] if size else None,
                height=size[1] if size else None,
            )
        out.append(
            FilePublic(
                file_id=f.remote.file_id,
                name=f.remote.name,
                path=f.remote.path,
                size=f.remote.size,
                mime=f.remote.mime,
                media=media,
                targets={
                    k: TargetChoicePublic(fast_copy=v.fast_copy, output_name=v.output_name)
                    for k, v in f.targets.items()
                },
            )
        )
    return FileList(
        files=out,
        skipped=[SkippedFile(file_id=r.file_id, name=r.name, reason=r.reason(language)) for r in refused],
    )

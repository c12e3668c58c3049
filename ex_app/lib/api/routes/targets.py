from fastapi import APIRouter

from ...media import MAX_HEIGHTS, QUALITIES, TARGETS
from ..deps import CurrentUser
from ..schemas import OptionsPublic, TargetList, TargetPublic

router = APIRouter(prefix="/api/targets", tags=["targets"])


@router.get("", response_model=TargetList)
async def list_targets(user: CurrentUser) -> TargetList:
    """What a file can be converted into, in the order the Files menu shows it, and the per-job options."""
    return TargetList(
        user=user,
        targets=[
            TargetPublic(id=t.id, label=t.label, extension=t.extension or None, same_format=t.same_format, kind=t.kind)
            for t in TARGETS.values()
        ],
        options=OptionsPublic(
            quality=list(QUALITIES), max_height=[None, *MAX_HEIGHTS], audio_bitrate="32k … 512k, e.g. 192k"
        ),
    )

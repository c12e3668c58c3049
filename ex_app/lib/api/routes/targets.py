from fastapi import APIRouter

from ...media import TARGETS
from ..deps import CurrentUser
from ..schemas import TargetList, TargetPublic

router = APIRouter(prefix="/api/targets", tags=["targets"])


@router.get("", response_model=TargetList)
async def list_targets(user: CurrentUser) -> TargetList:
    """What a file can be converted into, in the order the Files menu shows it."""
    return TargetList(
        user=user,
        targets=[TargetPublic(id=t.id, label=t.label, extension=t.extension, kind=t.kind) for t in TARGETS.values()],
    )

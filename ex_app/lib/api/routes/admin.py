from dataclasses import asdict

from fastapi import APIRouter, Request

from ...ops import collect_status
from ..deps import AppSettings, Store, require_admin

# The ADMIN access level in appinfo/info.xml makes AppAPI's proxy let only admins through; on top of that every
# route of this router asks Nextcloud itself (require_admin), so a request that reaches us any other way is refused.
router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[require_admin])


@router.get("/status")
async def status(store: Store, settings: AppSettings, request: Request) -> dict:
    """What ``video-converter-fm status`` prints: workers, queue, running jobs, ffmpeg, disk, database."""
    report = (await collect_status(store, settings)).to_dict()
    limits = asdict(await request.app.state.live.fresh())  # an admin looking is a moment the values matter
    limits["targets"] = sorted(limits["targets"])
    report["admin_settings"] = limits
    return report

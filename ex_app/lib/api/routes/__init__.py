"""The REST routes; every one is declared in appinfo/info.xml so the AppAPI proxy lets it through."""

from fastapi import APIRouter

from . import actions, admin, files, jobs, targets

router = APIRouter()
router.include_router(targets.router)
router.include_router(actions.router)
router.include_router(jobs.router)
router.include_router(files.router)
router.include_router(admin.router)

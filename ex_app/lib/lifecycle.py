"""What happens when AppAPI initialises, enables or disables the ExApp.

On enable we register one Files action per offered target; on disable we remove them, so a disabled ExApp
leaves nothing clickable behind in Files.
"""

from __future__ import annotations

import logging

import anyio
from nc_py_api import AsyncNextcloudApp, NextcloudException

from .media import TARGETS

log = logging.getLogger(__name__)

ACTION_PREFIX = "vcfm_"
# Files actions for every video mime type: AppAPI matches this as a prefix of the file's mime.
ACTION_MIME = "video"
# Read + update + create + delete + share: the Files UI shows the action on files the user can read.
ACTION_PERMISSIONS = 31


def action_name(target_id: str) -> str:
    return f"{ACTION_PREFIX}{target_id}"


async def register_file_actions(nc: AsyncNextcloudApp) -> None:
    """One Files action per target ("Convert into MP4", …), multi-select, for videos."""
    for order, target in enumerate(TARGETS.values()):
        await nc.ui.files_dropdown_menu.register_ex(
            action_name(target.id),
            target.label,
            f"/api/actions/{target.id}",
            mime=ACTION_MIME,
            icon=f"img/{target.id}.svg",
            permissions=ACTION_PERMISSIONS,
            order=order,
        )


async def unregister_file_actions(nc: AsyncNextcloudApp) -> None:
    for target in TARGETS.values():
        await nc.ui.files_dropdown_menu.unregister(action_name(target.id))


async def enabled_handler(enabled: bool, nc: AsyncNextcloudApp) -> str:
    """AppAPI's enable/disable callback. Returns "" on success, else a sentence for the admin."""
    try:
        if enabled:
            await register_file_actions(nc)
            log.info("Enabled: %d Files actions registered", len(TARGETS))
        else:
            await unregister_file_actions(nc)
            log.info("Disabled: Files actions removed")
    except NextcloudException as exc:
        verb = "register" if enabled else "remove"
        log.exception("Could not %s the Files actions", verb)
        return f"Could not {verb} the Files actions in Nextcloud: {exc.status_code} {exc.reason}".strip()
    except Exception as exc:  # the admin must get a sentence, never a silent failure
        log.exception("Enable/disable failed")
        return f"Video converter could not be {'enabled' if enabled else 'disabled'}: {exc}"
    return ""


async def report_initialised() -> None:
    """Tell AppAPI initialisation is done (progress 100), which makes it enable us.

    Nothing to download at init: ffmpeg is in the image. Runs after the /init answer, as AppAPI expects.
    """
    nc = AsyncNextcloudApp()
    for attempt in range(5):
        try:
            await nc.set_init_status(100)
            return
        except Exception:
            log.warning("Reporting init status to Nextcloud failed (attempt %d)", attempt + 1, exc_info=True)
            await anyio.sleep(2**attempt)

"""What happens when AppAPI initialises, enables or disables the ExApp.

On enable we register the admin settings form and one Files action per offered target; on disable we remove
them, so a disabled ExApp leaves nothing clickable behind. When the admin changes the offered targets, the
Files actions follow (see :func:`follow_offered_targets`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

import anyio
from nc_py_api import AsyncNextcloudApp, NextcloudException

from .admin_settings import FORM_ID, AdminSettings, LiveSettings
from .media import TARGETS

log = logging.getLogger(__name__)

ACTION_PREFIX = "vcfm_"
# Files actions for every video mime type: AppAPI matches this as a prefix of the file's mime.
ACTION_MIME = "video"
# Read + update + create + delete + share: the Files UI shows the action on files the user can read.
ACTION_PERMISSIONS = 31


def action_name(target_id: str) -> str:
    return f"{ACTION_PREFIX}{target_id}"


async def sync_file_actions(nc: AsyncNextcloudApp, offered: Iterable[str]) -> None:
    """One Files action per offered target ("Convert into MP4", …); the others removed."""
    offered = set(offered)
    for order, target in enumerate(TARGETS.values()):
        if target.id in offered:
            await nc.ui.files_dropdown_menu.register_ex(
                action_name(target.id),
                target.label,
                f"/api/actions/{target.id}",
                mime=ACTION_MIME,
                icon=f"img/{target.id}.svg",
                permissions=ACTION_PERMISSIONS,
                order=order,
            )
        else:
            await nc.ui.files_dropdown_menu.unregister(action_name(target.id))


async def remove_file_actions(nc: AsyncNextcloudApp) -> None:
    await sync_file_actions(nc, ())


def make_enabled_handler(live: LiveSettings) -> Callable[[bool, AsyncNextcloudApp], Awaitable[str]]:
    """AppAPI's enable/disable callback, bound to the app's live admin settings."""

    async def enabled_handler(enabled: bool, nc: AsyncNextcloudApp) -> str:
        """Returns "" on success, else a sentence for the admin (AppAPI shows it)."""
        try:
            if enabled:
                await nc.ui.settings.register_form(live.defaults.form())
                try:
                    await live.refresh(nc)
                except NextcloudException:
                    log.warning("Could not read the admin settings; using the defaults for now", exc_info=True)
                await sync_file_actions(nc, live.current.targets)
                log.info("Enabled: %d Files actions offered", len(live.current.targets))
            else:
                await remove_file_actions(nc)
                await nc.ui.settings.unregister_form(FORM_ID)
                log.info("Disabled: Files actions removed")
        except NextcloudException as exc:
            verb = "register" if enabled else "remove"
            log.exception("Could not %s the Files actions", verb)
            return f"Could not {verb} the Files actions in Nextcloud: {exc.status_code} {exc.reason}".strip()
        except Exception as exc:  # the admin must get a sentence, never a silent failure
            log.exception("Enable/disable failed")
            return f"Video converter could not be {'enabled' if enabled else 'disabled'}: {exc}"
        return ""

    return enabled_handler


def follow_offered_targets(live: LiveSettings) -> None:
    """Re-register the Files actions whenever the admin changes which conversions are offered."""

    async def changed(old: AdminSettings, new: AdminSettings) -> None:
        if old.targets != new.targets:
            await sync_file_actions(AsyncNextcloudApp(), new.targets)
            log.info("Files actions now offered: %s", ", ".join(sorted(new.targets)) or "none")

    live.on_change(changed)


async def refresh_admin_settings(live: LiveSettings, interval: float) -> None:
    """Re-read the admin settings forever (Nextcloud does not push changes to ExApps)."""
    nc: AsyncNextcloudApp | None = None
    while True:
        try:
            nc = nc or AsyncNextcloudApp()
            await live.refresh(nc)
        except Exception as exc:
            # Before registration or while Nextcloud is away this fails; the last values stay in force.
            log.debug("Admin settings not refreshed: %s", exc)
            nc = None  # a fresh client re-reads the capabilities next time
        await anyio.sleep(interval)


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

"""What happens when AppAPI initialises, enables or disables the ExApp.

On enable we register the admin settings form, the Conversions page (a top-menu entry with its script, style
and initial state) and the Files actions: one "Convert into…" that opens the page with the selected files,
plus a direct entry per quick target the admin chose. On disable we remove them, so a disabled ExApp leaves
nothing clickable behind. When the admin changes the offered or quick targets, the Files actions follow (see
:func:`follow_offered_targets`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import anyio
from nc_py_api import AsyncNextcloudApp, NextcloudException

from .admin_settings import FORM_ID, AdminSettings, LiveSettings
from .i18n import _
from .media import TARGETS

log = logging.getLogger(__name__)

ACTION_PREFIX = "vcfm_"
# The one default Files entry. Its handler answers {"redirect_handler": PAGE_NAME}, and AppAPI's Files plugin
# then opens the page with ?fileIds=<the selection>.
CONVERT_ACTION = f"{ACTION_PREFIX}convert"
# AppAPI matches each comma-separated mime as a prefix of the file's mime.
VIDEO_MIME = "video"
MEDIA_MIME = "video,audio"
# Read + update + create + delete + share: the Files UI shows the action on files the user can read.
ACTION_PERMISSIONS = 31

# The Conversions page: AppAPI serves it at /index.php/apps/app_api/embedded/<appid>/<PAGE_NAME>. Names are
# English; Nextcloud translates the menu name and the Files action labels in the browser from l10n/<lang>.js.
PAGE_NAME = "conversions"
PAGE_TITLE = _("Conversions")
CONVERT_LABEL = _("Convert into…")
PAGE_SCRIPT = "js/video_converter_fm-main"  # AppAPI adds ".js"
PAGE_STYLE = "css/video_converter_fm-main"  # and ".css"
PAGE_ICON = "img/app.svg"
STATE_KEY = "config"
EX_APP_DIR = Path(__file__).resolve().parents[1]


def action_name(target_id: str) -> str:
    return f"{ACTION_PREFIX}{target_id}"


def page_config(app_id: str, version: str) -> dict:
    """The page's initial state: what it cannot ask the API for before it knows where the API is.

    AppAPI hands it to the page JSON-encoded twice: ``JSON.parse(loadState('app_api', 'config'))``.
    """
    return {
        "app_id": app_id,
        "version": version,
        "page": PAGE_NAME,
        # For generateUrl(): the proxy prefix every API call goes through.
        "api_base": f"/apps/app_api/proxy/{app_id}",
        # The longest a page waits between two polls of the job list while something is pending or running.
        "poll_seconds": 2,
    }


async def register_page(nc: AsyncNextcloudApp) -> None:
    """The Conversions top-menu entry with its script, style and initial state."""
    await nc.ui.top_menu.register(PAGE_NAME, PAGE_TITLE, PAGE_ICON)
    await nc.ui.resources.set_script("top_menu", PAGE_NAME, PAGE_SCRIPT)
    # The page's build may inline its CSS into the script; a style registered without a file would cost every
    # page load a proxied 404.
    if (EX_APP_DIR / f"{PAGE_STYLE}.css").is_file():
        await nc.ui.resources.set_style("top_menu", PAGE_NAME, PAGE_STYLE)
    else:
        await nc.ui.resources.delete_style("top_menu", PAGE_NAME, PAGE_STYLE)
    app_id = nc.app_cfg.app_name
    version = nc.app_cfg.app_version or os.environ.get("APP_VERSION", "")
    await nc.ui.resources.set_initial_state("top_menu", PAGE_NAME, STATE_KEY, page_config(app_id, version))


async def remove_page(nc: AsyncNextcloudApp) -> None:
    # AppAPI deletes the entry's scripts, styles and initial states with it.
    await nc.ui.top_menu.unregister(PAGE_NAME)


async def sync_file_actions(nc: AsyncNextcloudApp, offered: Iterable[str], quick: Iterable[str] = ()) -> None:
    """ "Convert into…" (while anything is offered), and a direct entry per offered quick target; others removed."""
    offered = set(offered)
    direct = offered & set(quick)
    if offered:
        await nc.ui.files_dropdown_menu.register_ex(
            CONVERT_ACTION,
            CONVERT_LABEL,
            "/api/convert",
            mime=MEDIA_MIME,
            icon="img/convert.svg",
            permissions=ACTION_PERMISSIONS,
            order=0,
        )
    else:
        await nc.ui.files_dropdown_menu.unregister(CONVERT_ACTION)
    for order, target in enumerate(TARGETS.values(), start=1):
        if target.id in direct:
            await nc.ui.files_dropdown_menu.register_ex(
                action_name(target.id),
                target.label,
                f"/api/actions/{target.id}",
                mime=MEDIA_MIME if target.kind == "audio" else VIDEO_MIME,
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
                await register_page(nc)
                await sync_file_actions(nc, live.current.targets, live.current.quick_targets)
                quick = live.current.targets & live.current.quick_targets
                log.info("Enabled: Conversions page and Files actions (quick entries: %s)", _ids(quick))
            else:
                await remove_file_actions(nc)
                await remove_page(nc)
                await nc.ui.settings.unregister_form(FORM_ID)
                log.info("Disabled: Conversions page and Files actions removed")
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
        if (old.targets, old.quick_targets) != (new.targets, new.quick_targets):
            await sync_file_actions(AsyncNextcloudApp(), new.targets, new.quick_targets)
            log.info("Files quick entries now: %s", _ids(new.targets & new.quick_targets))

    live.on_change(changed)


def _ids(targets: Iterable[str]) -> str:
    return ", ".join(sorted(targets)) or "none"


async def refresh_admin_settings(live: LiveSettings, idle_interval: float) -> None:
    """Re-read the admin settings when nothing else did for ``idle_interval`` seconds (Nextcloud does not push
    changes to ExApps). While the ExApp is busy the busy paths keep them fresh (:meth:`LiveSettings.fresh`), and
    this loop then sends nothing."""
    while True:
        await live.fresh(idle_interval)
        await anyio.sleep(max(0.1, idle_interval - live.age()))


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

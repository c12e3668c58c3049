"""The admin's knobs: a declarative settings form in Nextcloud, values in appconfig_ex, applied without restart.

Environment variables (settings.py) give the defaults; what an admin saves in Nextcloud's admin settings wins.
Nextcloud does not tell an ExApp that a value changed (AppAPI stores the settings page's POST in appconfig_ex
and calls nobody), so :class:`LiveSettings` re-reads them — but only when they can matter, because every read
is a request Nextcloud's PHP answers. The rule (README, "Admin settings"):

* while the ExApp is busy — before the worker claims a job, when a job is created or the chooser asks which
  conversions are offered, when an admin opens the status — the values are re-read if the last read is older
  than ``settings_refresh_seconds`` (10 s), so a change applies within seconds;
* while nothing happens, once every ``settings_idle_refresh_seconds`` (5 minutes), so that the Files menu
  follows the admin's choice of quick entries even when nobody converts anything.

Listeners run when something changed (the worker's concurrency, the Files actions on offer).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

import anyio
from nc_py_api import AsyncNextcloudApp
from nc_py_api.ex_app.ui.settings import SettingsField, SettingsFieldType, SettingsForm

from .i18n import _
from .media import TARGETS
from .settings import Settings, clean_folder

log = logging.getLogger(__name__)

FORM_ID = "video_converter_fm_admin"
NUMBER_FIELDS = {
    # field id → (title, description, minimum, maximum)
    "concurrency": (_("Conversions at once"), _("How many videos this ExApp converts at the same time."), 1, 64),
    "max_running_per_user": (
        _("Conversions at once per user"),
        _(
            "How many of one user's videos may be converted at the same time, so that one user's big batch "
            "leaves room for everyone else (0 = half of all conversions at once, at least 1)."
        ),
        0,
        1000,
    ),
    "max_jobs_per_user": (
        _("Conversions per user"),
        _("How many unfinished conversions one user may have queued or running (0 = no limit)."),
        0,
        100_000,
    ),
    "retention_days": (_("Keep finished jobs (days)"), _("Finished jobs older than this are deleted."), 1, 3650),
    "max_input_mb": (_("Largest video (MB)"), _("Bigger files are refused (0 = no limit)."), 0, 10_000_000),
    "max_input_minutes": (_("Longest video (minutes)"), _("Longer videos are refused (0 = no limit)."), 0, 100_000),
    "ffmpeg_threads": (_("FFmpeg threads per conversion"), _("0 lets FFmpeg decide."), 0, 64),
    "max_encode_minutes": (
        _("Longest conversion (minutes)"),
        _(
            "A conversion still running after this long is stopped. Each video also gets a limit from its length "
            "and format (0 = only that one)."
        ),
        0,
        100_000,
    ),
    "max_output_ratio": (
        _("Largest result (times the original)"),
        _(
            "A conversion whose result grows beyond this many times the original, and past 256 MB, is stopped "
            "(0 = no limit)."
        ),
        0,
        1000,
    ),
    "outage_budget_hours": (
        _("Wait for Nextcloud (hours)"),
        _(
            "While Nextcloud cannot be reached or is in maintenance mode, conversions wait for it this long "
            "before they fail."
        ),
        1,
        720,
    ),
}
TARGETS_FIELD = "targets"
QUICK_FIELD = "quick_targets"
FALLBACK_FIELD = "fallback_folder"
FIELD_IDS = [*NUMBER_FIELDS, TARGETS_FIELD, QUICK_FIELD, FALLBACK_FIELD]


@dataclass(frozen=True)
class AdminSettings:
    """The values in force. 0 means "no limit" for the limits."""

    concurrency: int
    max_running_per_user: int
    max_jobs_per_user: int
    retention_days: int
    max_input_mb: int
    max_input_minutes: int
    ffmpeg_threads: int
    targets: frozenset[str]
    #: Targets that also get their own entry in the Files menu beside "Convert into…" (only offered ones show).
    quick_targets: frozenset[str] = frozenset()
    #: Where a result goes when the user cannot add files to its source's folder (relative to their root).
    fallback_folder: str = "Converted videos"
    max_encode_minutes: int = 720
    max_output_ratio: int = 10
    outage_budget_hours: int = 6

    @classmethod
    def defaults(cls, settings: Settings) -> AdminSettings:
        wanted = {t.strip() for t in settings.targets.split(",") if t.strip()}
        return cls(
            concurrency=settings.concurrency,
            max_running_per_user=settings.max_running_per_user,
            max_jobs_per_user=settings.max_jobs_per_user,
            retention_days=max(1, round(settings.retention_days)),
            max_input_mb=settings.max_input_mb,
            max_input_minutes=settings.max_input_minutes,
            ffmpeg_threads=settings.ffmpeg_threads,
            targets=frozenset(wanted & set(TARGETS)) if wanted else frozenset(TARGETS),
            quick_targets=frozenset(parse_targets(settings.quick_targets) or ()),
            fallback_folder=settings.fallback_folder,
            max_encode_minutes=settings.max_encode_minutes,
            max_output_ratio=settings.max_output_ratio,
            outage_budget_hours=max(1, round(settings.outage_budget_hours)),
        )

    def with_values(self, values: Mapping[str, str]) -> tuple[AdminSettings, list[str]]:
        """These settings with stored form values applied; invalid values keep the default and are reported."""
        changes: dict[str, object] = {}
        problems: list[str] = []
        for field, (_title, _desc, low, high) in NUMBER_FIELDS.items():
            raw = values.get(field)
            if raw is None or str(raw).strip() == "":
                continue
            try:
                number = int(float(str(raw).strip().strip('"')))
            except ValueError:
                problems.append(f"{field}: {raw!r} is not a number")
                continue
            if not low <= number <= high:
                problems.append(f"{field}: {number} is outside {low}–{high}")
                continue
            changes[field] = number
        raw_targets = values.get(TARGETS_FIELD)
        if raw_targets not in (None, ""):
            chosen = parse_targets(str(raw_targets))
            if chosen is None:
                problems.append(f"{TARGETS_FIELD}: {raw_targets!r} is not understood")
            else:
                changes[TARGETS_FIELD] = chosen
        raw_quick = values.get(QUICK_FIELD)
        if raw_quick is not None:
            # Unlike the offered targets, an empty choice is meaningful here: no quick entries.
            quick = parse_targets(str(raw_quick)) if str(raw_quick).strip() else frozenset()
            if quick is None:
                problems.append(f"{QUICK_FIELD}: {raw_quick!r} is not understood")
            else:
                changes[QUICK_FIELD] = quick
        raw_folder = values.get(FALLBACK_FIELD)
        if raw_folder not in (None, ""):
            try:
                changes[FALLBACK_FIELD] = clean_folder(str(raw_folder))
            except ValueError as exc:
                problems.append(f"{FALLBACK_FIELD}: {raw_folder!r} {exc}")
        return replace(self, **changes), problems  # type: ignore[arg-type]

    def running_per_user(self, workers: int = 1) -> int:
        """How many of one user's jobs may run at once across ``workers`` worker processes (each running
        :attr:`concurrency` jobs): the admin's number, or by default half of all places, at least 1."""
        if self.max_running_per_user:
            return self.max_running_per_user
        return max(1, self.concurrency * max(1, workers) // 2)

    def max_input_bytes(self) -> int:
        return self.max_input_mb * 1024 * 1024

    def form(self) -> SettingsForm:
        """The admin settings form, with these settings as its defaults."""
        fields = [
            SettingsField(
                id=field, title=title, type=SettingsFieldType.NUMBER, default=getattr(self, field), description=desc
            )
            for field, (title, desc, _low, _high) in NUMBER_FIELDS.items()
        ]
        fields.append(
            SettingsField(
                id=TARGETS_FIELD,
                title=_("Offered conversions"),
                type=SettingsFieldType.MULTI_CHECKBOX,
                # multi-checkbox: options map a label to a key, the value is {key: true|false}
                default={t.id: t.id in self.targets for t in TARGETS.values()},
                options={t.label: t.id for t in TARGETS.values()},
                description=_("Which conversions users can choose on the Conversions page and through the API."),
            )
        )
        fields.append(
            SettingsField(
                id=QUICK_FIELD,
                title=_("Quick entries in the Files menu"),
                type=SettingsFieldType.MULTI_CHECKBOX,
                default={t.id: t.id in self.quick_targets for t in TARGETS.values()},
                options={t.label: t.id for t in TARGETS.values()},
                description=_(
                    "The Files menu always has one entry, “Convert into…”, that opens the Conversions "
                    "page. Conversions ticked here also get an entry of their own that starts at once."
                ),
            )
        )
        fields.append(
            SettingsField(
                id=FALLBACK_FIELD,
                title=_("Folder for results that cannot go next to their video"),
                type=SettingsFieldType.TEXT,
                default=self.fallback_folder,
                description=_(
                    "When a user converts a video in a folder they cannot add files to (for example one shared "
                    "with them read-only), the result goes to this folder in their own files instead. It is "
                    "created when needed."
                ),
            )
        )
        return SettingsForm(
            id=FORM_ID,
            # Core's "Additional settings" admin section: it always exists, so no section has to be registered.
            section_id="additional",
            section_type="admin",
            title=_("Video converter"),
            description=_(
                "Limits and choices for video conversions. Changes apply within seconds while videos are being "
                "converted, otherwise within five minutes."
            ),
            fields=fields,
        )


def parse_targets(raw: str) -> frozenset[str] | None:
    """The multi-checkbox value (``{"mp4": true, …}``), or a list or comma-separated ids; None if unreadable."""
    text = raw.strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, dict):
        chosen = {key for key, on in value.items() if on in (True, 1, "1", "true")}
    elif isinstance(value, list):
        chosen = {str(item) for item in value}
    else:
        return None
    return frozenset(chosen & set(TARGETS))


Listener = Callable[[AdminSettings, AdminSettings], Awaitable[None]]


class LiveSettings:
    """The admin settings in force, refreshed from Nextcloud; the rest of the app reads :attr:`current`."""

    def __init__(self, settings: Settings) -> None:
        self.defaults = AdminSettings.defaults(settings)
        self.current = self.defaults
        self.max_age = settings.settings_refresh_seconds
        self._listeners: list[Listener] = []
        self._read_at: float | None = None  # time.monotonic() of the last read, successful or not
        self._lock = anyio.Lock()
        self._nc: AsyncNextcloudApp | None = None

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def age(self) -> float:
        """Seconds since the values were last read (infinite before the first read)."""
        return float("inf") if self._read_at is None else time.monotonic() - self._read_at

    async def fresh(self, max_age: float | None = None) -> AdminSettings:
        """The values in force, re-read first when the last read is older than ``max_age`` seconds (default
        ``settings_refresh_seconds``). Callers arriving together share one read; when Nextcloud cannot be read
        the last values stay in force and the next try waits ``max_age`` again."""
        max_age = self.max_age if max_age is None else max_age
        if self.age() < max_age:
            return self.current
        async with self._lock:
            if self.age() < max_age:
                return self.current
            try:
                await self.refresh()
            except Exception as exc:
                # Before registration or while Nextcloud is away this fails; the last values stay in force.
                log.debug("Admin settings not refreshed: %s", exc)
                self._nc = None  # a fresh client re-reads the capabilities next time
                self._read_at = time.monotonic()
        return self.current

    async def refresh(self, nc: AsyncNextcloudApp | None = None) -> bool:
        """Re-read the stored values; True when something changed (listeners have then run)."""
        if nc is None:
            nc = self._nc = self._nc or AsyncNextcloudApp()
        records = await nc.appconfig_ex.get_values(FIELD_IDS)
        self._read_at = time.monotonic()
        new, problems = self.defaults.with_values({r.key: r.value for r in records})
        for problem in problems:
            log.warning("Ignoring an invalid admin setting, %s", problem)
        return await self.apply(new)

    async def apply(self, new: AdminSettings) -> bool:
        old, self.current = self.current, new
        if new == old:
            return False
        log.info("Admin settings changed: %s", _describe(old, new))
        for listener in self._listeners:
            try:
                await listener(old, new)
            except Exception:
                log.exception("Applying the changed admin settings failed")
        return True


def _describe(old: AdminSettings, new: AdminSettings) -> str:
    parts = []
    for field in (*NUMBER_FIELDS, TARGETS_FIELD, QUICK_FIELD, FALLBACK_FIELD):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            shown = (lambda v: ",".join(sorted(v))) if field in (TARGETS_FIELD, QUICK_FIELD) else str
            parts.append(f"{field} {shown(before)} → {shown(after)}")
    return "; ".join(parts)

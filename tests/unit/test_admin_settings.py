import time
from dataclasses import replace

import anyio
import pytest

from ex_app.lib.admin_settings import FORM_ID, AdminSettings, LiveSettings, parse_targets
from ex_app.lib.lifecycle import refresh_admin_settings
from ex_app.lib.media import TARGETS
from ex_app.lib.settings import Settings

DEFAULTS = AdminSettings.defaults(Settings())


def test_environment_variables_give_the_defaults():
    settings = Settings(concurrency=3, max_input_mb=500, targets="mp4, webm,nope")
    defaults = AdminSettings.defaults(settings)
    assert (defaults.concurrency, defaults.max_input_mb, defaults.targets) == (3, 500, frozenset({"mp4", "webm"}))
    assert DEFAULTS.targets == frozenset(TARGETS)


def test_stored_form_values_override_the_defaults():
    merged, problems = DEFAULTS.with_values(
        {
            "concurrency": "4",
            "max_jobs_per_user": "10",
            "retention_days": "30",
            "targets": '{"mp4": true, "gif": false}',
        }
    )
    assert problems == []
    assert (merged.concurrency, merged.max_jobs_per_user, merged.retention_days) == (4, 10, 30)
    assert merged.targets == frozenset({"mp4"})


def test_invalid_values_keep_the_default_and_are_reported():
    merged, problems = DEFAULTS.with_values({"concurrency": "0", "max_input_mb": "lots", "targets": "42"})
    assert merged == DEFAULTS
    assert problems == [
        "concurrency: 0 is outside 1–64",
        "max_input_mb: 'lots' is not a number",
        "targets: '42' is not understood",
    ]


@pytest.mark.parametrize(
    ("concurrency", "workers", "setting", "cap"),
    [(1, 1, 0, 1), (2, 1, 0, 1), (4, 1, 0, 2), (5, 1, 0, 2), (2, 3, 0, 3), (4, 0, 0, 2), (2, 1, 3, 3), (8, 4, 1, 1)],
)
def test_one_users_running_jobs_are_capped_at_half_of_all_places_unless_the_admin_says(
    concurrency, workers, setting, cap
):
    limits = replace(DEFAULTS, concurrency=concurrency, max_running_per_user=setting)
    assert limits.running_per_user(workers) == cap


def test_the_per_user_cap_comes_from_the_environment_and_the_form():
    assert AdminSettings.defaults(Settings(max_running_per_user=3)).max_running_per_user == 3
    merged, problems = DEFAULTS.with_values({"max_running_per_user": "2"})
    assert (merged.max_running_per_user, problems) == (2, [])


def test_the_work_bounds_default_from_the_environment_and_take_the_admins_values():
    defaults = AdminSettings.defaults(Settings(max_encode_minutes=60, max_output_ratio=3))
    assert (defaults.max_encode_minutes, defaults.max_output_ratio) == (60, 3)
    merged, problems = defaults.with_values({"max_encode_minutes": "0", "max_output_ratio": "5000"})
    assert (merged.max_encode_minutes, merged.max_output_ratio) == (0, 3)
    assert problems == ["max_output_ratio: 5000 is outside 0–1000"]


@pytest.mark.parametrize(
    ("raw", "chosen"),
    [('{"mp4": true, "webm": "1", "mkv": false}', {"mp4", "webm"}), ('["mp3"]', {"mp3"}), ("mp4, avi", {"mp4", "avi"})],
)
def test_offered_targets_are_read_from_the_forms_json_or_a_list(raw, chosen):
    assert parse_targets(raw) == frozenset(chosen)


def test_the_form_is_an_admin_form_with_every_field_and_the_defaults():
    form = replace(DEFAULTS, concurrency=5).form().to_dict()
    assert (form["id"], form["section_type"]) == (FORM_ID, "admin")
    fields = {f["id"]: f for f in form["fields"]}
    assert set(fields) == {
        "concurrency",
        "max_running_per_user",
        "max_jobs_per_user",
        "retention_days",
        "max_input_mb",
        "max_input_minutes",
        "ffmpeg_threads",
        "max_encode_minutes",
        "max_output_ratio",
        "outage_budget_hours",
        "targets",
        "quick_targets",
        "fallback_folder",
    }
    assert fields["concurrency"]["default"] == 5
    assert fields["quick_targets"]["type"] == "multi-checkbox"
    assert not any(fields["quick_targets"]["default"].values()), "no quick entries unless the admin asks"
    assert fields["outage_budget_hours"]["default"] == 6
    assert fields["targets"]["type"] == "multi-checkbox"
    assert {o["value"] for o in fields["targets"]["options"]} == set(TARGETS)
    assert (fields["fallback_folder"]["type"], fields["fallback_folder"]["default"]) == ("text", "Converted videos")


def test_quick_entries_default_to_none_and_an_empty_choice_means_none():
    assert DEFAULTS.quick_targets == frozenset()
    assert AdminSettings.defaults(Settings(quick_targets="mp4,nope")).quick_targets == frozenset({"mp4"})
    chosen, problems = DEFAULTS.with_values({"quick_targets": '{"mp4": true, "webm": false}'})
    assert (chosen.quick_targets, problems) == (frozenset({"mp4"}), [])
    from_env = replace(DEFAULTS, quick_targets=frozenset({"mp4"}))
    # Unticking every box stores {} (or nothing at all): no quick entries, unlike "targets" where empty = all.
    assert from_env.with_values({"quick_targets": "{}"})[0].quick_targets == frozenset()
    assert from_env.with_values({"quick_targets": ""})[0].quick_targets == frozenset()
    assert from_env.with_values({"quick_targets": "42"})[1] == ["quick_targets: '42' is not understood"]


@pytest.mark.anyio
async def test_listeners_hear_about_changes_only():
    live = LiveSettings(Settings())
    heard = []

    async def listener(old, new):
        heard.append((old.concurrency, new.concurrency))

    live.on_change(listener)
    assert await live.apply(replace(live.current, concurrency=7)) is True
    assert await live.apply(replace(live.current, concurrency=7)) is False
    assert heard == [(live.defaults.concurrency, 7)]


def test_the_fallback_folder_comes_from_the_environment_and_the_form_and_stays_inside_the_users_files():
    assert AdminSettings.defaults(Settings(fallback_folder="/Media/Converted/")).fallback_folder == "Media/Converted"
    merged, problems = DEFAULTS.with_values({"fallback_folder": " Videos / From the converter "})
    assert (merged.fallback_folder, problems) == ("Videos/From the converter", [])
    merged, problems = DEFAULTS.with_values({"fallback_folder": "../../etc"})
    assert merged.fallback_folder == "Converted videos"
    assert problems == ["fallback_folder: '../../etc' must be a plain folder path inside the user's files"]
    with pytest.raises(ValueError, match="must name a folder"):
        Settings(fallback_folder=" / ")


class StoredSettings(LiveSettings):
    """Admin settings read from a dict instead of Nextcloud's appconfig_ex; counts the reads."""

    def __init__(self, settings: Settings, fail: bool = False) -> None:
        super().__init__(settings)
        self.stored: dict[str, str] = {}
        self.reads = 0
        self.fail = fail

    async def refresh(self, nc=None) -> bool:
        self.reads += 1
        await anyio.sleep(0.01)  # a request takes a while: callers arriving meanwhile must share it
        if self.fail:
            raise OSError("Nextcloud is away")
        self._read_at = time.monotonic()
        return await self.apply(self.defaults.with_values(self.stored)[0])


@pytest.mark.anyio
async def test_settings_are_re_read_only_when_older_than_the_busy_age_and_callers_share_one_read():
    live = StoredSettings(Settings(settings_refresh_seconds=0.2))
    live.stored["concurrency"] = "5"
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(live.fresh)
    assert (live.reads, live.current.concurrency) == (1, 5)

    live.stored["concurrency"] = "3"
    assert (await live.fresh()).concurrency == 5 and live.reads == 1  # read moments ago: still in force
    await anyio.sleep(0.25)
    assert (await live.fresh()).concurrency == 3 and live.reads == 2


@pytest.mark.anyio
async def test_when_nextcloud_cannot_be_read_the_last_values_stay_and_the_next_try_waits():
    live = StoredSettings(Settings(settings_refresh_seconds=0.2), fail=True)
    assert await live.fresh() == live.defaults
    assert await live.fresh() == live.defaults
    assert live.reads == 1
    await anyio.sleep(0.25)
    await live.fresh()
    assert live.reads == 2


@pytest.mark.anyio
async def test_the_idle_loop_reads_only_when_nothing_else_did_for_its_interval():
    live = StoredSettings(Settings())
    with anyio.move_on_after(0.55):
        await refresh_admin_settings(live, 0.2)
    assert live.reads == 3  # at 0, 0.2 and 0.4 s
    live.reads, busy = 0, 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(refresh_admin_settings, live, 0.2)
        await anyio.sleep(0.05)
        for _ in range(10):  # a busy path keeps the values at most 0.05 s old: the idle loop has nothing to add
            before = live.reads
            await live.fresh(0.05)
            busy += live.reads - before
            await anyio.sleep(0.05)
        tg.cancel_scope.cancel()
    assert busy >= 5
    assert live.reads == busy  # (the values were fresh from the first part when the idle loop started)

"""Scratch folders: a fresh, unguessable, private folder per attempt at a job."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from ex_app.lib.ops import scratch_job_dirs
from ex_app.lib.settings import Settings
from ex_app.lib.worker.pipeline import make_scratch

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_each_attempt_gets_a_new_private_unguessable_folder(tmp_path: Path) -> None:
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    settings.scratch.mkdir(mode=0o755)  # as an older version left it
    (settings.scratch / "job-7").mkdir()  # an older version's folder for the same job

    first = await make_scratch(settings, 7)
    (first / "source.mp4").write_bytes(b"left by a killed attempt")
    second = await make_scratch(settings, 7)

    assert re.fullmatch(r"job-7-[0-9a-f]{32}", second.name) and second.name != first.name
    assert (mode(settings.scratch), mode(second)) == (0o700, 0o700)
    assert [path for _id, path in await scratch_job_dirs(settings.scratch)] == [second]


async def test_other_jobs_folders_are_left_alone(tmp_path: Path) -> None:
    settings = Settings(APP_PERSISTENT_STORAGE=str(tmp_path))
    other = await make_scratch(settings, 70)
    mine = await make_scratch(settings, 7)
    assert sorted(await scratch_job_dirs(settings.scratch)) == [(7, mine), (70, other)]

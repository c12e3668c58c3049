"""Room on the converter's disk: the pure go / wait / never decision, and the worker's bookkeeping of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ex_app.lib.errors import PermanentJobError, WaitingForSpace
from ex_app.lib.media import get_target
from ex_app.lib.worker.space import (
    GIF_OUTPUT_BYTES,
    MIB,
    Disk,
    Room,
    ScratchSpace,
    decide,
    expected_output_bytes,
    needed_bytes,
)

GB = 1024 * MIB


@pytest.mark.parametrize(
    ("needed", "total", "free", "promised", "room"),
    [
        (1 * GB, 10 * GB, 5 * GB, 0, Room.GO),
        (5 * GB, 10 * GB, 5 * GB, 0, Room.GO),  # exactly fits
        (5 * GB + 1, 10 * GB, 5 * GB, 0, Room.WAIT),  # fits on the empty disk, not now
        (3 * GB, 10 * GB, 5 * GB, 3 * GB, Room.WAIT),  # free, but promised to a running job
        (2 * GB, 10 * GB, 5 * GB, 3 * GB, Room.GO),
        (10 * GB, 10 * GB, 0, 0, Room.WAIT),  # the whole disk: possible once everything else is gone
        (10 * GB + 1, 10 * GB, 10 * GB, 0, Room.NEVER),  # bigger than the filesystem
    ],
)
def test_decide_goes_waits_or_refuses(needed: int, total: int, free: int, promised: int, room: Room):
    assert decide(needed, Disk(total=total, free=free), promised) is room


def test_the_output_estimate_depends_on_the_target():
    assert expected_output_bytes(get_target("mp4"), 100 * MIB) == 150 * MIB
    assert expected_output_bytes(get_target("mp3"), 100 * MIB) == 100 * MIB
    # A GIF's size follows its (capped) duration and frame size, not the source's bytes.
    assert expected_output_bytes(get_target("gif"), 1 * MIB) == GIF_OUTPUT_BYTES
    assert needed_bytes(get_target("mkv"), 100 * MIB, reserve=10 * MIB) == 260 * MIB


@pytest.mark.anyio
async def test_a_job_waits_while_a_running_job_holds_the_space_and_goes_once_it_is_released(tmp_path: Path):
    free = shutil.disk_usage(tmp_path).free
    space = ScratchSpace(tmp_path, reserve_bytes=0, retry_after=7)
    # mp3 doubles the source (source + output of the same size): 0.3 of the free space each, 0.6 for one job.
    source = int(free * 0.3)
    await space.hold(1, get_target("mp3"), source)

    with pytest.raises(WaitingForSpace) as caught:
        await space.hold(2, get_target("mp3"), source)
    assert caught.value.retry_after == 7
    assert caught.value.user_message == "Waiting for free space on the converter's disk"

    space.release(1)
    await space.hold(2, get_target("mp3"), source)


@pytest.mark.anyio
async def test_what_a_running_job_has_already_written_is_not_promised_twice(tmp_path: Path):
    space = ScratchSpace(tmp_path, reserve_bytes=5 * MIB, retry_after=7)
    await space.hold(1, get_target("mp3"), 2 * MIB)  # expects 4 MiB: source + output
    assert space._measure(2)[1] == 4 * MIB  # nothing written yet
    (tmp_path / "job-1").mkdir()
    space.track(1, tmp_path / "job-1")
    (tmp_path / "job-1" / "source.mp4").write_bytes(b"\0" * (2 * MIB))

    _disk, promised = space._measure(2)

    # The source is on the disk (no longer free); only the output is still to come. The reserve is not per job.
    assert promised == 2 * MIB


@pytest.mark.anyio
async def test_a_job_bigger_than_the_whole_disk_fails_at_once_with_a_clear_message(tmp_path: Path):
    total = shutil.disk_usage(tmp_path).total
    space = ScratchSpace(tmp_path, reserve_bytes=0, retry_after=7)
    with pytest.raises(PermanentJobError) as caught:
        await space.hold(1, get_target("mp4"), total)
    assert caught.value.user_message.startswith("The video is too large for the converter's disk")
    assert f"the disk holds {-(-total // MIB)} MB" in caught.value.user_message

"""Bounded work with the real ffmpeg: lower priority and a memory ceiling on the child, the wall-clock limit,
the output-size limit, and the decompression bombs refused from what ffprobe says of them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest

from ex_app.lib.errors import MediaError
from ex_app.lib.media import ProcessLimits, check_decoding_cost, probe, run_ffmpeg
from ex_app.lib.media._stderr import OUT_OF_MEMORY
from ex_app.lib.media.command import GLOBAL_ARGS
from tests.hostile import endless_gif, huge_gif
from tests.media import run_ffmpeg as make

pytestmark = [pytest.mark.anyio, pytest.mark.ffmpeg]

ENDLESS = ["-re", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25"]
"""A live-paced source that never ends: ffmpeg runs until it is stopped."""


def ffmpeg_command(*args: str) -> list[str]:
    return ["ffmpeg", *GLOBAL_ARGS, *args]


def our_ffmpeg_children() -> list[int]:
    """Pids of running ffmpeg processes whose parent is this test process (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if comm == "ffmpeg" and int(rest[1]) == os.getpid() and rest[0] != "Z":
            found.append(int(entry.name))
    return found


def nice_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[16])  # field 19 of proc(5), counted after "(comm)"


def address_space_limit(pid: int) -> str:
    line = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if "address space" in line)
    return line.split()[3]  # "Max address space <soft> <hard> bytes"


def facts(pid: int) -> dict[str, object]:
    """What the kernel says of the child: niceness above ours, address-space limit, malloc arenas capped."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return {
        "nice": nice_of(pid) - os.getpriority(os.PRIO_PROCESS, 0),
        "as": address_space_limit(pid),
        "arena": b"MALLOC_ARENA_MAX=4" in environ,
    }


async def test_ffmpeg_runs_niced_with_a_memory_ceiling(tmp_path: Path) -> None:
    limits = ProcessLimits(nice=7, memory_bytes=3 * 1024**3)
    seen: dict[str, object] = {}
    working = anyio.Event()

    async def on_progress(percent: float) -> None:
        working.set()

    async def run() -> None:
        cmd = ffmpeg_command(*ENDLESS, "-f", "null", "-")
        await run_ffmpeg(cmd, duration=1e9, on_progress=on_progress, min_interval=0, limits=limits)

    with anyio.move_on_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await working.wait()  # ffmpeg reports progress: run_ffmpeg holds it, whatever happens next
            [pid] = our_ffmpeg_children()
            seen = facts(pid)
            tg.cancel_scope.cancel()
    assert seen == {"nice": 7, "as": str(3 * 1024**3), "arena": True}
    assert our_ffmpeg_children() == []


async def test_the_wall_clock_limit_stops_ffmpeg_with_a_clear_message() -> None:
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        await run_ffmpeg(ffmpeg_command(*ENDLESS, "-f", "null", "-"), duration=None, time_limit=1.0)
    assert time.monotonic() - started < 10
    assert caught.value.user_message == (
        "The conversion took longer than the 1 minutes allowed for this video, so it was stopped."
    )
    assert our_ffmpeg_children() == []


async def test_an_output_growing_past_its_bound_is_stopped(tmp_path: Path) -> None:
    out = tmp_path / "out.nut"
    # Uncompressed 640x480 video, live-paced: about 11 MB/s, so 2 MB is passed by ffmpeg's first progress report.
    source = ["-re", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25"]
    cmd = ffmpeg_command(*source, "-c:v", "rawvideo", "-f", "nut", f"file:{out}")
    with pytest.raises(MediaError) as caught:
        await run_ffmpeg(cmd, duration=None, max_output_bytes=2 * 1024 * 1024, time_limit=60)
    assert caught.value.user_message == (
        "The converted file grew past 2 MB, far larger than the original, so the conversion was stopped."
    )
    assert our_ffmpeg_children() == []
    assert out.stat().st_size < 50 * 1024 * 1024  # stopped within a few progress reports, not at the time limit


async def test_running_out_of_the_memory_ceiling_says_so() -> None:
    # One 8000x8000 picture needs more than x264 can allocate within 512 MB of address space.
    cmd = ffmpeg_command(
        "-f", "lavfi", "-i", "color=size=8000x8000:duration=0.04", "-c:v", "libx264", "-f", "null", "-"
    )
    with pytest.raises(MediaError) as caught:
        await run_ffmpeg(cmd, duration=None, limits=ProcessLimits(memory_bytes=512 * 1024**2))
    assert caught.value.user_message == OUT_OF_MEMORY


@pytest.fixture(scope="module")
def small_gif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 frames of solid 720p: a few kilobytes, as bombs are."""
    path = tmp_path_factory.mktemp("gif") / "solid.gif"
    make("-f", "lavfi", "-i", "color=c=red:size=1280x720:rate=10:duration=5", "-f", "gif", str(path))
    return path


async def test_a_gif_claiming_a_16000_pixel_square_is_refused_before_encoding(small_gif: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "huge.gif"
    bomb.write_bytes(huge_gif(small_gif))
    info = await probe(bomb)  # the whitelist admits GIF: it is the size check that refuses
    assert (info.main_video.width, info.main_video.height) == (16000, 16000)
    with pytest.raises(MediaError, match="16000 x 16000 pixels, larger than the converter handles"):
        check_decoding_cost(info, bomb.stat().st_size)


async def test_a_gif_whose_frames_last_minutes_is_refused_before_encoding(small_gif: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "endless.gif"
    bomb.write_bytes(endless_gif(small_gif))
    info = await probe(bomb)
    assert info.duration and info.duration > 9 * 3600 and bomb.stat().st_size < 20_000
    with pytest.raises(MediaError, match="far too small for the video it claims to hold"):
        check_decoding_cost(info, bomb.stat().st_size)
    original = await probe(small_gif)
    check_decoding_cost(original, (await anyio.Path(small_gif).stat()).st_size)  # the GIF it was made from is fine

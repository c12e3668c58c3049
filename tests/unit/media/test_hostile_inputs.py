"""Files that try to make FFmpeg read other files, and files that are not what their name says.

Each attack is first shown to work on a plain ffprobe (so a test here cannot pass because the attack is
broken), then shown to be refused by :func:`probe` and by the ffmpeg command :func:`build_command` makes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ex_app.lib.errors import MediaError
from ex_app.lib.media import build_command, get_target, probe, run_ffmpeg
from ex_app.lib.media._stderr import EMPTY_FILE, EXTERNAL_REFERENCE, NOT_ACCEPTED, NOT_MEDIA, TRUNCATED
from ex_app.lib.media.probe import MediaInfo, VideoStream
from tests.hostile import (
    MEDIA_NAMES,
    external_reference_mov,
    ffconcat_list,
    hls_playlist,
    image_sequence,
    make_planted,
)

pytestmark = [pytest.mark.anyio, pytest.mark.ffmpeg]


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_planted(tmp_path_factory.mktemp("other-user"))


def plain_ffprobe(path: Path, *extra: str) -> dict:
    """What FFmpeg makes of ``path`` without our options: the proof that an attack file is one."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-count_packets", "-print_format", "json", "-show_format",
         "-show_streams", f"file:{path}"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


async def refused_everywhere(path: Path, message: str, tmp_path: Path) -> None:
    """:func:`probe` refuses ``path`` with ``message``; so does ffmpeg itself, should a probe ever be skipped."""
    with pytest.raises(MediaError) as caught:
        await probe(path)
    assert caught.value.user_message == message
    assert str(path) not in caught.value.user_message
    # As if the probe had said MP4: ffmpeg gets the same options and must refuse on its own.
    disguised = MediaInfo(duration=1.0, format_name="mov,mp4,m4a,3gp,3g2,mj2", video=(VideoStream(0, "h264"),))
    cmd = build_command(get_target("mkv"), disguised, path, tmp_path / "out.mkv")
    with pytest.raises(MediaError) as caught:
        await run_ffmpeg(cmd, duration=1.0)
    assert caught.value.user_message in (message, NOT_ACCEPTED)
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("name", MEDIA_NAMES)
async def test_an_hls_playlist_under_a_media_name_is_refused(
    planted: dict[str, Path], tmp_path: Path, name: str
) -> None:
    attack = tmp_path / name
    attack.write_bytes(hls_playlist(planted["ts"]))
    seen = plain_ffprobe(attack)
    assert seen["format"]["format_name"] == "hls" and int(seen["streams"][0]["nb_read_packets"]) > 0

    await refused_everywhere(attack, NOT_ACCEPTED, tmp_path)


async def test_an_ffconcat_list_is_refused(planted: dict[str, Path], tmp_path: Path) -> None:
    attack = planted["ts"].parent / "list.mp4"  # beside its target: concat's safe mode allows plain names
    attack.write_bytes(ffconcat_list(planted["ts"].name))
    assert plain_ffprobe(attack)["format"]["format_name"] == "concat"

    await refused_everywhere(attack, NOT_ACCEPTED, tmp_path)


async def test_an_image_sequence_pattern_name_is_refused(tmp_path: Path) -> None:
    pattern = image_sequence(tmp_path / "frames")
    seen = plain_ffprobe(pattern)
    assert seen["format"]["format_name"] == "image2" and int(seen["streams"][0]["nb_read_packets"]) == 3

    await refused_everywhere(pattern, NOT_ACCEPTED, tmp_path)


async def test_an_ffmetadata_file_is_not_accepted(awkward: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as caught:
        await probe(awkward["metadata_only"])
    assert caught.value.user_message == NOT_ACCEPTED


async def test_a_mov_referring_to_media_in_another_folder_is_refused(planted: dict[str, Path], tmp_path: Path) -> None:
    # Two sibling folders, as two jobs' scratch folders: <root>/attacker/source.mov reaches <root>/<other>/secret.mov
    # as ../<other>/secret.mov (up=2: this folder, then its parent; down=2: "<other>/secret.mov").
    other = planted["mov"].parent
    attacker = other.parent / "attacker"
    attacker.mkdir(exist_ok=True)
    attack = attacker / "source.mov"
    attack.write_bytes(external_reference_mov(planted["mov"], up=2, down=2, path=f"/{other.name}/secret.mov"))
    assert b"mdat" not in attack.read_bytes()  # the picture can only come from the other file
    followed = plain_ffprobe(attack, "-enable_drefs", "1")
    assert int(followed["streams"][0]["nb_read_packets"]) == 10

    with pytest.raises(MediaError) as caught:
        await probe(attack)
    assert caught.value.user_message == EXTERNAL_REFERENCE
    assert "Skipped opening external track" in caught.value.stderr_tail


async def test_an_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "nothing.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError) as caught:
        await probe(empty)
    assert caught.value.user_message == EMPTY_FILE


@pytest.mark.parametrize("name", ["noise.mp4", "noise.mkv", "noise.bin"])
async def test_random_bytes_are_not_a_video_whatever_the_name(tmp_path: Path, name: str) -> None:
    noise = tmp_path / name
    noise.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(MediaError) as caught:
        await probe(noise)
    assert caught.value.user_message == NOT_MEDIA


async def test_a_truncated_mp4_says_it_is_incomplete(samples: dict[str, Path]) -> None:
    with pytest.raises(MediaError) as caught:
        await probe(samples["truncated"])
    assert caught.value.user_message == TRUNCATED

"""The Nextcloud gateway against a live server: the real nc_py_api client over HTTP, nothing patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from ex_app.lib.errors import QuotaExceeded, ScratchFull, SourceGone
from ex_app.lib.nextcloud import NextcloudGateway
from ex_app.lib.nextcloud.gateway import CHUNK_SIZE

from .harness import APP_ID, ExAppProcess, NextcloudTarget
from .jobs_helpers import new_folder

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def as_exapp(nextcloud: NextcloudTarget, exapp: ExAppProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """This test process speaks to Nextcloud with the registered ExApp's identity (what nc_py_api reads)."""
    for name, value in {
        "NEXTCLOUD_URL": nextcloud.url,
        "APP_ID": APP_ID,
        "APP_SECRET": exapp.secret,
        "APP_VERSION": exapp.version,
    }.items():
        monkeypatch.setenv(name, value)


class ListedTooEarly(NextcloudGateway):
    """A gateway whose folder listing predates a file that appears while the result uploads."""

    async def list_names(self, folder: str) -> set[str]:
        return set()


async def test_a_name_that_appears_during_the_upload_is_not_overwritten(
    nextcloud: NextcloudTarget, as_exapp: None, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/clip.mp4", b"precious")
    result = tmp_path / "output.mp4"
    result.write_bytes(b"converted" * 100_000)
    since = _last_seq(nextcloud)

    uploaded = await ListedTooEarly(nextcloud.alice.name).upload_new(result, folder, "clip", "mp4", mtime=1_700_000_000)

    assert uploaded.path == f"{folder}/clip (1).mp4"
    assert uploaded.size == result.stat().st_size
    assert uploaded.file_id == nextcloud.file_id("alice", f"{folder}/clip (1).mp4")
    assert nextcloud.mtime("alice", f"{folder}/clip (1).mp4") == uploaded.mtime == 1_700_000_000
    assert nextcloud.download("alice", f"{folder}/clip.mp4") == b"precious"
    assert nextcloud.download("alice", f"{folder}/clip (1).mp4") == result.read_bytes()
    if nextcloud.is_standin:
        # Smaller than a chunk: one PUT per name tried, each refusing to replace (412 on the taken name), and no
        # chunked upload, listing or lookup around them.
        sent = _sent(nextcloud, since)
        assert [(r["method"], r["path"].rsplit("/", 1)[-1], r["status"]) for r in sent] == [
            ("PUT", "clip.mp4", 412),
            ("PUT", "clip (1).mp4", 201),
        ]
        assert all(r["headers"].get("if-none-match") == "*" for r in sent)


async def test_a_result_bigger_than_a_chunk_goes_in_chunks_of_the_larger_size_and_never_overwrites(
    nextcloud: NextcloudTarget, as_exapp: None, tmp_path: Path
):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/big.mkv", b"precious")
    result = tmp_path / "big.mkv"
    result.write_bytes(bytes(range(256)) * ((CHUNK_SIZE + 3 * 1024 * 1024) // 256 + 7))
    since = _last_seq(nextcloud)

    uploaded = await ListedTooEarly(nextcloud.alice.name).upload_new(result, folder, "big", "mkv")

    assert uploaded.path == f"{folder}/big (1).mkv"
    assert uploaded.file_id == nextcloud.file_id("alice", uploaded.path)
    assert nextcloud.download("alice", uploaded.path) == result.read_bytes()
    assert nextcloud.download("alice", f"{folder}/big.mkv") == b"precious"
    if nextcloud.is_standin:
        sent = _sent(nextcloud, since)
        chunks = [int(r["headers"]["content-length"]) for r in sent if r["method"] == "PUT"]
        assert chunks == [CHUNK_SIZE, result.stat().st_size - CHUNK_SIZE] * 2  # once per name tried
        moves = [r["status"] for r in sent if r["method"] == "MOVE"]
        assert moves == [412, 201]
        # Only the refused attempt's chunks are deleted: after a MOVE Nextcloud has removed them itself.
        assert [r["status"] for r in sent if r["method"] == "DELETE"] == [204]


def _last_seq(nextcloud: NextcloudTarget) -> int:
    return max((r["seq"] for r in nextcloud.faults.requests()), default=0) if nextcloud.is_standin else 0


def _sent(nextcloud: NextcloudTarget, since: int) -> list[dict]:
    """The WebDAV requests sent as the ExApp since ``since`` (the running ExApp reads its settings over OCS)."""
    return [
        r
        for r in nextcloud.faults.requests(since)
        if r["ex_app_id"] == APP_ID and r["path"].startswith("/remote.php/dav")
    ]


async def test_resolving_a_missing_file_id_says_the_source_is_gone(nextcloud: NextcloudTarget, as_exapp: None):
    with pytest.raises(SourceGone, match="The source file no longer exists"):
        await NextcloudGateway(nextcloud.alice.name).resolve(987654321)


async def test_download_streams_the_exact_bytes(nextcloud: NextcloudTarget, as_exapp: None, tmp_path: Path):
    folder = new_folder(nextcloud, "alice")
    payload = bytes(range(256)) * 40_000
    nextcloud.upload("alice", f"{folder}/v.mp4", payload)
    gateway = NextcloudGateway(nextcloud.alice.name)

    remote = await gateway.resolve(nextcloud.file_id("alice", f"{folder}/v.mp4"))
    await gateway.download(remote, tmp_path / "v.mp4")

    assert remote.path == f"{folder}/v.mp4" and remote.size == len(payload)
    assert (tmp_path / "v.mp4").read_bytes() == payload


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full (every write: ENOSPC)")
async def test_a_download_onto_a_full_disk_is_scratch_full(nextcloud: NextcloudTarget, as_exapp: None):
    folder = new_folder(nextcloud, "alice")
    nextcloud.upload("alice", f"{folder}/v.mp4", b"\0" * 300_000)
    gateway = NextcloudGateway(nextcloud.alice.name)
    remote = await gateway.resolve(nextcloud.file_id("alice", f"{folder}/v.mp4"))

    # Writing into /dev/full fails with ENOSPC, as a full scratch disk does: our disk, not a Nextcloud outage.
    with pytest.raises(ScratchFull, match="The converter's disk is full"):
        await gateway.download(remote, Path("/dev/full"))


async def test_a_read_only_share_takes_no_files_and_the_own_folder_is_created_when_missing(
    nextcloud: NextcloudTarget, as_exapp: None
):
    if not nextcloud.is_standin:
        pytest.skip("a read-only share needs a second user's share on a real server")
    folder = new_folder(nextcloud, "alice")
    nextcloud.faults.mark_readonly("alice", f"{folder}/shared")
    gateway = NextcloudGateway(nextcloud.alice.name)

    assert await gateway.can_add_files(folder) is True
    assert await gateway.can_add_files(f"{folder}/shared") is False
    assert await gateway.own_folder(f"{folder}/Converted videos") is True  # created, parents included
    assert nextcloud.listdir("alice", folder) == ["Converted videos/", "shared/"]
    assert await gateway.own_folder(f"{folder}/shared") is False  # exists, but takes no files
    assert await gateway.own_folder(f"{folder}/shared/inside") is False  # cannot be created


async def test_a_full_quota_at_the_chunked_uploads_end_is_quota_exceeded_and_leaves_no_chunks(
    nextcloud: NextcloudTarget, as_exapp: None, tmp_path: Path
):
    if not nextcloud.is_standin:
        pytest.skip("fault injection needs the stand-in")
    folder = new_folder(nextcloud, "alice")
    result = tmp_path / "big.mkv"
    result.write_bytes(b"\1" * (CHUNK_SIZE + 1024))
    nextcloud.faults.status(count=1, status=507, method="MOVE", path_prefix="/remote.php/dav/uploads/alice")
    try:
        with pytest.raises(QuotaExceeded):
            await NextcloudGateway(nextcloud.alice.name).upload_new(result, folder, "big", "mkv")
    finally:
        nextcloud.faults.clear()
    assert nextcloud.listdir("alice", folder) == []
    assert [u for u in nextcloud.faults.uploads() if u["user"] == "alice"] == []  # the chunks were removed

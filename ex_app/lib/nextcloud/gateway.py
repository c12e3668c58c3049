"""The one place that talks to Nextcloud on behalf of a user.

nc_py_api and niquests exceptions stop here and become ours (see errors.py): 404 → SourceGone, 403 →
PermissionDenied, 507 (the user's quota) → QuotaExceeded (not retried), 5xx → NextcloudUnavailable (retried by
the worker); connection errors, timeouts, 502–504 and maintenance mode → NextcloudOutage (the worker checks with
:func:`probe_nextcloud` whether all of Nextcloud is down, and then waits for it without spending the job's
attempts); anything else → a PermanentJobError with a message a person can read. A download that fills the
converter's own disk (ENOSPC) is ScratchFull, not a Nextcloud problem.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio
import niquests
from nc_py_api import AsyncNextcloudApp, NextcloudException
from nc_py_api.files import FsNode

from ..errors import (
    DISK_FULL,
    QUOTA_FULL,
    JobError,
    NextcloudOutage,
    NextcloudUnavailable,
    PermanentJobError,
    PermissionDenied,
    QuotaExceeded,
    ScratchFull,
    SourceGone,
)
from ..i18n import _

log = logging.getLogger(__name__)

# Nextcloud's chunked upload v2 needs chunks of at least 5 MiB (except the last). Each chunk's body is streamed
# from disk in BLOCK-sized pieces: handing niquests a 5 MiB bytes object per chunk made the process grow with
# the file's size (measured: +160 MB over a 1 GB upload), streaming keeps it flat.
CHUNK_SIZE = 5 * 1024 * 1024
BLOCK = 256 * 1024
DOWNLOAD_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    """A file in the user's Nextcloud, as the gateway hands it to the worker."""

    file_id: int
    path: str  # relative to the user's root, starting with "/"
    etag: str
    size: int
    mime: str
    mtime: float  # seconds since the epoch
    is_dir: bool = False

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path) or "/"

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def _remote_file(node: FsNode) -> RemoteFile:
    return RemoteFile(
        file_id=int(node.info.fileid),
        path="/" + node.user_path.strip("/"),
        etag=node.etag_unquoted,
        size=int(node.info.size),
        mime=node.info.mimetype,
        mtime=node.info.last_modified.timestamp(),
        is_dir=node.is_dir,
    )


class _Enough(Exception):
    """Raised by :class:`_Head` to stop a download once enough bytes arrived."""


class _Head:
    """A write-only file that keeps the first ``limit`` bytes and then stops the download."""

    def __init__(self, fp: BinaryIO, limit: int) -> None:
        self.fp, self.left = fp, limit

    def write(self, data: bytes) -> int:
        if self.left <= 0:
            raise _Enough
        piece = data[: self.left]
        self.fp.write(piece)
        self.left -= len(piece)
        if len(piece) < len(data):
            raise _Enough
        return len(data)


FOLDER_GONE = _("The folder of the source file no longer exists")


def _creatable(node: FsNode | None) -> bool:
    # "C" create file, "K" create folder: Nextcloud grants both with a share's create permission.
    permissions = node.info.permissions if node is not None and node.is_dir else ""
    return "C" in permissions or "K" in permissions


def _is_transient_status(code: int) -> bool:
    # 507 Insufficient Storage is the user's quota: it will not go away by itself, so retrying only loops.
    return code in (408, 425, 429) or (500 <= code <= 599 and code != 507)


#: What Nextcloud sends with its 503 while an admin has it in maintenance mode (``occ maintenance:mode --on``).
MAINTENANCE_HEADER = "X-Nextcloud-Maintenance-Mode"
# A reverse proxy answers 502/504 when Nextcloud behind it is down; 503 is maintenance or an overloaded server.
_OUTAGE_STATUSES = (502, 503, 504)


def in_maintenance(response: object) -> bool:
    """Whether an HTTP response is Nextcloud's maintenance-mode answer."""
    headers = getattr(response, "headers", None) or {}
    return str(headers.get(MAINTENANCE_HEADER, "")).strip() == "1"


@contextlib.contextmanager
def mapped_errors(what: str, *, missing: Callable[[], JobError] | None = None) -> Iterator[None]:
    """Turn nc_py_api / niquests failures inside the block into our exception tree."""
    try:
        yield
    except JobError:
        raise
    except NextcloudException as exc:
        code = exc.status_code
        if code == 404:
            raise (missing() if missing else SourceGone(f"{what}: not found in Nextcloud")) from exc
        if code in (401, 403):
            raise PermissionDenied(f"{what}: Nextcloud refused access ({code})") from exc
        if code == 507:
            raise QuotaExceeded(QUOTA_FULL) from exc
        if in_maintenance(getattr(exc, "response", None)):
            raise NextcloudOutage(_("{what}: Nextcloud is in maintenance mode"), what=what) from exc
        if code in _OUTAGE_STATUSES:
            raise NextcloudOutage(_("{what}: Nextcloud answered {code}"), what=what, code=code) from exc
        if _is_transient_status(code):
            raise NextcloudUnavailable(f"{what}: Nextcloud answered {code} {exc.reason}".rstrip()) from exc
        raise PermanentJobError(f"{what}: Nextcloud answered {code} {exc.reason}".rstrip()) from exc
    except OSError as exc:  # niquests' ConnectionError and Timeout are OSErrors too
        if ScratchFull.caused(exc):
            # Our own disk, while writing what Nextcloud sent (a socket never fails with ENOSPC).
            raise ScratchFull(DISK_FULL) from exc
        raise NextcloudOutage(_("{what}: Nextcloud could not be reached"), what=what) from exc
    except niquests.exceptions.RequestException as exc:
        raise NextcloudUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


def candidate_names(stem: str, extension: str, limit: int = 1000) -> Iterator[str]:
    """``clip.mp4``, ``clip (1).mp4``, ``clip (2).mp4`` … — the names we try, in order, never overwriting."""
    yield f"{stem}.{extension}"
    for n in range(1, limit):
        yield f"{stem} ({n}).{extension}"


class NextcloudGateway:
    """Nextcloud as one user sees it: resolve, download, upload without overwriting, notify."""

    def __init__(self, user_id: str, nc: AsyncNextcloudApp | None = None) -> None:
        self.user_id = user_id
        self._nc = nc or AsyncNextcloudApp()
        self._user_set = False

    async def _client(self) -> AsyncNextcloudApp:
        if not self._user_set:
            with mapped_errors("connecting to Nextcloud"):
                await self._nc.set_user(self.user_id)
            self._user_set = True
        return self._nc

    @property
    def base_url(self) -> str:
        return self._nc.app_cfg.endpoint

    async def resolve(self, file_id: int) -> RemoteFile:
        """The file with this id as it is *now* (so a moved file is still found). SourceGone if deleted."""
        nc = await self._client()
        gone = SourceGone("The source file no longer exists")
        with mapped_errors("looking up the source file", missing=lambda: gone):
            node = await nc.files.by_id(file_id)
        if node is None or node.is_dir:
            raise gone
        return _remote_file(node)

    async def resolve_path(self, path: str) -> RemoteFile:
        """The file at ``path`` (relative to the user's root). NotFound-like SourceGone when missing."""
        nc = await self._client()
        gone = SourceGone(f"{path} does not exist in your files")
        with mapped_errors("looking up the file", missing=lambda: gone):
            node = await nc.files.by_path(path)
        if node is None or node.is_dir:
            raise gone
        return _remote_file(node)

    async def find(self, file_id: int) -> RemoteFile | None:
        """The file or folder with this id, or None when the user has none (missing, or someone else's).

        Unlike :meth:`resolve` a folder is returned (``is_dir``), so a caller can say *why* it cannot be used.
        """
        nc = await self._client()
        with mapped_errors("looking up a file", missing=lambda: SourceGone("The file no longer exists")):
            node = await nc.files.by_id(file_id)
        return _remote_file(node) if node is not None else None

    async def download_head(self, remote: RemoteFile, dest: Path, max_bytes: int) -> bool:
        """Write at most the first ``max_bytes`` of the file to ``dest``; True when that was the whole file.

        Enough for ffprobe to read most files' headers without fetching a big video in full.
        """
        nc = await self._client()
        gone = SourceGone("The source file no longer exists")
        with dest.open("wb") as fp:
            head = _Head(fp, max_bytes)
            try:
                with mapped_errors("reading the file", missing=lambda: gone):
                    await nc.files.download2stream(remote.path, head, chunk_size=DOWNLOAD_CHUNK)
            except _Enough:
                return False
        return True

    async def download(self, remote: RemoteFile, dest: Path) -> None:
        """Stream the file to ``dest`` (never whole in memory)."""
        nc = await self._client()
        gone = SourceGone("The source file no longer exists")
        # nc_py_api writes each received chunk synchronously; a local disk write of one chunk is short enough
        # not to stall the event loop noticeably, and it keeps us on the public API.
        with mapped_errors("downloading the source", missing=lambda: gone), dest.open("wb") as fp:
            await nc.files.download2stream(remote.path, fp, chunk_size=DOWNLOAD_CHUNK)

    async def can_add_files(self, folder: str) -> bool:
        """Whether this user may create files in ``folder`` (a user path), from its WebDAV ``oc:permissions``.

        Nextcloud reports ``CK`` (create file, create folder) on a folder the user may add to, and e.g. ``SGD``
        on a folder shared with them read-only; uploading there would only fail at the very end (403 at the
        chunked upload's MOVE), after the whole encode.
        """
        nc = await self._client()
        with mapped_errors("checking the destination folder", missing=lambda: SourceGone(FOLDER_GONE)):
            node = await nc.files.by_path(folder)
        return _creatable(node)

    async def own_folder(self, path: str) -> bool:
        """Make sure the folder ``path`` exists (creating it and its parents if needed) and takes new files.

        False when it cannot be created or does not take files (a read-only share of that name, a file).
        """
        nc = await self._client()
        with mapped_errors("preparing the folder for converted videos"):
            try:
                return _creatable(await nc.files.by_path(path))
            except NextcloudException as exc:
                if exc.status_code != 404:
                    raise
            try:
                await nc.files.makedirs(path, exist_ok=True)
            except NextcloudException as exc:
                if exc.status_code in (403, 405, 409):  # refused, or a file or a read-only share is in the way
                    log.info("Could not create %s (%s)", path, exc.status_code)
                    return False
                raise
            return _creatable(await nc.files.by_path(path))

    async def list_names(self, folder: str) -> set[str]:
        """Names present in a folder (to pick a free output name before uploading)."""
        nc = await self._client()
        with mapped_errors("listing the destination folder"):
            return {node.name.rstrip("/") for node in await nc.files.listdir(folder)}

    async def upload_new(
        self, local: Path, folder: str, stem: str, extension: str, *, mtime: float | None = None
    ) -> RemoteFile:
        """Upload ``local`` into ``folder`` under the first free name of :func:`candidate_names`.

        Never overwrites, not even when a file of the chosen name appears while we upload: the chunked upload's
        final ``MOVE`` carries ``Overwrite: F``, which Nextcloud answers with 412 if the target exists; we then
        take the next name. The assembled file only appears in the folder at that MOVE, so the user never sees a
        partial file. ``mtime`` (seconds) becomes the file's modification time, so a converted file sorts
        next to its source.
        """
        taken = await self.list_names(folder)
        for name in candidate_names(stem, extension):
            if name in taken:
                continue
            target = posixpath.join(folder, name)
            node = await self._chunked_upload(local, target, mtime)
            if node is not None:
                return node
            taken.add(name)  # appeared while we were uploading
            log.info("%s appeared during the upload; trying the next free name", target)
        raise PermanentJobError("No free file name for the result was found")

    async def _chunked_upload(self, local: Path, target: str, mtime: float | None = None) -> RemoteFile | None:
        """Chunked upload v2 to ``target`` (user path); None when ``target`` exists (412)."""
        nc = await self._client()
        # nc_py_api's own upload_stream sends its final MOVE without `Overwrite: F` (it overwrites), so the
        # protocol is spoken here with nc_py_api's authenticated DAV session.
        dav = nc._session.adapter_dav
        user_root = f"/files/{self.user_id}"
        destination = nc._session.cfg.dav_endpoint + quote(f"{user_root}{target}")
        upload_dir = quote(f"/uploads/{self.user_id}/vcfm-{secrets.token_hex(24)}")
        headers = {"Destination": destination}
        what = "uploading the result"
        try:
            with mapped_errors(what):
                _check(await dav.request("MKCOL", upload_dir, headers=headers), what)
                total = (await anyio.Path(local).stat()).st_size
                for number, start in enumerate(range(0, max(total, 1), CHUNK_SIZE)):
                    size = min(CHUNK_SIZE, total - start)
                    body = _file_slice(local, start, size)
                    chunk_headers = {**headers, "Content-Length": str(size)}
                    _check(await dav.put(f"{upload_dir}/{number}", data=body, headers=chunk_headers), what)
                final = {**headers, "Overwrite": "F", "OC-Total-Length": str(total)}
                if mtime is not None:
                    final["X-OC-Mtime"] = str(int(mtime))
                response = await dav.request("MOVE", f"{upload_dir}/.file", headers=final)
                if response.status_code == 412:
                    return None
                _check(response, what, missing=lambda: SourceGone("The source folder no longer exists"))
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                # Nextcloud removes the upload folder after a successful MOVE (this then answers 404); after a
                # failure it holds our chunks, which must not linger in the user's upload area.
                with anyio.fail_after(30):
                    await dav.delete(upload_dir)
        with mapped_errors("reading the uploaded result"):
            node = await nc.files.by_path(target)
        if node is None:
            raise PermanentJobError("The uploaded result could not be found")
        return _remote_file(node)

    async def delete_quietly(self, remote: RemoteFile) -> None:
        """Best-effort removal of a file we created (to honour a late cancel)."""
        nc = await self._client()
        try:
            await nc.files.delete(remote.path)
        except Exception:
            log.warning("Could not remove %s", remote.path, exc_info=True)

    async def notify(self, subject: str, message: str, link: str = "") -> None:
        """A Nextcloud notification for this user."""
        nc = await self._client()
        with mapped_errors("sending the notification"):
            await nc.notifications.create(subject, message, link=link)

    async def is_admin(self) -> bool:
        """Whether Nextcloud puts this user in its ``admin`` group (OCS ``cloud/user``, asked as the user)."""
        nc = await self._client()
        with mapped_errors("checking your Nextcloud groups"):
            data = await nc.ocs("GET", "/ocs/v1.php/cloud/user")
        groups = data.get("groups") if isinstance(data, dict) else None
        return isinstance(groups, list) and "admin" in groups

    def folder_link(self, path: str) -> str:
        """The Files app opened at the folder holding ``path`` (a user path)."""
        folder = posixpath.dirname(path) or "/"
        return f"{self.base_url.rstrip('/')}/index.php/apps/files/?dir={quote(folder)}"

    def file_link(self, remote: RemoteFile) -> str:
        """The link Nextcloud uses for "open this file" (``/index.php/f/<id>``)."""
        return f"{self.base_url.rstrip('/')}/index.php/f/{remote.file_id}"


async def check_app_credentials(nc: AsyncNextcloudApp | None = None) -> bool:
    """Whether Nextcloud knows this ExApp's id and secret; returns whether the ExApp is enabled there.

    Asks AppAPI's ``ex-app/state`` with the app's credentials. Not ``cloud/capabilities``: Nextcloud answers
    that one anonymously when the secret is wrong, whereas AppAPI's own endpoints (like WebDAV) answer 401.
    ``ex-app/state`` also answers while the ExApp is disabled, so a disabled app is not mistaken for a bad
    secret. ``PermissionDenied`` for a rejected secret, ``NextcloudUnavailable`` when Nextcloud cannot be
    reached or answers with a server error.
    """
    nc = nc or AsyncNextcloudApp()
    try:
        with mapped_errors("checking the app's credentials"):
            state = await nc._session.ocs("GET", "/ocs/v1.php/apps/app_api/ex-app/state")
    except PermissionDenied as exc:
        raise PermissionDenied(
            "Nextcloud refused the app's credentials (401): APP_SECRET is wrong, or {app} is not registered "
            "in this Nextcloud",
            app=nc.app_cfg.app_name,
        ) from exc
    return bool(state)


async def probe_nextcloud(base_url: str, *, wait: float = 10.0) -> None:
    """Ask Nextcloud whether it is up: ``GET /status.php``, the cheapest request it answers (no login, no app
    loaded). Returns when it is installed and not in maintenance mode; raises :class:`NextcloudOutage` saying
    what is wrong otherwise."""
    url = base_url.rstrip("/") + "/status.php"
    try:
        async with niquests.AsyncSession() as session:
            response = await session.get(url, timeout=wait)
    except Exception as exc:
        raise NextcloudOutage(_("Nextcloud could not be reached ({reason})"), reason=type(exc).__name__) from exc
    if in_maintenance(response) or response.status_code == 503:
        raise NextcloudOutage(_("Nextcloud is in maintenance mode"))
    if response.status_code != 200:
        raise NextcloudOutage(_("Nextcloud answered {code}"), code=response.status_code)
    try:
        status = response.json()
    except Exception as exc:
        raise NextcloudOutage(_("Nextcloud answered {code}"), code=response.status_code) from exc
    if isinstance(status, dict) and status.get("maintenance"):
        raise NextcloudOutage(_("Nextcloud is in maintenance mode"))


def _check(response: niquests.AsyncResponse | niquests.Response, what: str, *, missing=None) -> None:
    if response.status_code < 400:
        return
    with mapped_errors(what, missing=missing):
        raise NextcloudException(response.status_code, reason=response.reason or "", info=what, response=response)


async def _file_slice(path: Path, start: int, size: int) -> AsyncIterator[bytes]:
    """``size`` bytes of ``path`` from ``start``, in BLOCK-sized pieces."""
    async with await anyio.open_file(path, "rb") as fp:
        await fp.seek(start)
        left = size
        while left > 0:
            block = await fp.read(min(BLOCK, left))
            if not block:
                raise PermanentJobError("The converted file changed while it was being uploaded")
            left -= len(block)
            yield block

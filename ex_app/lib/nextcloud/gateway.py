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
import mimetypes
import posixpath
import re
import secrets
import time
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
from ..i18n import Message, _

log = logging.getLogger(__name__)

# Every request boots Nextcloud's PHP (≈ 36 ms of its CPU on a small server), so a result goes in as few
# requests as possible: below CHUNK_SIZE as one PUT, above it in CHUNK_SIZE chunks (chunked upload v2 wants
# at least 5 MiB per chunk but the last; Nextcloud 30+ advertises its own ceiling, 100 MiB by default, in
# `files.chunked_upload.max_size`, and a smaller one there wins). 64 MiB stays under the 100 MB request limit
# of common reverse proxies. Each body is streamed from disk in BLOCK-sized pieces whatever its size:
# handing niquests a bytes object per chunk made the process grow with the chunk (measured: +160 MB over a
# 1 GB upload at 5 MiB chunks), streaming keeps it flat.
CHUNK_SIZE = 64 * 1024 * 1024
MIN_CHUNK = 5 * 1024 * 1024
BLOCK = 256 * 1024
DOWNLOAD_CHUNK = 1024 * 1024
# Capabilities are the same for every user of a server as far as we use them (which DAV properties to ask
# for, whether notifications exist); nc_py_api fetches them once per client, i.e. once per job. Shared for a
# while instead, they cost one request per CAPABILITIES_TTL, not one per job.
CAPABILITIES_TTL = 600.0
_capabilities: tuple[float, dict] | None = None


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


def _file_id(header: str | None) -> int | None:
    """The file id in an ``OC-FileId`` header (``%08d`` + the instance id, which starts with ``oc``)."""
    match = re.match(r"^(\d+)oc", header or "")
    return int(match.group(1)) if match else None


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
    """Turn nc_py_api / niquests failures inside the block into our exception tree.

    ``what`` says what was being done, as a ``_()``-marked phrase: it is shown (translated) in front of the error.
    """
    what = Message(what)
    try:
        yield
    except JobError:
        raise
    except NextcloudException as exc:
        code = exc.status_code
        if code == 404:
            raise (missing() if missing else SourceGone(_("{what}: not found in Nextcloud"), what=what)) from exc
        if code in (401, 403):
            raise PermissionDenied(_("{what}: Nextcloud refused access ({code})"), what=what, code=code) from exc
        if code == 507:
            raise QuotaExceeded(QUOTA_FULL) from exc
        if in_maintenance(getattr(exc, "response", None)):
            raise NextcloudOutage(_("{what}: Nextcloud is in maintenance mode"), what=what) from exc
        if code in _OUTAGE_STATUSES:
            raise NextcloudOutage(_("{what}: Nextcloud answered {code}"), what=what, code=code) from exc
        if _is_transient_status(code):
            raise NextcloudUnavailable(_("{what}: Nextcloud answered {code}"), what=what, code=code) from exc
        raise PermanentJobError(_("{what}: Nextcloud answered {code}"), what=what, code=code) from exc
    except OSError as exc:  # niquests' ConnectionError and Timeout are OSErrors too
        if ScratchFull.caused(exc):
            # Our own disk, while writing what Nextcloud sent (a socket never fails with ENOSPC).
            raise ScratchFull(DISK_FULL) from exc
        raise NextcloudOutage(_("{what}: Nextcloud could not be reached"), what=what) from exc
    except niquests.exceptions.RequestException as exc:
        raise NextcloudUnavailable(_("{what}: {problem}"), what=what, problem=f"{type(exc).__name__}: {exc}") from exc


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
        global _capabilities
        if not self._user_set:
            session = self._nc._session
            if session._user != self.user_id:
                # What nc.set_user() does, minus its capabilities request when ours are recent enough.
                session.set_user(self.user_id)
                if _capabilities is not None and time.monotonic() - _capabilities[0] < CAPABILITIES_TTL:
                    session._capabilities = _capabilities[1]
                else:
                    with mapped_errors(_("connecting to Nextcloud")):
                        await session.update_server_info()
                    _capabilities = (time.monotonic(), session._capabilities)
            self._user_set = True
        return self._nc

    @property
    def base_url(self) -> str:
        return self._nc.app_cfg.endpoint

    async def resolve(self, file_id: int) -> RemoteFile:
        """The file with this id as it is *now* (so a moved file is still found). SourceGone if deleted."""
        nc = await self._client()
        gone = SourceGone(_("The source file no longer exists"))
        with mapped_errors(_("looking up the source file"), missing=lambda: gone):
            node = await nc.files.by_id(file_id)
        if node is None or node.is_dir:
            raise gone
        return _remote_file(node)

    async def resolve_path(self, path: str) -> RemoteFile:
        """The file at ``path`` (relative to the user's root). NotFound-like SourceGone when missing."""
        nc = await self._client()
        gone = SourceGone(f"{path} does not exist in your files")
        with mapped_errors(_("looking up the file"), missing=lambda: gone):
            node = await nc.files.by_path(path)
        if node is None or node.is_dir:
            raise gone
        return _remote_file(node)

    async def find(self, file_id: int) -> RemoteFile | None:
        """The file or folder with this id, or None when the user has none (missing, or someone else's).

        Unlike :meth:`resolve` a folder is returned (``is_dir``), so a caller can say *why* it cannot be used.
        """
        nc = await self._client()
        with mapped_errors(_("looking up a file"), missing=lambda: SourceGone(_("The file no longer exists"))):
            node = await nc.files.by_id(file_id)
        return _remote_file(node) if node is not None else None

    async def download_head(self, remote: RemoteFile, dest: Path, max_bytes: int) -> bool:
        """Write at most the first ``max_bytes`` of the file to ``dest``; True when that was the whole file.

        Enough for ffprobe to read most files' headers without fetching a big video in full.
        """
        nc = await self._client()
        gone = SourceGone(_("The source file no longer exists"))
        with dest.open("wb") as fp:
            head = _Head(fp, max_bytes)
            try:
                with mapped_errors(_("reading the file"), missing=lambda: gone):
                    await nc.files.download2stream(remote.path, head, chunk_size=DOWNLOAD_CHUNK)
            except _Enough:
                return False
        return True

    async def download(self, remote: RemoteFile, dest: Path) -> None:
        """Stream the file to ``dest`` (never whole in memory)."""
        nc = await self._client()
        gone = SourceGone(_("The source file no longer exists"))
        # nc_py_api writes each received chunk synchronously; a local disk write of one chunk is short enough
        # not to stall the event loop noticeably, and it keeps us on the public API.
        with mapped_errors(_("downloading the source"), missing=lambda: gone), dest.open("wb") as fp:
            await nc.files.download2stream(remote.path, fp, chunk_size=DOWNLOAD_CHUNK)

    async def can_add_files(self, folder: str) -> bool:
        """Whether this user may create files in ``folder`` (a user path), from its WebDAV ``oc:permissions``.

        Nextcloud reports ``CK`` (create file, create folder) on a folder the user may add to, and e.g. ``SGD``
        on a folder shared with them read-only; uploading there would only fail at the very end (403 at the
        chunked upload's MOVE), after the whole encode.
        """
        nc = await self._client()
        with mapped_errors(_("checking the destination folder"), missing=lambda: SourceGone(FOLDER_GONE)):
            node = await nc.files.by_path(folder)
        return _creatable(node)

    async def folder_for_results(self, folder: str) -> tuple[bool, set[str]]:
        """Whether this user may add files to ``folder`` (see :meth:`can_add_files`) and the names already in it,
        from one Depth 1 PROPFIND instead of two requests: the names let :meth:`upload_new` skip the taken ones
        without a request each."""
        nc = await self._client()
        with mapped_errors(_("checking the destination folder"), missing=lambda: SourceGone(FOLDER_GONE)):
            nodes = await nc.files.listdir(folder, exclude_self=False)
        if not nodes:
            raise SourceGone(FOLDER_GONE)
        return _creatable(nodes[0]), {node.name.rstrip("/") for node in nodes[1:]}

    async def own_folder(self, path: str) -> bool:
        """Make sure the folder ``path`` exists (creating it and its parents if needed) and takes new files.

        False when it cannot be created or does not take files (a read-only share of that name, a file).
        """
        nc = await self._client()
        with mapped_errors(_("preparing the folder for converted videos")):
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
        with mapped_errors(_("listing the destination folder")):
            return {node.name.rstrip("/") for node in await nc.files.listdir(folder)}

    async def upload_new(
        self,
        local: Path,
        folder: str,
        stem: str,
        extension: str,
        *,
        mtime: float | None = None,
        taken: set[str] | None = None,
    ) -> RemoteFile:
        """Upload ``local`` into ``folder`` under the first free name of :func:`candidate_names`.

        ``taken``: the names in ``folder`` when the caller last looked (:meth:`folder_for_results`); listed
        here when not given. Never overwrites, not even when a file of the chosen name appeared since: a result
        smaller than a chunk goes as one ``PUT`` with ``If-None-Match: *``, a bigger one as a chunked upload
        whose final ``MOVE`` carries ``Overwrite: F``; Nextcloud answers either with 412 when the name exists,
        and we take the next one. Nextcloud writes a PUT to a part file and the chunked upload assembles at the
        MOVE, so the user never sees a partial file. ``mtime`` (seconds) becomes the file's modification time,
        so a converted file sorts next to its source.
        """
        taken = set(await self.list_names(folder) if taken is None else taken)
        size = (await anyio.Path(local).stat()).st_size
        chunk = await self._chunk_size()
        for name in candidate_names(stem, extension):
            if name in taken:
                continue
            target = posixpath.join(folder, name)
            if size < chunk:
                node = await self._put_new(local, target, size, mtime)
            else:
                node = await self._chunked_upload(local, target, mtime, chunk)
            if node is not None:
                return node
            taken.add(name)  # appeared while we were uploading
            log.info("%s appeared during the upload; trying the next free name", target)
        raise PermanentJobError(_("No free file name for the result was found"))

    async def _chunk_size(self) -> int:
        nc = await self._client()
        caps = nc._session._capabilities.get("capabilities", {}) if nc._session._capabilities else {}
        ceiling = (caps.get("files") or {}).get("chunked_upload", {}).get("max_size")
        if isinstance(ceiling, int) and ceiling >= MIN_CHUNK:
            return min(CHUNK_SIZE, ceiling)
        return CHUNK_SIZE

    @staticmethod
    def _uploaded(
        response: niquests.AsyncResponse | niquests.Response, target: str, size: int, mtime: float | None
    ) -> RemoteFile:
        """The new file as the upload's answer describes it (``OC-FileId``, ``ETag``): no PROPFIND needed."""
        file_id = _file_id(response.headers.get("OC-FileId"))
        if file_id is None:
            raise PermanentJobError(_("Nextcloud did not say which file it created"))
        accepted = mtime is not None and response.headers.get("X-OC-MTime") == "accepted"
        return RemoteFile(
            file_id=file_id,
            path=target,
            etag=(response.headers.get("OC-ETag") or response.headers.get("ETag") or "").strip('"'),
            size=size,
            mime=mimetypes.guess_type(target)[0] or "application/octet-stream",
            mtime=float(int(mtime)) if accepted and mtime is not None else time.time(),
        )

    async def _put_new(self, local: Path, target: str, size: int, mtime: float | None) -> RemoteFile | None:
        """One ``PUT`` that never replaces a file (``If-None-Match: *``); None when ``target`` exists (412)."""
        nc = await self._client()
        dav = nc._session.adapter_dav
        headers = {"If-None-Match": "*", "Content-Length": str(size)}
        if mtime is not None:
            headers["X-OC-Mtime"] = str(int(mtime))
        what = _("uploading the result")
        with mapped_errors(what):
            url = quote(f"/files/{self.user_id}{target}")
            response = await dav.put(url, data=_FileSlice(local, 0, size), headers=headers)
            if response.status_code == 412:
                return None
            _check(response, what, missing=lambda: SourceGone(FOLDER_GONE))
        return self._uploaded(response, target, size, mtime)

    async def _chunked_upload(
        self, local: Path, target: str, mtime: float | None = None, chunk: int = CHUNK_SIZE
    ) -> RemoteFile | None:
        """Chunked upload v2 to ``target`` (user path); None when ``target`` exists (412)."""
        nc = await self._client()
        # nc_py_api's own upload_stream sends its final MOVE without `Overwrite: F` (it overwrites), so the
        # protocol is spoken here with nc_py_api's authenticated DAV session.
        dav = nc._session.adapter_dav
        user_root = f"/files/{self.user_id}"
        destination = nc._session.cfg.dav_endpoint + quote(f"{user_root}{target}")
        upload_dir = quote(f"/uploads/{self.user_id}/vcfm-{secrets.token_hex(24)}")
        headers = {"Destination": destination}
        what = _("uploading the result")
        moved = False
        try:
            with mapped_errors(what):
                _check(await dav.request("MKCOL", upload_dir, headers=headers), what)
                total = (await anyio.Path(local).stat()).st_size
                for number, start in enumerate(range(0, max(total, 1), chunk)):
                    size = min(chunk, total - start)
                    body = _FileSlice(local, start, size)
                    chunk_headers = {**headers, "Content-Length": str(size)}
                    _check(await dav.put(f"{upload_dir}/{number}", data=body, headers=chunk_headers), what)
                final = {**headers, "Overwrite": "F", "OC-Total-Length": str(total)}
                if mtime is not None:
                    final["X-OC-Mtime"] = str(int(mtime))
                response = await dav.request("MOVE", f"{upload_dir}/.file", headers=final)
                if response.status_code == 412:
                    return None
                _check(response, what, missing=lambda: SourceGone(_("The source folder no longer exists")))
                moved = True
        finally:
            if not moved:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    # After a failure the upload folder holds our chunks, which must not linger in the user's
                    # upload area. (After a successful MOVE Nextcloud removes it itself: a DELETE would only
                    # cost a request answered 404.)
                    with anyio.fail_after(30):
                        await dav.delete(upload_dir)
        return self._uploaded(response, target, total, mtime)

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
        with mapped_errors(_("sending the notification")):
            await nc.notifications.create(subject, message, link=link)

    async def is_admin(self) -> bool:
        """Whether Nextcloud puts this user in its ``admin`` group (OCS ``cloud/user``, asked as the user)."""
        nc = await self._client()
        with mapped_errors(_("checking your Nextcloud groups")):
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
        with mapped_errors(_("checking the app's credentials")):
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


@dataclass(frozen=True)
class _FileSlice:
    """``size`` bytes of ``path`` from ``start`` as a request body, streamed in BLOCK-sized pieces.

    It has a length, so niquests sends ``Content-Length`` alone. Given a bare async iterator it adds
    ``Transfer-Encoding: chunked`` beside the ``Content-Length`` we set, and a request with both is malformed
    (RFC 9112 §6.1): nginx in front of Nextcloud answers 400, and so does uvicorn with httptools.
    """

    path: Path
    start: int
    size: int

    def __len__(self) -> int:
        return self.size

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _file_slice(self.path, self.start, self.size)


async def _file_slice(path: Path, start: int, size: int) -> AsyncIterator[bytes]:
    """``size`` bytes of ``path`` from ``start``, in BLOCK-sized pieces."""
    async with await anyio.open_file(path, "rb") as fp:
        await fp.seek(start)
        left = size
        while left > 0:
            block = await fp.read(min(BLOCK, left))
            if not block:
                raise PermanentJobError(_("The converted file changed while it was being uploaded"))
            left -= len(block)
            yield block

"""The stand-in's whole memory: users, the file tree, AppAPI's tables, notifications, faults and logs.

Everything lives in one :class:`StandinState` so that a test can build, inspect and reset it in one place.
File contents live on disk (``data_dir/blobs/<fileid>``) so that gigabyte files never sit in RAM; the tree
itself (names, ids, etags, sizes) is in memory. Nothing here speaks HTTP — the routers in ``_dav``, ``_ocs``,
``_appapi`` and ``_control`` do.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import itertools
import os
import posixpath
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

INSTANCE_ID = "ocvt39tsgrv7"
DEFAULT_USERS = {"admin": "admin", "alice": "alice", "bob": "bob"}
ADMINS = {"admin"}

# Permission strings as Nextcloud 29 reports them (contract README, PROPFIND section).
PERM_OWN_FILE = "RGDNVW"
PERM_OWN_FOLDER = "RGDNVCK"
PERM_RO_SHARE_ROOT = "SGD"  # recorded: a folder another user shared read-only
PERM_RO_SHARE_CHILD = "SG"  # not recorded: what a read-only share grants below its root

# A subset of Nextcloud's resources/config/mimetypemapping.dist.json; the rest is application/octet-stream.
MIME_BY_EXT = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "wmv": "video/x-ms-wmv",
    "flv": "video/x-flv",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "ogv": "video/ogg",
    "3gp": "video/3gpp",
    "mts": "video/MP2T",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "aac": "audio/aac",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "svg": "image/svg+xml",
    "txt": "text/plain",
    "md": "text/markdown",
    "json": "application/json",
    "xml": "application/xml",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "bin": "application/x-bin",
}


def mime_for(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return MIME_BY_EXT.get(ext, "application/octet-stream")


def instance_file_id(file_id: int) -> str:
    """``OC-FileId`` / ``<oc:id>`` form: the id zero-padded to 8 digits followed by the instance id."""
    return f"{file_id:08d}{INSTANCE_ID}"


def norm(path: str) -> str:
    """A user-relative path without leading/trailing slashes; '' is the user's root."""
    path = posixpath.normpath("/" + path.strip("/")).lstrip("/")
    return "" if path == "." else path


def parent_of(path: str) -> str:
    return posixpath.dirname(path)


def _file_etag() -> str:
    return uuid.uuid4().hex  # 32 hex, like a file etag


def _folder_etag() -> str:
    return uuid.uuid4().hex[:13]  # 13 hex, like uniqid()


@dataclasses.dataclass
class Node:
    file_id: int
    user: str
    path: str
    is_dir: bool
    mtime: int
    etag: str
    size: int = 0  # files only; folders compute theirs
    readonly_share: bool = False  # the root of a folder shared read-only with this user
    favorite: bool = False

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


@dataclasses.dataclass
class Fault:
    """One injected misbehaviour for matching requests: ``status`` answers ``status`` at once, ``hang`` sleeps
    ``seconds`` then serves normally (a 503 if maintenance mode began meanwhile), ``drop`` sends the response
    head and closes the connection mid-body."""

    kind: str
    count: int = 1
    status: int = 503
    seconds: float = 0.0
    method: str | None = None
    path_prefix: str = "/remote.php/dav"

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return path.startswith(self.path_prefix)


@dataclasses.dataclass
class ExApp:
    appid: str
    version: str
    name: str
    daemon_config_name: str
    host: str
    port: int
    secret: str
    routes: list[dict[str, Any]]
    enabled: bool = False
    #: ``<apps dir>/<appid>/l10n/``: the ``<lang>.js``/``<lang>.json`` files AppAPI copied from the json-info's
    #: ``translations_folder`` at registration (file name → content).
    l10n: dict[str, bytes] = dataclasses.field(default_factory=dict)
    status: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"deploy": 0, "init": 0, "action": "", "type": "install", "error": ""}
    )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class StandinState:
    """Users, files and AppAPI tables of one stand-in instance."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        users: dict[str, str] | None = None,
        daemon_host: str = "127.0.0.1",
        heartbeat_timeout: float = 60.0,
        init_timeout: float = 120.0,
        nc_version: int = 29,
    ):
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="nc-standin-"))
        self.initial_users = dict(users or DEFAULT_USERS)
        self.daemon_host = daemon_host
        self.heartbeat_timeout = heartbeat_timeout
        self.init_timeout = init_timeout
        if nc_version not in (29, 32):
            raise ValueError(f"nc_version must be 29 or 32, not {nc_version}")
        # Which recording to follow where Nextcloud 29.0.6 and 32.0.2 differ (contract README, "Nextcloud 32"):
        # only session details so far (login cookies, X-User-Id); everything else answers like 29.
        self.nc_version = nc_version
        self.lock = threading.RLock()
        self.reset()

    # ---- lifecycle of the state itself -------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything and start again with the initial users and empty home folders."""
        with self.lock:
            for sub in ("blobs", "uploads", "tmp"):
                shutil.rmtree(self.data_dir / sub, ignore_errors=True)
                (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
            self.users: dict[str, str] = {}
            self.admins: set[str] = set()
            self.display_names: dict[str, str] = {}
            self.nodes: dict[tuple[str, str], Node] = {}
            self.by_id: dict[int, Node] = {}
            self._ids = itertools.count(100)
            self.uploads: dict[tuple[str, str], dict[str, Any]] = {}
            self.exapps: dict[str, ExApp] = {}
            self.daemons = {
                "manual_install": {
                    "name": "manual_install",
                    "accepts_deploy_id": "manual-install",
                    "protocol": "http",
                    "host": self.daemon_host,
                }
            }
            self.default_daemon = "manual_install"
            self.appconfig: dict[tuple[str, str], dict[str, Any]] = {}
            self.preferences: dict[tuple[str, str, str], dict[str, Any]] = {}
            self.file_actions: dict[tuple[str, str], dict[str, Any]] = {}
            self.top_menus: dict[tuple[str, str], dict[str, Any]] = {}
            # AppAPI's ui_scripts / ui_styles / ui_initial_states: keyed by (appid, type, name, path or key).
            self.ui_scripts: dict[tuple[str, str, str, str], dict[str, Any]] = {}
            self.ui_styles: dict[tuple[str, str, str, str], dict[str, Any]] = {}
            self.ui_initial_states: dict[tuple[str, str, str, str], dict[str, Any]] = {}
            # Nextcloud's core/lang preference per user (absent = en, the default language of the stand-in).
            self.languages: dict[str, str] = {}
            self.settings_forms: dict[tuple[str, str], dict[str, Any]] = {}
            self.notifications: dict[int, dict[str, Any]] = {}
            self.exapp_log: list[dict[str, Any]] = []  # messages ExApps sent to api/v1/log
            self._row_ids = collections.defaultdict(lambda: itertools.count(1))
            self._notification_ids = itertools.count(1)
            self.bruteforce_delay = 0
            self.sessions: dict[str, Any] = {}  # session id → _session.Session
            self.faults: list[Fault] = []
            self.maintenance = False  # occ maintenance:mode --on: everything but status.php answers 503
            self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=20000)
            self.exapp_calls: list[dict[str, Any]] = []  # what the stand-in (as AppAPI) sent to ExApps
            for user, password in self.initial_users.items():
                self.add_user(user, password, admin=user in ADMINS)

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def next_row_id(self, table: str) -> int:
        return next(self._row_ids[table])

    # ---- users ---------------------------------------------------------------------------------------------------
    def add_user(self, user: str, password: str, admin: bool = False, display_name: str | None = None) -> None:
        with self.lock:
            self.users[user] = password
            self.display_names[user] = display_name or user
            if admin:
                self.admins.add(user)
            if (user, "") not in self.nodes:
                self._add_node(user, "", is_dir=True)

    def check_password(self, user: str, password: str) -> bool:
        expected = self.users.get(user)
        return expected is not None and secrets.compare_digest(expected, password)

    # ---- the file tree ---------------------------------------------------------------------------------------------
    def _add_node(self, user: str, path: str, is_dir: bool, size: int = 0) -> Node:
        node = Node(
            next(self._ids), user, path, is_dir, int(time.time()), _folder_etag() if is_dir else _file_etag(), size
        )
        self.nodes[(user, path)] = node
        self.by_id[node.file_id] = node
        return node

    def get(self, user: str, path: str) -> Node | None:
        return self.nodes.get((user, norm(path)))

    def blob(self, node: Node) -> Path:
        return self.data_dir / "blobs" / str(node.file_id)

    def new_temp_path(self) -> Path:
        return self.data_dir / "tmp" / uuid.uuid4().hex

    def children(self, node: Node) -> list[Node]:
        prefix = node.path + "/" if node.path else ""
        kids = [
            n
            for (u, p), n in self.nodes.items()
            if u == node.user and p != node.path and p.startswith(prefix) and "/" not in p[len(prefix) :]
        ]
        return sorted(kids, key=lambda n: n.name)

    def descendants(self, node: Node) -> list[Node]:
        prefix = node.path + "/" if node.path else ""
        return [n for (u, p), n in self.nodes.items() if u == node.user and p != node.path and p.startswith(prefix)]

    def size_of(self, node: Node) -> int:
        if not node.is_dir:
            return node.size
        return sum(n.size for n in self.descendants(node) if not n.is_dir)

    def share_root(self, user: str, path: str) -> Node | None:
        """The read-only share that contains ``path`` (or is it), if any."""
        path = norm(path)
        while True:
            node = self.nodes.get((user, path))
            if node is not None and node.readonly_share:
                return node
            if path == "":
                return None
            path = parent_of(path)

    def permissions(self, node: Node) -> str:
        if node.readonly_share:
            return PERM_RO_SHARE_ROOT
        if self.share_root(node.user, node.path) is not None:
            return PERM_RO_SHARE_CHILD
        return PERM_OWN_FOLDER if node.is_dir else PERM_OWN_FILE

    def writable(self, user: str, folder_path: str) -> bool:
        """May new children be created in (or removed from) this folder?

        Read from the permissions the folder reports (``C``, create), as Nextcloud's own checks follow the
        same permission bits: a client that checks ``oc:permissions`` first sees the refusal coming.
        """
        node = self.nodes.get((user, norm(folder_path)))
        return node is not None and node.is_dir and "C" in self.permissions(node)

    def touch_parents(self, user: str, path: str) -> None:
        """New etag and mtime for every folder above ``path``, as Nextcloud's propagator does."""
        now = int(time.time())
        while path:
            path = parent_of(path)
            node = self.nodes.get((user, path))
            if node is not None:
                node.etag = _folder_etag()
                node.mtime = now

    def mkdir(self, user: str, path: str) -> Node:
        with self.lock:
            node = self._add_node(user, norm(path), is_dir=True)
            self.touch_parents(user, node.path)
            return node

    def install_file(self, user: str, path: str, temp: Path, mtime: int | None = None) -> tuple[Node, bool]:
        """Make ``temp`` the content of ``path``; an existing file keeps its id. Returns (node, created)."""
        with self.lock:
            path = norm(path)
            node = self.nodes.get((user, path))
            created = node is None
            if node is None:
                node = self._add_node(user, path, is_dir=False)
            os.replace(temp, self.blob(node))
            node.size = self.blob(node).stat().st_size
            node.etag = _file_etag()
            node.mtime = int(mtime if mtime is not None else time.time())
            self.touch_parents(user, path)
            return node, created

    def delete(self, node: Node) -> None:
        with self.lock:
            for victim in [*self.descendants(node), node]:
                self.nodes.pop((victim.user, victim.path), None)
                self.by_id.pop(victim.file_id, None)
                if not victim.is_dir:
                    with contextlib.suppress(FileNotFoundError):
                        self.blob(victim).unlink()
            self.touch_parents(node.user, node.path)

    def move(self, node: Node, dest_path: str) -> Node:
        """Rename ``node`` (and everything under it) to ``dest_path``; ids survive, as in Nextcloud."""
        with self.lock:
            dest_path = norm(dest_path)
            old = node.path
            self.touch_parents(node.user, old)
            moving = [node, *self.descendants(node)]
            for n in moving:
                self.nodes.pop((n.user, n.path), None)
            for n in moving:
                n.path = dest_path + n.path[len(old) :]
                self.nodes[(n.user, n.path)] = n
            self.touch_parents(node.user, dest_path)
            return node

    def copy(self, node: Node, dest_path: str) -> Node:
        """Copy a file or folder tree; copies get new ids."""
        with self.lock:
            dest_path = norm(dest_path)
            top: Node | None = None
            for n in sorted([node, *self.descendants(node)], key=lambda x: x.path.count("/")):
                target = dest_path + n.path[len(node.path) :]
                new = self._add_node(n.user, target, n.is_dir, n.size)
                if not n.is_dir:
                    shutil.copyfile(self.blob(n), self.blob(new))
                top = top or new
            assert top is not None
            self.touch_parents(node.user, dest_path)
            return top

    def mark_readonly_share(self, user: str, path: str) -> Node:
        """Create (if needed) a folder and mark it as shared read-only with ``user`` (permissions ``SGD``)."""
        with self.lock:
            path = norm(path)
            parts = path.split("/")
            for i in range(1, len(parts) + 1):
                sub = "/".join(parts[:i])
                if (user, sub) not in self.nodes:
                    self._add_node(user, sub, is_dir=True)
            node = self.nodes[(user, path)]
            node.readonly_share = True
            return node

    def put_bytes(self, user: str, path: str, data: bytes) -> Node:
        """Test helper: write a file directly, creating its parent folders."""
        with self.lock:
            parts = norm(path).split("/")
            for i in range(1, len(parts)):
                sub = "/".join(parts[:i])
                if (user, sub) not in self.nodes:
                    self._add_node(user, sub, is_dir=True)
            temp = self.new_temp_path()
            temp.write_bytes(data)
            return self.install_file(user, path, temp)[0]

    # ---- chunked upload v2 ---------------------------------------------------------------------------------------
    def upload_dir(self, user: str, name: str) -> Path:
        safe = hashlib.sha1(f"{user}/{name}".encode()).hexdigest()
        return self.data_dir / "uploads" / safe

    # ---- faults and logs -----------------------------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
            return None

    # ---- AppAPI tables ----------------------------------------------------------------------------------------------
    def enabled_file_actions(self) -> list[dict[str, Any]]:
        """What ``FilesActionsMenuService::getRegisteredFileActions`` returns: actions of enabled ExApps."""
        rows = [
            row for (appid, _), row in self.file_actions.items() if appid in self.exapps and self.exapps[appid].enabled
        ]
        return sorted(rows, key=lambda r: r["id"])

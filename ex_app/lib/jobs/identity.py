"""Which worker process is alive under a name: a lock the operating system or the database frees on death.

A worker has a stable *name* (``VCFM_WORKER_NAME``, the hostname by default) and a fresh *instance* per run;
its ``worker_id`` is ``<name>/<instance>``. When a process is killed (``kill -9``, OOM, a crashed container),
its jobs keep their lease until it runs out — 60 s by default — because nobody can tell a dead worker from a
slow one by its heartbeat alone. A restarted process with the same name can: if it gets the name's lock,
every earlier holder of that name is gone, so the jobs they leased can be taken back at once.

The lock must vanish with its holder, whatever kills it:

* PostgreSQL: a session-level advisory lock, held on one connection the holder keeps open. The server ends
  the session when the client's socket closes — which the kernel does when the process dies — and the lock
  with it. Replicas on several machines share it, as they share the database.
* SQLite: an ``flock`` on a file beside the database. SQLite's workers all run on the machine that holds
  the database file, and the kernel drops the lock when the process dies.

If the PostgreSQL connection breaks while the process lives (a database restart), the lock is gone without
the holder knowing. That only matters if another process with the same name starts meanwhile, which a
correct deployment (one name per replica) never does; it would then take the jobs over, and the first
holder would stop them when its next lease renewal fails — a job is still converted once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
from pathlib import Path
from typing import IO

import anyio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def _advisory_key(name: str) -> int:
    # pg_advisory_lock takes a signed 64-bit key; a hash keeps names of any length apart.
    digest = hashlib.sha256(f"video_converter_fm worker {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class NameLock:
    """Held by at most one live process per ``name`` and database; see the module docstring.

    :meth:`acquire` returns ``False`` at once when another live process holds it. :meth:`release` is
    idempotent. For an in-memory SQLite database (tests) the lock always succeeds: one process only.
    """

    def __init__(self, engine: AsyncEngine, name: str, lock_dir: Path | None = None) -> None:
        self.engine = engine
        self.name = name
        self._dialect = engine.dialect.name
        self._conn: AsyncConnection | None = None
        self._file: IO[bytes] | None = None
        self._lock_dir = lock_dir
        self.held = False

    def _lock_path(self) -> Path | None:
        if self._lock_dir is not None:
            return self._lock_dir / f"worker-{self.name}.lock"
        database = make_url(str(self.engine.url)).database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return Path(f"{database}.workers") / f"{self.name}.lock"

    async def acquire(self) -> bool:
        if self.held:
            return True
        if self._dialect == "postgresql":
            conn = await self.engine.connect()
            try:
                got = await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _advisory_key(self.name)})
                held = bool(got.scalar())
                # Session-level: the lock outlives this transaction; an open transaction must not.
                await conn.commit()
            except BaseException:
                await conn.close()
                raise
            if not held:
                await conn.close()
                return False
            self._conn = conn
        else:
            path = self._lock_path()
            if path is not None:
                self._file = await anyio.to_thread.run_sync(_flock, path)
                if self._file is None:
                    return False
        self.held = True
        return True

    async def release(self) -> None:
        with anyio.CancelScope(shield=True):
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _advisory_key(self.name)})
                    await conn.commit()
                    await conn.close()
                except Exception:
                    # Never hand a connection that may still hold the lock back to the pool.
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
            file, self._file = self._file, None
            if file is not None:
                file.close()  # closing the descriptor drops the flock
            self.held = False


def _flock(path: Path) -> IO[bytes] | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Kept open while the lock is held; Python's descriptors are not inherited, so ffmpeg never holds it.
    file = open(path, "ab")  # noqa: SIM115
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    except BaseException:
        file.close()
        raise
    return file

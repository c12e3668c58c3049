"""A worker-only replica (``video-converter-fm worker``) as a subprocess, speaking for a registered ExApp."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from .harness import ROOT, ExAppProcess

STARTED = "Video conversion worker started"


def worker_command() -> list[str]:
    # `python -m` from the repository root runs this tree's code (the installed `video-converter-fm` script
    # may point at another checkout); it is the same entry point, ex_app.lib.cli:main.
    return [sys.executable, "-m", "ex_app.lib.cli", "worker"]


class WorkerProcess:
    """``video-converter-fm worker`` with ``exapp``'s identity (id, secret, version, Nextcloud URL) and its own
    storage, plus ``extra_env`` (``VCFM_DATABASE_URL``, ``VCFM_WORKER_NAME``, …)."""

    def __init__(self, exapp: ExAppProcess, workdir: Path, **extra_env: str) -> None:
        self.exapp = exapp
        self.storage = workdir / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "worker.log"
        self.extra_env = extra_env
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file = None

    def env(self) -> dict[str, str]:
        env = {**self.exapp.env(), "APP_PERSISTENT_STORAGE": str(self.storage), **self.extra_env}
        for name in ("APP_HOST", "APP_PORT"):  # a replica serves nothing
            env.pop(name, None)
        return env

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        """Start and wait until the worker claims jobs (its start checks passed)."""
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in _reap
        self.proc = subprocess.Popen(
            worker_command(),
            cwd=ROOT,
            env=self.env(),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes ffmpeg down with it, like a container
        )
        deadline = time.monotonic() + timeout
        while STARTED not in self.log()[offset:]:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {self.proc.returncode}; log:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start within {timeout} s; log:\n{self.log()}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (a rolling restart); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"the worker did not stop within {timeout} s of SIGTERM") from None
        code = self.proc.returncode
        self._reap()
        return code

    def kill(self) -> None:
        """SIGKILL to the worker and its ffmpeg: a crashed container, no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reap()

    def ffmpeg_children(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE and "ffmpeg" in c.name()]

    def _reap(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def run_worker_once(env: dict[str, str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the worker command to its exit (a failed start check) and capture its output."""
    return subprocess.run(worker_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)

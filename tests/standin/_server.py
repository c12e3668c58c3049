"""Run the stand-in with uvicorn in a background thread (for tests) or in the foreground (``python -m``)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from ._app import create_app
from ._state import StandinState


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class StandinServer:
    """The stand-in served on a loopback port from a daemon thread.

    >>> server = StandinServer().start()
    >>> server.url            # http://127.0.0.1:<port>
    >>> server.state          # the StandinState, to prepare or inspect directly
    >>> server.stop()
    """

    def __init__(self, state: StandinState | None = None, host: str = "127.0.0.1", port: int | None = None):
        self.state = state or StandinState()
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> StandinServer:
        # httptools, as strict as nginx in front of a real Nextcloud: a request that is not well-formed HTTP (such
        # as an upload with both Content-Length and Transfer-Encoding) is answered 400, not quietly accepted.
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            http="httptools",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="nc-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the Nextcloud stand-in did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

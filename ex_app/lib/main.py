"""Entry point: ``python -m ex_app.lib.main`` (what start.sh and the Dockerfile run)."""

from __future__ import annotations

import os
import socket

import uvicorn
from nc_py_api.ex_app import run_app

from .app import create_app
from .settings import get_settings


def main() -> None:
    settings = get_settings()  # invalid settings stop here, before anything starts
    app = create_app(settings)
    log_level = settings.log_level.lower()
    # httptools parses HTTP in C (h11 is pure Python): 0.2–0.4 ms less CPU per job-list poll. The loop is asyncio's
    # on purpose, never uvloop even where installed: children spawned under uvloop inherit the process's
    # sockets, so an ffmpeg that outlived a killed ExApp held its port and the restart could not bind it.
    if os.environ.get("HP_SHARED_KEY"):
        # Behind HaRP: run_app listens on the shared unix socket (asyncio replaces a stale one itself).
        run_app(app, log_level=log_level, http="httptools", loop="asyncio")
        return
    # The port is bound before the application starts. uvicorn would start the lifespan (database, worker)
    # first and only then find the port taken; binding here means a second instance on a taken port logs
    # "address already in use" and exits non-zero at once, with nothing started that must be wound down.
    config = uvicorn.Config(
        app,
        host=os.environ.get("APP_HOST", "127.0.0.1"),
        port=int(os.environ["APP_PORT"]),
        log_level=log_level,
        http="httptools",
        loop="asyncio",
    )
    sock = config.bind_socket()  # logs the OSError and exits with uvicorn's STARTUP_FAILURE (3)
    # asyncio turns Nagle's algorithm off only for sockets whose protocol says TCP, and bind_socket's say 0: every
    # response written as headers then body then waited for the client's delayed ACK, ~40 ms on a page of jobs.
    # Linux hands the option on to every accepted connection.
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(3)


if __name__ == "__main__":
    main()

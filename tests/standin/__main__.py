"""``python -m tests.standin --host 127.0.0.1 --port 8080 [--data-dir DIR]``: serve the stand-in until Ctrl-C."""

from __future__ import annotations

import argparse

import uvicorn

from ._app import create_app
from ._state import DEFAULT_USERS, StandinState


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.standin", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--data-dir", help="where file contents live (default: a temporary folder)")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="users to create instead of admin/alice/bob (admin is the admin)",
    )
    parser.add_argument("--daemon-host", default="127.0.0.1", help="host of the manual_install daemon")
    parser.add_argument("--heartbeat-timeout", type=float, default=60.0)
    parser.add_argument(
        "--nc-version", type=int, choices=(29, 32), default=29, help="where 29 and 32 differ, answer like this one"
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    users = dict(u.split(":", 1) for u in args.user) if args.user else dict(DEFAULT_USERS)
    state = StandinState(
        args.data_dir,
        users=users,
        daemon_host=args.daemon_host,
        heartbeat_timeout=args.heartbeat_timeout,
        nc_version=args.nc_version,
    )
    try:
        uvicorn.run(create_app(state), host=args.host, port=args.port, log_level=args.log_level)
    finally:
        state.close()


if __name__ == "__main__":
    main()

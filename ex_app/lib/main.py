"""Entry point: ``python -m ex_app.lib.main`` (what start.sh and the Dockerfile run)."""

from __future__ import annotations

from nc_py_api.ex_app import run_app

from .app import create_app
from .settings import get_settings


def main() -> None:
    settings = get_settings()  # invalid settings stop here, before anything starts
    # run_app binds APP_HOST:APP_PORT as AppAPI told us and keeps uvicorn's logging sane.
    run_app(create_app(settings), log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()

"""An ``occ`` look-alike for the stand-in, so that scripts use the same words against both targets.

    python -m tests.standin.occ --url http://127.0.0.1:8080 app_api:app:register video_converter_fm \
        manual_install --json-info '{…}' --wait-finish

Supported: ``app_api:app:register``, ``app_api:app:enable``, ``app_api:app:disable``, ``app_api:app:unregister``,
``app_api:app:list``. Prints what occ prints and exits with occ's code. ``--url`` defaults to ``$NC_STANDIN_URL``
or http://127.0.0.1:8080.
"""

from __future__ import annotations

import os
import sys

import httpx


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    url = os.environ.get("NC_STANDIN_URL", "http://127.0.0.1:8080")
    if len(argv) >= 2 and argv[0] == "--url":
        url, argv = argv[1], argv[2:]
    elif argv and argv[0].startswith("--url="):
        url, argv = argv[0].split("=", 1)[1], argv[1:]
    # occ options that only change occ's own output
    argv = [a for a in argv if a not in ("--no-ansi", "--no-warnings", "-n", "--no-interaction")]
    try:
        response = httpx.post(url.rstrip("/") + "/__standin__/occ", json={"argv": argv}, timeout=None)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        print(f"cannot reach the Nextcloud stand-in at {url}: {exc}", file=sys.stderr)
        return 1
    result = response.json()
    sys.stdout.write(result["output"])
    return int(result["exit_code"])


if __name__ == "__main__":
    sys.exit(main())

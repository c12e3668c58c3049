#!/usr/bin/env python3
"""Print the ``--json-info`` that ``occ app_api:app:register <appid> manual_install`` needs, built from info.xml.

Used by ``make register``, the test harness and the demo, so that routes and version live in one place
(appinfo/info.xml). Standard library only: it runs before the project is installed.

What AppAPI 3.2 does with this JSON (lib/Service/ExAppService.php ``getAppInfo`` and ``registerExApp``):

* ``id``, ``name``, ``version``, ``port``, ``secret``, ``daemon_config_name`` are stored as given; a missing
  ``secret`` or ``port`` is generated, which is useless for manual_install because the running ExApp must
  already know both.
* ``routes`` (and ``translations_folder``) at the top level are moved under ``external-app``.
* Unlike the info.xml path, the JSON path does **not** convert access levels, so ``access_level`` must be
  the number (PUBLIC 0, USER 1, ADMIN 2): a name would land in an integer column.
* ``headers_to_exclude`` is stored only when it is a JSON list; anything else silently becomes ``[]``.
* The ExApp host comes from the daemon config, not from this JSON, so ``host`` is only emitted on request.
* ``environment-variables`` are not used by manual_install (nothing is deployed); they are left out.

Usage::

    python scripts/json_info.py [--info appinfo/info.xml] [--port 23000] [--secret S] [--host H]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INFO = ROOT / "appinfo" / "info.xml"
DEFAULT_PORT = 23000
ACCESS_LEVELS = {"PUBLIC": 0, "USER": 1, "ADMIN": 2}


class InfoXmlError(ValueError):
    """info.xml lacks something AppAPI needs, or holds a value it would misread."""


def _text(element: ET.Element, tag: str, *, required: bool = True) -> str:
    child = element.find(tag)
    value = (child.text or "").strip() if child is not None else ""
    if required and not value:
        raise InfoXmlError(f"info.xml: <{tag}> is missing or empty")
    return value


def _json_list(raw: str, where: str) -> list[Any]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InfoXmlError(f"{where}: not valid JSON: {raw!r}") from exc
    if not isinstance(value, list):
        raise InfoXmlError(f"{where}: must be a JSON list, got {raw!r}")
    return value


def read_routes(root: ET.Element) -> list[dict[str, Any]]:
    """The ``<external-app><routes>`` of info.xml in the typed form AppAPI's JSON path stores verbatim."""
    routes: list[dict[str, Any]] = []
    for index, route in enumerate(root.findall("./external-app/routes/route")):
        url = _text(route, "url")
        where = f"route #{index} ({url})"
        level_name = _text(route, "access_level").upper()
        if level_name not in ACCESS_LEVELS:
            raise InfoXmlError(f"{where}: access_level must be one of {', '.join(ACCESS_LEVELS)}")
        headers = _json_list(_text(route, "headers_to_exclude", required=False), f"{where} headers_to_exclude")
        if not all(isinstance(h, str) for h in headers):
            raise InfoXmlError(f"{where}: headers_to_exclude must list header names")
        entry: dict[str, Any] = {
            "url": url,
            "verb": _text(route, "verb"),
            "access_level": ACCESS_LEVELS[level_name],
            # AppAPI compares against lowercased request header names.
            "headers_to_exclude": [h.lower() for h in headers],
        }
        brute = _json_list(_text(route, "bruteforce_protection", required=False), f"{where} bruteforce_protection")
        if brute:
            entry["bruteforce_protection"] = brute
        routes.append(entry)
    return routes


def build_json_info(
    info_path: Path = DEFAULT_INFO,
    *,
    port: int = DEFAULT_PORT,
    secret: str | None = None,
    host: str | None = None,
    daemon: str = "manual_install",
    translations_folder: str | None = None,
) -> dict[str, Any]:
    """The ``--json-info`` object for info.xml at ``info_path``."""
    root = ET.parse(info_path).getroot()
    info: dict[str, Any] = {
        "id": _text(root, "id"),
        "name": _text(root, "name"),
        "daemon_config_name": daemon,
        "version": _text(root, "version"),
        "port": port,
    }
    if secret:
        info["secret"] = secret
    if host:
        info["host"] = host
    info["routes"] = read_routes(root)
    if translations_folder:
        # A folder on the Nextcloud server holding l10n/<lang>.js|json; AppAPI copies it into the apps dir.
        info["translations_folder"] = translations_folder
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--info", type=Path, default=DEFAULT_INFO, help="path to info.xml (default: %(default)s)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", DEFAULT_PORT)))
    parser.add_argument("--secret", default=os.environ.get("APP_SECRET"), help="APP_SECRET of the running ExApp")
    parser.add_argument("--host", help="emitted as-is; AppAPI 3.2 takes the host from the daemon config")
    parser.add_argument("--daemon", default="manual_install", help="daemon config name (default: %(default)s)")
    parser.add_argument("--translations-folder", help="absolute path of l10n/ as seen by the Nextcloud server")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error("--port must be 1..65535")
    try:
        info = build_json_info(
            args.info,
            port=args.port,
            secret=args.secret,
            host=args.host,
            daemon=args.daemon,
            translations_folder=args.translations_folder,
        )
    except (OSError, ET.ParseError, InfoXmlError) as exc:
        print(f"json_info: {exc}", file=sys.stderr)
        return 1
    if "secret" not in info:
        print(
            "json_info: no --secret or APP_SECRET: AppAPI will generate one the running ExApp does not know",
            file=sys.stderr,
        )
    json.dump(info, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

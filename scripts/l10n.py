#!/usr/bin/env python3
"""Write Nextcloud's ``l10n/<lang>.js`` and ``l10n/<lang>.json`` from the compiled ``translationfiles/<lang>/*.mo``.

The browser side (the Files action names, which the Files app translates with ``t(appid, name)``) reads
``l10n/<lang>.js``; AppAPI copies ``l10n/`` into the server's apps folder on install. The Python side reads
the ``.mo`` files directly. This does what Nextcloud's ``translationtool.phar convert-po-files`` does, with the
standard library only (the ``.mo`` is compiled by ``msgfmt`` first; see ``make l10n``).

Usage::

    python scripts/l10n.py [--translationfiles translationfiles] [--out l10n] [--app video_converter_fm]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MO_MAGIC = 0x950412DE


def read_mo(path: Path) -> tuple[dict[str, str | list[str]], str]:
    """The catalogue of a GNU ``.mo`` file (msgid → text, or a list for plurals) and its Plural-Forms."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == MO_MAGIC else ">"
    _, count, ids_at, strs_at = struct.unpack(endian + "4I", data[4:20])

    def entry(table: int, index: int) -> str:
        length, offset = struct.unpack(endian + "2I", data[table + 8 * index : table + 8 * index + 8])
        return data[offset : offset + length].decode("utf-8")

    catalog: dict[str, str | list[str]] = {}
    plural_forms = "nplurals=2; plural=(n != 1);"
    for i in range(count):
        msgid, msgstr = entry(ids_at, i), entry(strs_at, i)
        if msgid == "":
            for line in msgstr.splitlines():
                if line.lower().startswith("plural-forms:"):
                    plural_forms = line.split(":", 1)[1].strip()
            continue
        if "\x04" in msgid:  # msgctxt: Nextcloud's JS l10n has no contexts
            continue
        if "\x00" in msgid:
            singular, plural = msgid.split("\x00", 1)
            # Nextcloud's key for n('app', singular, plural, count)
            catalog[f"_{singular}_::_{plural}_"] = msgstr.split("\x00")
        elif msgstr:
            catalog[msgid] = msgstr
    return catalog, plural_forms


def write_l10n(app: str, lang: str, catalog: dict[str, str | list[str]], plural_forms: str, out: Path) -> None:
    """Write ``<out>/<lang>.json`` (server side) and ``<out>/<lang>.js`` (browser side) in Nextcloud's format."""
    out.mkdir(parents=True, exist_ok=True)
    entries = dict(sorted(catalog.items()))
    body = json.dumps(entries, ensure_ascii=False, indent=4)
    (out / f"{lang}.json").write_text(
        json.dumps({"translations": entries, "pluralForm": plural_forms}, ensure_ascii=False, indent=4) + "\n",
        encoding="utf-8",
    )
    (out / f"{lang}.js").write_text(
        f"OC.L10N.register(\n    {json.dumps(app)},\n    {body},\n{json.dumps(plural_forms)});\n", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--translationfiles", type=Path, default=ROOT / "translationfiles")
    parser.add_argument("--out", type=Path, default=ROOT / "l10n")
    parser.add_argument("--app", default="video_converter_fm")
    args = parser.parse_args(argv)
    found = 0
    for mo in sorted(args.translationfiles.glob(f"*/{args.app}.mo")):
        lang = mo.parent.name
        catalog, plural_forms = read_mo(mo)
        write_l10n(args.app, lang, catalog, plural_forms, args.out)
        print(f"l10n: {mo.relative_to(args.translationfiles)} -> {args.out.name}/{lang}.js|json ({len(catalog)})")
        found += 1
    if not found:
        print(f"l10n: no {args.app}.mo under {args.translationfiles} (run msgfmt first)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

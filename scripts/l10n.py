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


#: Languages that must be complete: every msgid of the template translated (English is the source).
REQUIRED_LANGUAGES = ("fr", "de")


def template_msgids(pot: Path) -> set[str]:
    """The msgids of a ``.pot`` (a plural entry as singular, NUL, plural: as in a ``.mo``)."""
    ids: set[str] = set()
    current: list[str] | None = None
    plural: list[str] | None = None
    target = None

    def flush() -> None:
        if current is not None and "".join(current):
            ids.add("".join(current) + ("\x00" + "".join(plural) if plural is not None else ""))

    for line in pot.read_text(encoding="utf-8").splitlines():
        if line.startswith("msgid "):
            flush()
            current, plural, target = [], None, "id"
            current.append(_unquote(line[6:]))
        elif line.startswith("msgid_plural "):
            plural, target = [_unquote(line[13:])], "plural"
        elif line.startswith("msgstr"):
            target = None
        elif line.startswith('"') and target == "id" and current is not None:
            current.append(_unquote(line))
        elif line.startswith('"') and target == "plural" and plural is not None:
            plural.append(_unquote(line))
    flush()
    return ids


def _unquote(quoted: str) -> str:
    return json.loads(quoted.strip())


def missing_translations(translationfiles: Path, app: str) -> dict[str, list[str]]:
    """For each required language, the template's msgids its compiled catalogue lacks (untranslated or fuzzy:
    msgfmt leaves both out of the ``.mo``)."""
    wanted = template_msgids(translationfiles / "templates" / f"{app}.pot")
    missing: dict[str, list[str]] = {}
    for lang in REQUIRED_LANGUAGES:
        mo = translationfiles / lang / f"{app}.mo"
        have: set[str] = set()
        if mo.is_file():
            catalog, _ = read_mo(mo)
            have = {k[1:-1].replace("_::_", "\x00") if isinstance(v, list) else k for k, v in catalog.items()}
        gaps = sorted(wanted - have)
        if gaps:
            missing[lang] = gaps
    return missing


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
    # Every string a user or admin sees must exist in French and German; a gap stops the build here.
    missing = missing_translations(args.translationfiles, args.app)
    for lang, gaps in missing.items():
        print(f"l10n: {lang}: {len(gaps)} untranslated or fuzzy:", file=sys.stderr)
        for msgid in gaps:
            print(f"  {msgid!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Extract the page's strings (``t('video_converter_fm', '…')`` and ``n('video_converter_fm', '…', '…', …)``
in ``src/**/*.ts`` and ``src/**/*.vue``) into a gettext template.

xgettext cannot read ``.vue`` files, and its JavaScript parser trips over TypeScript, so this reads the calls
with a small tokenizer instead: only string *literals* are extracted (``t(app, someVariable)`` is a string
translated elsewhere, e.g. the target labels the ExApp sends, whose msgids come from the Python sources).
``make l10n-extract`` merges this template with xgettext's Python one.

Usage::

    python scripts/l10n_js.py [--src src] --output file.pot
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = "video_converter_fm"
CALL = re.compile(r"\b(?P<fn>[tn])\(\s*(?P<q>['\"])" + APP + r"(?P=q)\s*,\s*")
LITERAL = re.compile(r"""(?P<q>['"`])(?P<body>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*""", re.DOTALL)
BLANKS = re.compile(r"\s*")
ESCAPES = {"n": "\n", "t": "\t", "'": "'", '"': '"', "`": "`", "\\": "\\"}


@dataclass
class Message:
    msgid: str
    plural: str | None = None
    refs: list[str] = field(default_factory=list)


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), body)


def _literal(text: str, at: int) -> tuple[str, int] | None:
    """The string literal starting at ``at`` (skipping blanks) and the index after it, or None."""
    match = LITERAL.match(text, at)
    if not match or (match.group("q") == "`" and "${" in match.group("body")):
        return None
    return _unescape(match.group("body")), match.end()


def extract(files: list[Path], root: Path) -> dict[tuple[str, str | None], Message]:
    """Every literal t()/n() string of ``files``, in first-seen order, with ``path:line`` references."""
    messages: dict[tuple[str, str | None], Message] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        for call in CALL.finditer(text):
            first = _literal(text, call.end())
            if first is None:
                continue
            msgid, after = first
            plural = None
            if call.group("fn") == "n":
                if not text[after:].startswith(","):
                    continue
                second = _literal(text, BLANKS.match(text, after + 1).end())
                if second is None:
                    continue
                plural = second[0]
            line = text.count("\n", 0, call.start()) + 1
            key = (msgid, plural)
            messages.setdefault(key, Message(msgid, plural)).refs.append(f"{path.relative_to(root)}:{line}")
    return messages


def _po(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    if "\n" not in escaped:
        return f'"{escaped}"'
    lines = escaped.split("\n")
    return '""\n' + "\n".join(f'"{line}\\n"' if i < len(lines) - 1 else f'"{line}"' for i, line in enumerate(lines))


def render(messages: dict[tuple[str, str | None], Message]) -> str:
    out = [
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
        "",
    ]
    for message in messages.values():
        out.append("#: " + " ".join(message.refs))
        out.append(f"msgid {_po(message.msgid)}")
        if message.plural is None:
            out.append('msgstr ""')
        else:
            out.append(f"msgid_plural {_po(message.plural)}")
            out += ['msgstr[0] ""', 'msgstr[1] ""']
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    files = sorted(p for p in args.src.rglob("*") if p.suffix in (".ts", ".vue") and p.is_file())
    messages = extract(files, args.src.resolve().parent)
    if not messages:
        print(f"l10n_js: no t()/n() strings under {args.src}", file=sys.stderr)
        return 1
    args.output.write_text(render(messages), encoding="utf-8")
    print(f"l10n_js: {len(messages)} strings from {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())

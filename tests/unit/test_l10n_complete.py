"""Every string a user or admin sees exists in French and German (English is the source): `make l10n` stops on
a gap, and so does this test, so a new message cannot land untranslated."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("l10n_script", ROOT / "scripts" / "l10n.py")
assert _spec is not None and _spec.loader is not None
l10n = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(l10n)


def test_every_message_id_has_french_and_german_text():
    assert l10n.missing_translations(ROOT / "translationfiles", "video_converter_fm") == {}


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="msgfmt (gettext) is not installed")
def test_a_missing_or_fuzzy_translation_is_reported(tmp_path: Path):
    files = tmp_path / "translationfiles"
    (files / "templates").mkdir(parents=True)
    header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    (files / "templates" / "app.pot").write_text(
        header + 'msgid "Done"\nmsgstr ""\n\nmsgid "Failed: {file}"\nmsgstr ""\n\n'
        'msgid "one file"\nmsgid_plural "{n} files"\nmsgstr[0] ""\nmsgstr[1] ""\n'
    )
    entries = {
        "fr": 'msgid "Done"\nmsgstr "Terminé"\n\nmsgid "one file"\nmsgid_plural "{n} files"\n'
        'msgstr[0] "un fichier"\nmsgstr[1] "{n} fichiers"\n',
        "de": '#, fuzzy\nmsgid "Done"\nmsgstr "Fertig"\n\nmsgid "Failed: {file}"\nmsgstr "Fehler: {file}"\n',
    }
    for lang, body in entries.items():
        (files / lang).mkdir()
        po = files / lang / "app.po"
        po.write_text(header + body)
        subprocess.run(["msgfmt", "-o", str(po.with_suffix(".mo")), str(po)], check=True)
    assert l10n.missing_translations(files, "app") == {
        "fr": ["Failed: {file}"],
        "de": ["Done", "one file\x00{n} files"],
    }
    assert l10n.main(["--translationfiles", str(files), "--out", str(tmp_path / "l10n"), "--app", "app"]) == 1

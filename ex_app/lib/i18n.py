"""Translations for what the ExApp says to people (notifications, error messages, action names).

Catalogues are gettext ``.mo`` files in ``translationfiles/<lang>/LC_MESSAGES/video_converter_fm.mo`` (see
translationfiles/README.md). The worker translates into the language the user's browser asked for when the job
was created, because notifications are rendered later, without a request to read it from.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

DOMAIN = "video_converter_fm"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "translationfiles"


@lru_cache(maxsize=64)
def _catalogue(language: str) -> gettext.NullTranslations:
    candidates = [language, language.replace("-", "_"), language.split("-")[0].split("_")[0]]
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=candidates, fallback=True)


def translate(language: str | None, message: str, **params: object) -> str:
    """``message`` in ``language`` (English when there is no catalogue), with ``{name}`` params filled in."""
    text = _catalogue(language or "en").gettext(message)
    return text.format(**params) if params else text


def _(message: str) -> str:
    """Mark a string for extraction without translating it now (it is translated where it is shown)."""
    return message


def language_from_header(accept_language: str | None) -> str:
    """The first language of an Accept-Language header (``de-DE,de;q=0.9`` → ``de-DE``), ``en`` when absent."""
    if not accept_language:
        return "en"
    first = accept_language.split(",")[0].split(";")[0].strip()
    return first[:16] or "en"

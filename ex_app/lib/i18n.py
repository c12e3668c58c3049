"""Translations for what the ExApp says to people (notifications, error messages, action names).

Catalogues are gettext ``.mo`` files beside their ``.po`` in ``translationfiles/<lang>/video_converter_fm.mo``
(Nextcloud's layout, see translationfiles/README.md). The worker translates into the language the user's
browser asked for when the job was created, because notifications are rendered later, without a request to
read it from.
"""

from __future__ import annotations

import gettext
from functools import lru_cache
from pathlib import Path

DOMAIN = "video_converter_fm"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "translationfiles"


@lru_cache(maxsize=64)
def _catalogue(language: str) -> gettext.NullTranslations:
    # Nextcloud keeps one folder per language without gettext's LC_MESSAGES level, so look the file up here:
    # "de-DE" tries de_DE, then de.
    normalised = language.replace("-", "_")
    for candidate in (normalised, normalised.split("_")[0]):
        path = LOCALE_DIR / candidate / f"{DOMAIN}.mo"
        if path.is_file():
            with path.open("rb") as fp:
                return gettext.GNUTranslations(fp)
    return gettext.NullTranslations()


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

"""Translations for what the ExApp says to people (notifications, error messages, action names).

Catalogues are gettext ``.mo`` files beside their ``.po`` in ``translationfiles/<lang>/video_converter_fm.mo``
(Nextcloud's layout, see translationfiles/README.md). The worker translates into the language the user's
browser asked for when the job was created, because notifications are rendered later, without a request to
read it from.
"""

from __future__ import annotations

import gettext
import json
import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

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


log = logging.getLogger(__name__)


def translate(language: str | None, message: str, **params: object) -> str:
    """``message`` in ``language`` (English when there is no catalogue), with ``{name}`` params filled in.

    A parameter that is itself a :class:`Message` is rendered in the same language.
    """
    text = _catalogue(language or "en").gettext(message)
    if not params:
        return text
    values = {k: v.render(language) if isinstance(v, Message) else v for k, v in params.items()}
    for template in (text, message):
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            # A translation (or a caller) naming a parameter that is not there must not lose the message.
            log.warning("%r in %s does not fit its parameters %s", template, language, sorted(values))
    return message


class Message(str):
    """A sentence for a person, kept as its message id (the English template marked with ``_()``) and its
    parameters, so it can be stored and shown later in the reader's language.

    It *is* its English text (a ``str``), so logs, the ops CLI and code that only needs English use it as it
    is; :meth:`render` gives another language and :meth:`to_json` what the job store keeps.
    """

    id: str
    params: Mapping[str, Any]

    def __new__(cls, message_id: str, /, **params: Any) -> Message:
        english = translate("en", message_id, **params) if params else message_id
        self = super().__new__(cls, english)
        self.id = message_id
        self.params = params
        return self

    def render(self, language: str | None) -> str:
        """The sentence in ``language`` (English where there is no translation)."""
        return translate(language, self.id, **self.params)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "params": {k: v.as_dict() if isinstance(v, Message) else v for k, v in self.params.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False)

    @classmethod
    def from_stored(cls, value: object) -> Message:
        """A message from what the store kept: ``as_dict()`` output, its JSON text, or a plain string (rows
        written before messages had ids: shown as they are, in English)."""
        if isinstance(value, Message):
            return value
        if isinstance(value, str):
            if value.startswith("{"):
                try:
                    return cls.from_stored(json.loads(value))
                except ValueError:
                    pass
            return cls(value)
        if isinstance(value, Mapping) and isinstance(value.get("id"), str):
            params = {
                k: cls.from_stored(v) if isinstance(v, Mapping) and "id" in v else v
                for k, v in dict(value.get("params") or {}).items()
            }
            return cls(value["id"], **params)
        return cls(str(value))


def stored(message: str) -> Any:
    """What the job store keeps for ``message``: its id and parameters when it has them, else the text."""
    return message.as_dict() if isinstance(message, Message) else str(message)


def _(message: str) -> str:
    """Mark a string for extraction without translating it now (it is translated where it is shown)."""
    return message


def language_from_header(accept_language: str | None) -> str:
    """The first language of an Accept-Language header (``de-DE,de;q=0.9`` → ``de-DE``), ``en`` when absent."""
    if not accept_language:
        return "en"
    first = accept_language.split(",")[0].split(";")[0].strip()
    return first[:16] or "en"

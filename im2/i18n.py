"""The one i18n mechanism: gettext catalogs (Babel .po files) and a per-request locale.

Message ids are English. Chinese (zh_CN) is the default locale of the console and the public
pages; the API answers in English unless the caller asks otherwise (Accept-Language).
Catalogs are compiled in memory from the .po files at first use, so a fresh clone needs no
build step.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}
_LOCALE_DIR = Path(__file__).parent / "locale"

_current: ContextVar[str] = ContextVar("im2_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> _gettext.NullTranslations:
    po_path = _LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return _gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def normalize_locale(value: str | None) -> str | None:
    """Map 'zh', 'zh-CN', 'zh_Hans', 'en-US' … onto a supported locale, or None."""
    if not value:
        return None
    value = value.strip().replace("-", "_").lower()
    if value.startswith("zh"):
        return "zh_CN"
    if value.startswith("en"):
        return "en"
    return None


def locale_from_accept_language(header: str | None, default: str) -> str:
    if header:
        for part in header.split(","):
            found = normalize_locale(part.split(";")[0])
            if found:
                return found
    return default


def get_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 (gettext convention)
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message

"""The one i18n mechanism: gettext catalogs (Babel .po files) and a per-request locale.

Message ids are English. Chinese (zh_CN) is the default locale of the console and the public
pages; the API answers in English unless the caller asks otherwise (Accept-Language). The
Traditional Chinese catalog (zh_TW) is generated from zh_CN by scripts/make_zh_tw.py. Public
pages speak one of the languages their campaign offers (`negotiate_public`, docs/languages.md).
Catalogs are compiled in memory from the .po files at first use, so a fresh clone needs no
build step.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES: tuple[str, ...] = ("zh_CN", "zh_TW", "en")
DEFAULT_LOCALE = "zh_CN"
# Each language named in itself, as a switcher shows it.
LOCALE_NAMES = {"zh_CN": "简体中文", "zh_TW": "繁體中文", "en": "English"}
# BCP 47 tags for `<html lang>` and for campaign settings (zh-CN, zh-TW, en).
LOCALE_TAGS = {"zh_CN": "zh-CN", "zh_TW": "zh-TW", "en": "en"}
# Chinese regions and scripts read in Traditional characters.
_TRADITIONAL = ("zh_tw", "zh_hk", "zh_mo", "zh_hant")
_TAG = re.compile(r"[a-z]{2,3}(?:_[a-z0-9]{1,8})*")
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
    found = _gettext.GNUTranslations(buffer)
    if locale == "zh_TW":
        # A string added to zh_CN since the last conversion reads in Simplified, not English.
        found.add_fallback(translations("zh_CN"))
    return found


def normalize_locale(value: str | None) -> str | None:
    """Map 'zh', 'zh-CN', 'zh-Hans', 'zh-SG' onto zh_CN, 'zh-TW', 'zh-HK', 'zh-Hant-*' onto
    zh_TW, 'en-US' onto en; anything else is None."""
    if not value:
        return None
    value = value.strip().replace("-", "_").lower()
    if not _TAG.fullmatch(value):
        return None  # not a language tag at all ("english", "en\x00", "*")
    if value.startswith(_TRADITIONAL):
        return "zh_TW"
    if value.startswith("zh"):
        return "zh_CN"
    if value.startswith("en"):
        return "en"
    return None


def _accepted(header: str) -> list[str]:
    """The header's language ranges, most preferred first (q=0 ones dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, number = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return [tag for _q, _i, tag in sorted(ranked)]


def locale_from_accept_language(
    header: str | None, default: str, offered: tuple[str, ...] | None = None
) -> str:
    """The first language of the header (by q) among `offered` (all locales when None)."""
    choices = offered or LOCALES
    if header:
        for tag in _accepted(header[:1000]):
            found = normalize_locale(tag)
            if found in choices:
                return found
    return default


def negotiate_public(
    *, choice: str | None, accept_language: str | None, default: str, offered: tuple[str, ...]
) -> str:
    """A public page's locale: the visitor's explicit choice (?lang= or its cookie) > their
    browser's Accept-Language > the campaign's default, always one the campaign offers."""
    offered = tuple(o for o in offered if o in LOCALES) or (DEFAULT_LOCALE,)
    if default not in offered:
        default = offered[0]
    chosen = normalize_locale(choice)
    if chosen in offered:
        return chosen
    return locale_from_accept_language(accept_language, default, offered)


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

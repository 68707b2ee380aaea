"""Languages per campaign (issue #22): the zh_TW catalog and how a public page picks its locale."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from im2.i18n import (
    _,
    locale_from_accept_language,
    negotiate_public,
    normalize_locale,
    translations,
    use_locale,
)
from tests.conftest import repo_root

ALL = ("zh_CN", "zh_TW", "en")


def _catalog(locale: str) -> dict[str, object]:
    po = repo_root() / "im2" / "locale" / locale / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle, locale=locale) if m.id}


def test_every_chinese_message_has_a_traditional_translation() -> None:
    simplified = _catalog("zh_CN")
    traditional = _catalog("zh_TW")
    missing = sorted(str(k) for k, v in simplified.items() if v and not traditional.get(k))
    assert missing == [], f"run scripts/make_zh_tw.py (make messages): {missing[:5]}"


def test_the_committed_traditional_catalog_is_the_converted_one() -> None:
    script = repo_root() / "scripts" / "make_zh_tw.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_traditional_uses_taiwan_characters_and_phrases() -> None:
    with use_locale("zh_TW"):
        assert _("Campaigns") == "活動"
        assert _("Settings") == "設定"  # Taiwan phrasing: 设置 becomes 設定, not 設置
    assert translations("zh_CN").gettext("Settings") == "设置"


def test_language_tags_map_onto_locales() -> None:
    for tag in ("zh-TW", "zh-HK", "zh-MO", "zh-Hant", "zh-Hant-HK", "zh_TW"):
        assert normalize_locale(tag) == "zh_TW", tag
    for tag in ("zh", "zh-CN", "zh-Hans", "zh-SG", "zh-Hans-SG"):
        assert normalize_locale(tag) == "zh_CN", tag
    assert normalize_locale("en-GB") == "en"
    assert normalize_locale("fr") is None


def test_accept_language_follows_quality_within_offered() -> None:
    assert locale_from_accept_language("zh-CN;q=0.4, en;q=0.9", "zh_CN") == "en"
    assert locale_from_accept_language("fr, zh-HK;q=0.8, en;q=0.5", "en") == "zh_TW"
    assert locale_from_accept_language("en", "zh_CN", ("zh_CN", "zh_TW")) == "zh_CN"
    assert locale_from_accept_language("en;q=0, zh-TW", "en", ALL) == "zh_TW"
    assert locale_from_accept_language("en;q=bogus, zh", "en", ALL) == "zh_CN"


def test_public_choice_beats_browser_beats_default() -> None:
    def pick(choice: str | None, header: str | None, offered: tuple[str, ...] = ALL) -> str:
        return negotiate_public(
            choice=choice, accept_language=header, default="zh_CN", offered=offered
        )

    assert pick(None, None) == "zh_CN"
    assert pick(None, "en-US,en;q=0.9") == "en"
    assert pick("zh-TW", "en-US") == "zh_TW"
    # A choice or a browser language the campaign does not offer falls through.
    assert pick("en", "zh-TW", ("zh_CN", "zh_TW")) == "zh_TW"
    assert pick(None, "en-US", ("zh_CN",)) == "zh_CN"
    assert pick("xx", "de", ALL) == "zh_CN"

"""Every UI string goes through gettext and has a Chinese translation."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from im2.i18n import _, locale_from_accept_language, translations, use_locale
from tests.conftest import repo_root

KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def _extracted() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(repo_root() / "im2"), method_map, options, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_chinese_translation() -> None:
    po = repo_root() / "im2" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    translated = {m.id for m in catalog if m.id and m.string}
    missing = sorted(_extracted() - translated)
    assert missing == [], f"run `make messages` and translate: {missing[:10]}"


def test_placeholders_survive_translation() -> None:
    catalog = translations("zh_CN")
    for message in _extracted():
        for name in ("{n}", "{id}", "{role}", "{name}", "{minutes}", "{old}", "{new}"):
            if name in message:
                assert name in catalog.gettext(message), message


def test_locale_selection() -> None:
    assert locale_from_accept_language("zh-CN,zh;q=0.9", "en") == "zh_CN"
    assert locale_from_accept_language("fr-FR, en;q=0.5", "zh_CN") == "en"
    assert locale_from_accept_language(None, "en") == "en"
    with use_locale("en"):
        assert _("Campaigns") == "Campaigns"
    with use_locale("zh_CN"):
        assert _("Campaigns") == "活动"

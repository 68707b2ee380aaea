"""The Chinese catalog reads as Chinese: full-width punctuation inside Chinese text, and one
form of "you" (你, for console users and participants alike: the product's voice is
informal, as the 90-odd strings written first already were)."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

CATALOG = Path(__file__).resolve().parents[2] / "im2/locale/zh_CN/LC_MESSAGES/messages.po"
HAN = r"[\u3400-\u9fff\uf900-\ufaff]"
# Half-width , . : ; ? ! ( ) touching Chinese text. Syntax a user types (`单选: 选项`,
# `author:`, `(海尔 OR Haier)`) is set off by spaces or full-width punctuation and not matched.
HALF_WIDTH = re.compile(
    rf"{HAN}[,.:;?!]{HAN}"  # between two Han characters
    rf"|{HAN}[,.:;?!)]$"  # at the end, after Han
    rf"|{HAN}\("  # an opening bracket right after Han
    rf"|\)[,.:;?!]?{HAN}"  # a closing bracket right before Han
    rf"|{HAN}[,:;?!][{{0-9]"  # between Han and a placeholder or number
    rf"|[}}0-9][,:;?!]{HAN}"
)


def _translations() -> list[tuple[str, str]]:
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    found = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [(ids[0], s) for s in strings if s]
    return found


def test_the_checks_catch_what_they_are_for() -> None:
    for wrong in ("积分不足:你有", "兑换成功!", "有效期(天)", "券码({code})", "编号,例如 42"):
        assert HALF_WIDTH.search(wrong), wrong
    for right in ("例如 单选: 或 评分*:", "示例：(海尔 OR Haier) AND 冰箱", "满100减20", "v1.2 版"):
        assert not HALF_WIDTH.search(right), right


def test_no_half_width_punctuation_in_chinese_text() -> None:
    wrong = [f"{msgid!r}: {text!r}" for msgid, text in _translations() if HALF_WIDTH.search(text)]
    assert not wrong, "use full-width punctuation (，。：；？！（）):\n" + "\n".join(wrong)


def test_one_form_of_you() -> None:
    formal = [f"{msgid!r}: {text!r}" for msgid, text in _translations() if "您" in text]
    assert not formal, "the catalog says 你, not 您:\n" + "\n".join(formal)

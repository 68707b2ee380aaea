"""Boolean topic queries: what they match, and where an invalid one goes wrong."""

from __future__ import annotations

import pytest

from im2.listening.query import QueryError, compile_query, fields_of


def matches(query: str, text: str, *, author: str = "fan", platform: str = "weibo") -> bool:
    fields = fields_of(
        text=text, author=author, platform=platform, language="zh", sentiment="negative"
    )
    return compile_query(query)(fields)


def test_and_or_not_phrases_and_parentheses() -> None:
    query = '(西门子 OR siemens) AND (冰箱 OR fridge) NOT "门 关不上" -广告'
    assert matches(query, "西门子冰箱的门又坏了")
    assert matches(query, "My Siemens fridge is broken")
    assert not matches(query, "西门子冰箱门 关不上")
    assert not matches(query, "西门子冰箱广告")
    assert not matches(query, "海尔冰箱")


def test_latin_words_match_whole_words_and_prefixes() -> None:
    assert matches("apple", "I ate an Apple today")
    assert not matches("apple", "pineapple juice")
    assert matches("iphone", "新款iPhone手机")
    assert matches("lov*", "loving it")


def test_field_filters() -> None:
    assert matches("author:brandwatcher 冰箱", "冰箱", author="BrandWatcher")
    assert not matches("platform:twitter 冰箱", "冰箱")
    assert matches("sentiment:negative AND platform:weibo", "随便")
    assert matches('author:"jane doe"', "x", author="Jane Doe")


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("(冰箱 OR 洗衣机", 0, "never closed"),
        ("冰箱 OR", 5, "ends where"),
        ('冰箱 "门坏了', 3, "quote"),
        ("冰箱)", 2, "no opening"),
        ("colour:red", 0, "Unknown field"),
        ("NOT 广告", 0, "only exclude"),
        ("冰箱 AND OR 门", 7, "OR"),
        ("", 0, "empty"),
    ],
)
def test_errors_say_where(query: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        compile_query(query)
    assert caught.value.position == position
    assert words in caught.value.message

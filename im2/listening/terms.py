"""Words that explain a spike: terms frequent now and rare in the baseline (jieba for Chinese).

Score = (count now + 1) / (count in baseline × size ratio + 1), so a term has to be both
common in the window and new compared with before; ties go to the more frequent term.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Final

import jieba

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_AT = re.compile(r"@[^\s:：,，@]{1,30}")
_TAG = re.compile(r"\[[^\[\]\s]{1,8}\]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z][a-z0-9'’-]{2,}")

ZH_STOPWORDS: Final = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "我",
        "有",
        "和",
        "就",
        "不",
        "人",
        "都",
        "一",
        "一个",
        "上",
        "也",
        "很",
        "到",
        "说",
        "要",
        "去",
        "你",
        "会",
        "着",
        "没有",
        "看",
        "好",
        "自己",
        "这",
        "那",
        "他",
        "她",
        "它",
        "们",
        "我们",
        "你们",
        "他们",
        "吗",
        "吧",
        "啊",
        "呢",
        "哦",
        "嗯",
        "呀",
        "啦",
        "还",
        "又",
        "被",
        "把",
        "让",
        "给",
        "与",
        "及",
        "而",
        "但",
        "就是",
        "这个",
        "那个",
        "什么",
        "怎么",
        "为什么",
        "如何",
        "可以",
        "已经",
        "因为",
        "所以",
        "如果",
        "还是",
        "或者",
        "真的",
        "今天",
        "现在",
        "转发",
        "微博",
        "回复",
        "网页",
        "链接",
        "视频",
        "全文",
    ]
)
EN_STOPWORDS: Final = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "him",
        "his",
        "how",
        "its",
        "may",
        "new",
        "now",
        "old",
        "see",
        "two",
        "who",
        "did",
        "get",
        "let",
        "put",
        "say",
        "she",
        "too",
        "use",
        "that",
        "with",
        "have",
        "this",
        "will",
        "your",
        "from",
        "they",
        "know",
        "want",
        "been",
        "good",
        "much",
        "some",
        "time",
        "very",
        "when",
        "come",
        "here",
        "just",
        "like",
        "long",
        "make",
        "many",
        "more",
        "only",
        "over",
        "such",
        "take",
        "than",
        "them",
        "well",
        "were",
        "what",
        "about",
        "after",
        "again",
        "also",
        "back",
        "because",
        "being",
        "could",
        "each",
        "even",
        "into",
        "most",
        "other",
        "should",
        "their",
        "there",
        "these",
        "think",
        "those",
        "through",
        "where",
        "which",
        "while",
        "would",
        "really",
        "today",
        "still",
        "http",
        "https",
        "www",
        "com",
    ]
)


@lru_cache(maxsize=1)
def _jieba_ready() -> bool:
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return True


def tokens(text: str) -> list[str]:
    text = _TAG.sub(" ", _AT.sub(" ", _URL.sub(" ", text))).lower()
    found = [w for w in _WORD.findall(text) if w not in EN_STOPWORDS]
    if _CJK.search(text):
        _jieba_ready()
        for word in jieba.lcut(text):
            word = word.strip()
            if len(word) >= 2 and _CJK.search(word) and word not in ZH_STOPWORDS:
                found.append(word)
    return found


def _counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(set(tokens(text)))  # documents, not occurrences: one ranting post
    return counts


def top_terms(
    window: Sequence[str], baseline: Sequence[str], *, limit: int = 10
) -> list[tuple[str, int]]:
    """The `limit` terms that best mark the window, with how many window posts contain them."""
    now = _counts(window)
    before = _counts(baseline)
    ratio = len(window) / len(baseline) if baseline else 0.0
    ranked = sorted(
        ((term, n) for term, n in now.items() if n >= 2 or len(window) < 10),
        key=lambda item: (-(item[1] + 1) / (before.get(item[0], 0) * ratio + 1), -item[1], item[0]),
    )
    return ranked[:limit]

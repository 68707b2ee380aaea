"""Keywords of a set of posts, and the terms that are new compared with a baseline period
(jieba for Chinese): what explains a spike, and the dashboard's trending terms and word cloud.

Lift = (count now + 1) / (count in baseline × size ratio + 1), where counts are posts containing
the term and the size ratio is posts now ÷ posts in the baseline: how many times more posts
carry the term than the baseline's rate predicts. The +1 on both sides keeps a term absent
before finite and makes a term seen in 2 posts weigh less than one seen in 200; a term has to
be both common in the window and new compared with before, ties go to the more frequent term.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import jieba

# Markup pasted into a post ("<script>alert(1)</script>") is not what people talk about: the
# contents of script and style elements go, then every tag, before words are counted.
_CODE = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_MARKUP = re.compile(
    r"</?[a-z][^<>]{0,300}>|&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});", re.IGNORECASE
)
_URL = re.compile(r"(?:https?://|www\.|javascript:)\S+", re.IGNORECASE)
_AT = re.compile(r"@[^\s:：,，@]{1,30}")
_TAG = re.compile(r"\[[^\[\]\s]{1,8}\]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z][a-z0-9'’-]{2,}")

# The dashboard reads at most this much of each post: the point of a post is in its first part,
# and it bounds both the tokeniser's time and the memory of the cache below.
MAX_TERM_CHARS: Final = 1000
# Below this lift the difference between two samples of the same stream is noise, not a trend.
TRENDING_LIFT: Final = 1.5

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
    text = _MARKUP.sub(" ", _CODE.sub(" ", text))
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


@dataclass(frozen=True, slots=True)
class TermStat:
    term: str
    count: int  # posts of the window that contain it
    baseline_count: int  # posts of the baseline that contain it
    lift: float | None  # None when the baseline has no posts to compare with


@dataclass(frozen=True, slots=True)
class TermComparison:
    keywords: list[TermStat]  # most frequent in the window first
    trending: list[TermStat]  # highest lift first, only terms at TRENDING_LIFT or above


@lru_cache(maxsize=8192)
def _post_terms(text: str) -> frozenset[str]:
    # Dashboards are opened again and again over mostly the same recent posts: jieba is the
    # cost, so each (cut) post is tokenised once while it stays in the cache.
    return frozenset(tokens(text))


def _post_counts(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_post_terms(text[:MAX_TERM_CHARS]))
    return counts


def compare_terms(
    window: Sequence[str], baseline: Sequence[str], *, limit: int = 50, leave_out: str = ""
) -> TermComparison:
    """The window's `limit` most frequent keywords and its `limit` trending terms against the
    baseline. Only terms in at least 2 posts count once the window has 10 posts or more, so a
    word one person typed is neither a keyword nor a trend. The words of `leave_out` (the
    brand's own name, in every post about it) are no keyword."""
    now = _post_counts(window)
    for word in tokens(leave_out):
        now.pop(word, None)
    before = _post_counts(baseline) if baseline else Counter[str]()
    ratio = len(window) / len(baseline) if baseline else 0.0
    stats = [
        TermStat(
            term=term,
            count=n,
            baseline_count=before.get(term, 0),
            lift=(n + 1) / (before.get(term, 0) * ratio + 1) if baseline else None,
        )
        for term, n in now.items()
        if n >= 2 or len(window) < 10
    ]
    keywords = sorted(stats, key=lambda s: (-s.count, s.term))[:limit]
    trending = sorted(
        (s for s in stats if s.lift is not None and s.lift >= TRENDING_LIFT),
        key=lambda s: (-(s.lift or 0.0), -s.count, s.term),
    )[:limit]
    return TermComparison(keywords=keywords, trending=trending)

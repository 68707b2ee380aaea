"""The batch feature path (numpy n-grams + hash table) scores exactly like the per-text path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from im2.listening import sentiment

DATA = Path("/work/shared/data")
TRICKY = [
    "",
    "\n",
    "好\n评\n",
    "好好好好好\n\n哈哈哈哈",
    "ΣΑΣ σς ΌΣΟΣ",  # final sigma depends on what follows
    "ＡＢＣ１２３ 西门子 ｶﾞ",  # full-width and half-width forms (NFKC)
    "http://x.y/z 冰箱 @某某 太差 www.a.b/c",
    "[哈哈]好[doge]",
    "e\u0301 \u0301开头",  # combining marks at the edges
    "冰箱 \U0001f600 \U0010ffff 很好",
    "a\x00b 好",
    "好\ud83d评",  # a lone surrogate (JSON allows it)
]


def _texts() -> list[str]:
    texts = list(TRICKY)
    weibo = DATA / "weibo_senti_100k_subset" / "dev.csv"
    if weibo.exists():
        lines = weibo.read_text().splitlines()[1:3001]
        texts += [line.split("\t", 1)[1] for line in lines if "\t" in line]
    return texts


def test_batch_features_equal_the_per_text_features() -> None:
    model = sentiment.default_model().languages[sentiment.Language.ZH]
    assert model.grams is not None
    per_text = dataclasses.replace(model, grams=None)
    texts = _texts()
    fast, fast_known = model.probabilities(texts)
    slow, slow_known = per_text.probabilities(texts)
    np.testing.assert_array_equal(fast, slow)
    assert fast_known == slow_known


def test_nfkc_batch_equals_nfkc_per_text() -> None:
    import unicodedata

    texts = _texts()
    assert sentiment.nfkc_batch(texts) == [unicodedata.normalize("NFKC", t) for t in texts]


def test_batch_language_detection_equals_per_text() -> None:
    texts = [*_texts(), "hello 好", "好 hello world", "ｱｲｳ", "豈 more latin words here"]
    assert sentiment.detect_languages(texts) == [sentiment.detect_language(t) for t in texts]

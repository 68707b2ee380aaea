"""Accuracy floors of the shipped model on the real evaluation data in shared/data.

The floors sit a few points under what benchmarks/sentiment.py measured, so they catch a broken
model or feature change, not noise. Only rows training never saw are used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from im2.listening.sentiment import load_model

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"evaluation data not present at {DATA} (shared/data)"
)


def _accuracy(rows: list[tuple[str, int]]) -> float:
    results = load_model().score([t for t, _ in rows])
    hits = sum(
        int(r.positive_probability >= 0.5) == y for r, (_, y) in zip(results, rows, strict=True)
    )
    return hits / len(rows)


@pytest.mark.parametrize(
    ("name", "floor"),
    [("chnsenticorp_std_dev", 0.82), ("waimai_heldout", 0.85), ("weibo_heldout", 0.68)],
)
def test_chinese_accuracy_stays_above_its_floor(name: str, floor: float) -> None:
    from im2.listening import sentiment_train as st

    rows = {
        "chnsenticorp_std_dev": lambda: st.chnsenticorp_std(DATA, "dev"),
        "waimai_heldout": lambda: [e for e in st.waimai(DATA) if st.is_held_out(e.text)],
        "weibo_heldout": lambda: [e for e in st.weibo(DATA) if st.is_held_out(e.text)],
    }[name]()
    assert _accuracy([(e.text, e.label) for e in rows]) >= floor


def test_english_accuracy_on_sentiment140_stays_above_its_floor() -> None:
    from im2.listening.sentiment_train import sentiment140

    rows = [(t, int(p == 4)) for t, p in sentiment140(DATA) if p != 2]
    assert _accuracy(rows) >= 0.74

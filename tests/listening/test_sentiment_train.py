"""The training script's pieces: splits, de-duplication, brand corrections, save and reload."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from im2.listening.sentiment import Language, Sentiment, load_model
from im2.listening.sentiment_train import (
    Blocklist,
    Example,
    LanguageHyper,
    Report,
    fit_language,
    is_held_out,
    norm_key,
    read_extra,
    save,
)


def test_norm_key_ignores_width_case_punctuation_and_tags() -> None:
    assert norm_key("Ｈｅｌｌｏ，世界！[哈哈]") == norm_key("hello 世界")


def test_held_out_split_is_deterministic_and_about_one_in_five() -> None:
    texts = [f"评论 {i}" for i in range(5000)]
    share = sum(map(is_held_out, texts)) / len(texts)
    assert 0.17 < share < 0.23
    assert [is_held_out(t) for t in texts[:50]] == [is_held_out(t) for t in texts[:50]]
    # Duplicates that differ only in spacing or punctuation land on the same side
    assert is_held_out("好吃！下次还来") == is_held_out("好吃 下次还来")


def test_blocklist_catches_exact_and_truncated_copies() -> None:
    long_review = "这家酒店的位置非常好，离地铁站很近，房间干净整洁，早餐种类丰富，服务员态度也很热情，推荐入住"
    blocked = Blocklist([long_review, "短评论"])
    assert "短评论！" in blocked
    assert long_review[:40] + "……后面被截断了不一样的结尾" in blocked
    assert "完全不同的另一条评论" not in blocked


def test_brand_corrections_are_read_from_csv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "fix.csv"
    csv_file.write_text(
        "text,label\n产品很好,positive\n太差了,0\n一般,neutral\n,positive\n", encoding="utf-8"
    )
    jsonl = tmp_path / "fix.jsonl"
    jsonl.write_text(json.dumps({"text": "love it", "label": "pos"}) + "\n", encoding="utf-8")
    rows = read_extra(csv_file, 3.0) + read_extra(jsonl, 3.0)
    # Neutral and empty rows are skipped: the classifier is binary
    assert [(r.text, r.label) for r in rows] == [("产品很好", 1), ("太差了", 0), ("love it", 1)]
    assert all(r.weight == 3.0 and r.source == "extra" for r in rows)


def test_a_trained_model_saves_reloads_and_scores_like_its_training(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    # Given a tiny Chinese corpus
    positive = ["好吃", "很好吃", "服务好", "非常满意", "推荐", "喜欢", "很棒", "干净"] * 3
    negative = ["难吃", "太慢", "服务差", "很失望", "不推荐", "讨厌", "很糟", "脏"] * 3
    examples = [Example(f"{t}{i}", 1, "test") for i, t in enumerate(positive)]
    examples += [Example(f"{t}{i}", 0, "test") for i, t in enumerate(negative)]
    # When it is trained, saved and loaded back
    fitted = fit_language(examples, Language.ZH, LanguageHyper(c=10.0, min_df=1, max_features=500))
    english = fit_language(
        [Example("good", 1, "test"), Example("bad", 0, "test")] * 5,
        Language.EN,
        LanguageHyper(c=1.0, min_df=1, max_features=50),
    )
    path = tmp_path / "model.npz"
    save(path, {Language.ZH: fitted, Language.EN: english}, Report())
    model = load_model(path)
    # Then it separates what it was taught
    good, bad = model.score(["服务好，推荐", "服务差，很失望"])
    assert good.positive_probability > 0.5 > bad.positive_probability
    assert bad.label is Sentiment.NEGATIVE or bad.label is Sentiment.NEUTRAL
    assert len(model.languages[Language.ZH].vocabulary) <= 500


def test_the_afinn_list_is_copied_from_its_package_once(tmp_path: Path) -> None:
    pytest.importorskip("afinn")
    from im2.listening.sentiment_train import write_afinn

    path = tmp_path / "afinn.json"
    assert write_afinn(path) is True
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["words"]["good"] == 3
    assert data["emoticons"][":)"] == 2
    assert "ODbL" in data["source"]
    assert write_afinn(path) is False  # unchanged: not rewritten


def test_the_neutral_band_is_fitted_where_the_neutral_class_lies() -> None:
    pytest.importorskip("sklearn")
    from im2.listening.sentiment_train import band_folds, cross_validate_band, fit_neutral_band

    # Given tweets whose P(positive) is below 0.3 when negative, above 0.7 when positive,
    # and in between when neutral; a few texts had no known feature and are neutral
    p = np.linspace(0.01, 0.99, 300)
    truth = np.where(p < 0.3, 0, np.where(p > 0.7, 2, 1))
    known = np.ones(300, dtype=bool)
    known[::50] = False
    truth[~known] = 1
    # When the band is fitted
    band = fit_neutral_band(p, known, truth)
    # Then it separates the three classes, and does so on held-out folds too
    assert band.macro_f1 == pytest.approx(1.0)
    assert 0.275 <= band.low <= 0.3
    assert 0.675 <= band.high <= 0.7
    cv = cross_validate_band(p, known, truth, band_folds([f"tweet {i}" for i in range(300)]))
    assert cv.macro_f1_heldout > 0.95


def test_the_fitted_band_scores_what_sklearn_scores() -> None:
    pytest.importorskip("sklearn")
    from sklearn.metrics import f1_score

    from im2.listening.sentiment_train import band_labels, fit_neutral_band

    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, 400)
    p = np.clip(truth / 2 + rng.normal(0, 0.3, 400), 0, 1)
    known = rng.random(400) > 0.1
    band = fit_neutral_band(p, known, truth)
    predicted = band_labels(p, known, band.low, band.high)
    assert band.macro_f1 == pytest.approx(f1_score(truth, predicted, average="macro"))
    # No other band on the grid does better
    for low, high in ((0.3, 0.7), (0.2, 0.5), (0.45, 0.55), (0.1, 0.9)):
        other = f1_score(truth, band_labels(p, known, low, high), average="macro")
        assert other <= band.macro_f1 + 1e-9

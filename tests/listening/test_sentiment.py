"""The shipped sentiment model and its helpers, on sentences a person can judge at a glance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from im2.listening.sentiment import (
    DEFAULT_MODEL_PATH,
    Language,
    Sentiment,
    afinn_score,
    afinn_sum,
    detect_language,
    en_features,
    load_model,
    score,
    strip_emoticon_tags,
    zh_features,
)

POSITIVE_ZH = ["这家店的菜很好吃，服务也很热情，下次还来！", "酒店环境很好，房间干净，非常满意"]
NEGATIVE_ZH = ["送餐太慢了，等了两个小时，饭都凉了，再也不点了", "房间又脏又小，服务态度差，很失望"]
POSITIVE_EN = ["I love this phone, the camera is amazing!", "Great service and friendly staff :)"]
NEGATIVE_EN = [
    "This is the worst product I have ever bought, total waste of money",
    "Terrible support, I hate waiting for hours :(",
]


@pytest.mark.parametrize("text", POSITIVE_ZH + POSITIVE_EN)
def test_obvious_positive_sentences_are_positive(text: str) -> None:
    (result,) = score([text])
    assert result.label is Sentiment.POSITIVE
    assert result.positive_probability > 0.5


@pytest.mark.parametrize("text", NEGATIVE_ZH + NEGATIVE_EN)
def test_obvious_negative_sentences_are_negative(text: str) -> None:
    (result,) = score([text])
    assert result.label is Sentiment.NEGATIVE
    assert result.positive_probability < 0.5


def test_results_keep_input_order_and_language_across_a_mixed_batch() -> None:
    texts = [POSITIVE_EN[0], NEGATIVE_ZH[0], NEGATIVE_EN[0], POSITIVE_ZH[0]]
    results = score(texts)
    assert [r.language for r in results] == [Language.EN, Language.ZH, Language.EN, Language.ZH]
    assert [r.label for r in results] == [
        Sentiment.POSITIVE,
        Sentiment.NEGATIVE,
        Sentiment.NEGATIVE,
        Sentiment.POSITIVE,
    ]


def test_confidence_and_probability_stay_within_zero_and_one() -> None:
    texts = POSITIVE_ZH + NEGATIVE_ZH + POSITIVE_EN + NEGATIVE_EN + ["", "ok", "好" * 500]
    for result in score(texts):
        assert 0.0 <= result.confidence <= 1.0
        assert 0.0 <= result.positive_probability <= 1.0


def test_text_without_any_known_feature_is_neutral() -> None:
    # Given texts that carry no word or character the model has seen
    results = score(["", "   ", "zqxjv wprtk"])
    # Then the model does not guess a side
    assert [r.label for r in results] == [Sentiment.NEUTRAL] * 3


def test_labels_follow_the_neutral_band_of_the_positive_probability() -> None:
    model = load_model()
    texts = ["还行吧", "一般般", "it is a phone", "the meeting is on tuesday", *POSITIVE_EN]
    texts += NEGATIVE_EN + POSITIVE_ZH + NEGATIVE_ZH
    for result in model.score(texts):
        lang = model.languages[result.language]
        p = result.positive_probability
        if result.label is Sentiment.POSITIVE:
            assert p > lang.neutral_high
            assert result.confidence == pytest.approx(p)
        elif result.label is Sentiment.NEGATIVE:
            assert p < lang.neutral_low
            assert result.confidence == pytest.approx(1 - p)
        else:
            assert 0.0 <= result.confidence <= 1.0


def test_the_english_band_was_fitted_on_tweets_with_a_neutral_class() -> None:
    band = load_model().meta["neutral_band"]
    assert isinstance(band, dict)
    english = band["en"]
    assert "tweeteval" in english["fitted_on"]
    # Its held-out figure is recorded next to the default band's, on the same folds
    assert 0 < english["macro_f1_heldout"] <= 1
    assert 0 < english["default_band_macro_f1_heldout"] <= 1
    en = load_model().languages[Language.EN]
    assert (en.neutral_low, en.neutral_high) == (english["low"], english["high"])


@pytest.mark.parametrize("language", ["en", Language.EN])
def test_a_language_given_as_text_or_enum_scores_every_row(language: str) -> None:
    texts = [POSITIVE_EN[0], NEGATIVE_EN[0], "", "今天天气不错"]
    results = score(texts, language=language)
    assert len(results) == len(texts)
    assert [r.language for r in results] == [Language.EN] * 4
    assert results[0].label is Sentiment.POSITIVE
    assert results[1].label is Sentiment.NEGATIVE


def test_an_unknown_language_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        score(["bonjour"], language="fr")


def test_every_input_gets_a_result_in_its_place() -> None:
    texts = ["", POSITIVE_ZH[0], "   ", NEGATIVE_EN[1], "😀", "12345", NEGATIVE_ZH[1]] * 3
    results = load_model().score(texts)
    assert len(results) == len(texts)
    assert [r.language for r in results][:7] == [
        Language.EN,
        Language.ZH,
        Language.EN,
        Language.EN,
        Language.EN,
        Language.EN,
        Language.ZH,
    ]
    assert score([]) == []


def test_forcing_a_language_uses_that_model() -> None:
    (result,) = score(["great"], language=Language.ZH)
    assert result.language is Language.ZH


def test_stronger_wording_gives_more_confidence() -> None:
    mild, strong = score(["good", "absolutely wonderful, best ever, I love it!!"])
    assert strong.label is Sentiment.POSITIVE
    assert strong.positive_probability > mild.positive_probability


def test_negation_turns_a_positive_word_negative() -> None:
    (plain, negated) = score(["the food was good", "the food was not good"])
    assert negated.positive_probability < plain.positive_probability


def test_emoticon_tags_are_stripped_and_spaces_tidied() -> None:
    assert strip_emoticon_tags("太棒了[哈哈][鼓掌] 真的[doge]") == "太棒了 真的"
    assert strip_emoticon_tags("[怒]") == ""
    # Brackets around long text or with spaces are not emoticons
    assert strip_emoticon_tags("[see attached file] ok") == "[see attached file] ok"


def test_emoticon_tags_do_not_change_the_score() -> None:
    with_tag, without = score(["今天的天气[哈哈]", "今天的天气"])
    assert with_tag.positive_probability == pytest.approx(without.positive_probability)


def test_language_follows_the_script() -> None:
    assert detect_language("今天天气不错") is Language.ZH
    assert detect_language("我爱 iPhone") is Language.ZH
    assert detect_language("what a day") is Language.EN
    assert detect_language("great 酒店 but noisy rooms at night") is Language.EN
    assert detect_language("") is Language.EN


def test_features_fold_repeats_digits_links_and_mentions() -> None:
    assert zh_features("好好好好吃") == zh_features("好好吃")
    assert "w:soo" in en_features("sooooo good")
    assert "w:not_good" in en_features("not good")
    assert "w:not_good" not in en_features("not bad. good")
    assert not any("bob" in f or "http" in f for f in en_features("@bob see http://t.co/x"))
    assert "p::)" in en_features("nice :)")
    assert "w:kindle0" in en_features("Kindle2")


def test_afinn_sums_words_phrases_and_emoticons() -> None:
    assert afinn_sum("good") == 3
    assert afinn_sum("Good, GOOD!") == 6
    # A listed phrase counts once, instead of its words ("does not work" is -3)
    assert afinn_sum("it does not work") == -3
    assert afinn_sum("exam season sucks:(") == -5  # emoticons count even when glued on
    assert afinn_sum("the meeting is on tuesday") == 0
    assert 0 < afinn_score("good") < afinn_score("good good good") < 1


def test_html_entities_are_read_as_text() -> None:
    # Feeds often deliver "<3" as "&lt;3": both lexicon priors see the heart
    assert afinn_sum("I &lt;3 LaTeX") == afinn_sum("I <3 LaTeX") > 0
    (result,) = score(["I &lt;3 LaTeX"])
    assert result.label is Sentiment.POSITIVE


def test_a_model_with_another_number_of_priors_is_refused(tmp_path: Path) -> None:
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["en_params"] = arrays["en_params"][:-1]
    path = tmp_path / "fewer_priors.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="prior weights"):
        load_model(path)


def test_a_model_from_another_feature_version_is_refused(tmp_path: Path) -> None:
    with np.load(DEFAULT_MODEL_PATH, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["feature_version"] = -1
    arrays["meta"] = np.array(json.dumps(meta))
    path = tmp_path / "old.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="retrain"):
        load_model(path)


def test_shipped_model_is_small_and_says_what_trained_it() -> None:
    assert DEFAULT_MODEL_PATH.stat().st_size < 5_000_000
    model = load_model()
    rows = model.meta["training_rows"]
    assert isinstance(rows, dict)
    assert not any("chnsenticorp_std" in key for key in rows)
    assert set(model.languages) == {Language.ZH, Language.EN}

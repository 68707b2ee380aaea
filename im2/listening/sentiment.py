"""Sentiment of mentions (Chinese and English): the pure scoring core.

The shipped model is two linear classifiers (one per language) over sparse binary features,
stored as plain numpy arrays in ``model/sentiment.npz`` (no pickle, loadable with
``allow_pickle=False``). Scoring is a sparse dot product done in numpy, so it needs no ML
library at run time. ``sentiment_train`` builds the file with the same feature functions as
here; a change to a feature function therefore needs a retrained model (``FEATURE_VERSION``).

Labels: the classifiers are binary (P(positive)); *neutral* is the band of P(positive) between
two thresholds stored with the model, or a text that carries no feature the model knows. The
English band is fitted on tweets with a real neutral class (3-class macro-F1, see
``sentiment_train.fit_neutral_band``); the Chinese one has no such data and stays symmetric.
See ``model/PROVENANCE.md``.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

# Re-exported: callers import the enums from here; they live apart so the CLI can use them
# without numpy.
from im2.listening.sentiment_labels import Language as Language
from im2.listening.sentiment_labels import Sentiment as Sentiment

FEATURE_VERSION: Final = 2
MODEL_DIR: Final = Path(__file__).resolve().parent / "model"
DEFAULT_MODEL_PATH: Final = MODEL_DIR / "sentiment.npz"
# The AFINN-en-165 word list and AFINN emoticons (ODbL 1.0, see model/PROVENANCE.md), written
# by ``sentiment_train`` from the `afinn` package, read at run time by ``afinn_score``.
AFINN_PATH: Final = MODEL_DIR / "afinn_en_165.json"
# Per-language parameters before the prior weights: bias, platt_a, platt_b, neutral_low,
# neutral_high (the neutral band of P(positive), inclusive).
PARAMS: Final = 5


@dataclass(frozen=True, slots=True)
class SentimentResult:
    label: Sentiment
    # How sure the model is of `label`, in [0, 1]: for positive/negative the calibrated
    # probability of that label; for neutral, how close the text sits to the band's middle.
    confidence: float
    # Calibrated P(positive | the text is positive or negative), in [0, 1].
    positive_probability: float
    language: Language


# --- text normalisation -------------------------------------------------------------------

# Weibo-style emoticon tags such as [哈哈] or [doge]. In weibo_senti_100k the labels were
# derived from these tags, so a model that sees them learns the labelling rule, not the text.
_EMOTICON_TAG = re.compile(r"\[[^\[\]\s]{1,8}\]")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# "@user" up to a separator: user names carry no sentiment and would only add noise features.
_MENTION = re.compile(r"@[^\s:：,，@]{1,30}")
_REPEAT = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_CJK_RANGES: Final = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_CJK = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def strip_emoticon_tags(text: str) -> str:
    """Remove Weibo emoticon tags (``[哈哈]``, ``[doge]``) and tidy the spaces left behind."""
    return _SPACE.sub(" ", _EMOTICON_TAG.sub(" ", text)).strip()


def detect_language(text: str) -> Language:
    """Chinese when CJK characters outnumber Latin words, else English.

    One Chinese character carries about as much as one English word, hence the comparison.
    Text with neither (digits, emoji) goes to the English model, which knows emoticons.
    """
    cjk = len(_CJK.findall(text))
    if cjk == 0:
        return Language.EN
    return Language.ZH if cjk >= len(_LATIN_WORD.findall(text)) else Language.EN


def nfkc_batch(texts: Sequence[str]) -> list[str]:
    """NFKC of every text with one call over the joined batch (NFKC never creates or merges
    across U+0000, the separator). Normalising again is then nearly free: CPython returns a
    string that passes the quick check as it is."""
    if any("\0" in t for t in texts):
        return [unicodedata.normalize("NFKC", t) for t in texts]
    return unicodedata.normalize("NFKC", "\0".join(texts)).split("\0")


def detect_languages(texts: Sequence[str]) -> list[Language]:
    """`detect_language` for a batch: CJK characters are counted for all texts at once in
    numpy; Latin words are counted (by regex) only where there is a CJK character to compare."""
    n = len(texts)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cjk = np.zeros(len(points), dtype=bool)
    for low, high in _CJK_RANGES:
        cjk |= (points >= low) & (points <= high)
    counts = np.bincount(np.repeat(np.arange(n), lengths)[cjk], minlength=n).tolist()
    return [
        Language.EN if count == 0 or count < len(_LATIN_WORD.findall(text)) else Language.ZH
        for text, count in zip(texts, counts, strict=True)
    ]


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _EMOTICON_TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    # "soooo good" and "好好好好好" should share features with their short forms.
    return _REPEAT.sub(r"\1\1", text)


# --- features -------------------------------------------------------------------------------


_NOT_NEWLINE_SPACE = re.compile(r"[^\S\n]+")


def zh_normalised_batch(texts: Sequence[str]) -> str:
    """The normalised forms of ``zh_features`` for a whole batch, joined by newlines.

    One pass of each regex over the joined batch instead of one per text: none of the patterns
    can match across a newline (they exclude whitespace or use ``.``), ``lower`` treats a newline
    like the end of the text, and newlines inside a text are whitespace that normalisation drops
    anyway, so each segment equals the per-text normalisation.
    """
    joined = "\n".join(t.replace("\n", " ") for t in texts)
    norm = _DIGITS.sub("0", _normalise(joined).lower())
    return _NOT_NEWLINE_SPACE.sub("", norm)


def zh_features(text: str) -> list[str]:
    """Character 1-3 grams of the normalised text (spaces dropped, digits folded to 0)."""
    norm = _SPACE.sub("", _DIGITS.sub("0", _normalise(text).lower()))
    n = len(norm)
    feats = list(norm)
    feats.extend(norm[i : i + 2] for i in range(n - 1))
    feats.extend(norm[i : i + 3] for i in range(n - 2))
    return feats


_EN_TOKEN = re.compile(
    r"""(?:[<>]?[:;=8][\-o*']?[)\](\[dDpP/\\|@3*}{])  # western emoticons :) ;-( :D
      |(?:[)\](\[/\\|][\-o*']?[:;=8])                  # reversed ones (:
      |(?:<3)
      |(?:[A-Za-z0-9]+(?:'[A-Za-z]+)?)
      |(?:[!?])
      |(?:[.,;:]+)
      |(?:[^\sA-Za-z0-9])""",
    re.VERBOSE,
)
_NEGATORS: Final = frozenset(
    {
        "not",
        "no",
        "never",
        "cannot",
        "nothing",
        "nobody",
        "none",
        "neither",
        "nor",
        "without",
        "hardly",
        "barely",
        "aint",
        "cant",
        "dont",
        "wont",
        "isnt",
        "wasnt",
        "didnt",
        "doesnt",
    }
)
_CLAUSE_END: Final = frozenset({".", ",", ";", ":", "!", "?", "but"})
_NEGATION_SPAN: Final = 3


def _is_negator(token: str) -> bool:
    return token in _NEGATORS or token.endswith("n't")


def en_features(text: str) -> list[str]:
    """Word unigrams (marked when negated), word bigrams and emoticon/punctuation tokens.

    Negation marking ("not good" gives ``w:not_good``) is what lets a linear model learn that a
    negated positive word is not positive.
    """
    tokens = []
    for match in _EN_TOKEN.finditer(_normalise(text)):
        tok = match.group()
        # Emoticons keep their case (":D" is not ":d"); words are folded, digits to 0.
        tokens.append(_DIGITS.sub("0", tok.lower()) if tok[:1].isalnum() else tok)
    feats: list[str] = []
    negated = 0
    prev = "<s>"
    for tok in tokens:
        if tok in _CLAUSE_END or tok[:1] in ".,;:":
            negated = 0
        if tok[:1].isalnum():
            feats.append(f"w:not_{tok}" if negated else f"w:{tok}")
            if negated:
                negated -= 1
            if _is_negator(tok):
                negated = _NEGATION_SPAN
        else:
            feats.append(f"p:{tok}")
        feats.append(f"b:{prev} {tok}")
        prev = tok
    return feats


FEATURIZERS: Final = {Language.ZH: zh_features, Language.EN: en_features}


# --- the model -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _vader() -> Callable[[str], dict[str, float]]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    scorer: Callable[[str], dict[str, float]] = SentimentIntensityAnalyzer().polarity_scores
    return scorer


def _unescape(text: str) -> str:
    """HTML entities as many feeds deliver them ("I &lt;3 it", "AT&amp;T") back to text."""
    return html.unescape(text) if "&" in text else text


def vader_compound(text: str) -> float:
    """VADER's compound score in [-1, 1]: human-rated word valences with rules for negation,
    boosters, "but", capitals and punctuation, tuned on social media text (MIT licence)."""
    return float(_vader()(_unescape(text))["compound"])


_AFINN_WORD = re.compile(r"\w+(?:['’]\w+)*")
_AFINN_MAX_WORDS: Final = 3


@lru_cache(maxsize=1)
def _afinn() -> tuple[dict[str, float], re.Pattern[str] | None]:
    data = json.loads(AFINN_PATH.read_text(encoding="utf-8"))
    words: dict[str, float] = {k: float(v) for k, v in data["words"].items()}
    emoticons = sorted(data["emoticons"], key=len, reverse=True)
    # Like the `afinn` package: emoticons match anywhere ("sucks:(" too), longest first.
    pattern = re.compile("|".join(map(re.escape, emoticons))) if emoticons else None
    words.update({f"\0{e}": float(v) for e, v in data["emoticons"].items()})
    return words, pattern


def afinn_sum(text: str) -> float:
    """The AFINN sum of a text: word and phrase valences (-5..5, longest phrase first, no
    overlaps) plus emoticons, as the `afinn` package scores it but with a dictionary walk
    instead of one regular expression of 3,400 alternatives (about ten times faster)."""
    lexicon, emoticons = _afinn()
    text = _unescape(text)
    tokens = _AFINN_WORD.findall(text.lower().replace("’", "'"))
    total = 0.0
    i, n = 0, len(tokens)
    while i < n:
        for width in range(min(_AFINN_MAX_WORDS, n - i), 0, -1):
            value = lexicon.get(" ".join(tokens[i : i + width]))
            if value is not None:
                total += value
                i += width
                break
        else:
            i += 1
    if emoticons is not None:
        total += sum(lexicon[f"\0{m}"] for m in emoticons.findall(text))
    return total


def afinn_score(text: str) -> float:
    """``afinn_sum`` squashed into (-1, 1) (tanh of the sum over 4), so one strong word is
    about 0.5 and a pile of them saturates, as VADER's compound does."""
    return float(np.tanh(afinn_sum(text) / 4.0))


# Dense priors per language, whose weights the training learns next to the sparse features.
# English has little labelled text we may train on, so the learned words only correct these.
PRIORS: Final[dict[Language, tuple[Callable[[str], float], ...]]] = {
    Language.EN: (vader_compound, afinn_score)
}


def prior_matrix(lang: Language, texts: Sequence[str]) -> npt.NDArray[np.float64]:
    """The language's prior scores, one row per text and one column per prior."""
    priors = PRIORS.get(lang, ())
    out = np.zeros((len(texts), len(priors)))
    for j, prior in enumerate(priors):
        out[:, j] = [prior(t) for t in texts]
    return out


@dataclass(frozen=True, slots=True)
class LanguageModel:
    """One language's linear classifier.

    score = bias + sum(weights[f]) / sqrt(sum(norms[f])) over the distinct known features f
    (the L2-normalised, idf-weighted dot product, folded so inference is two lookups)
    + sum(prior_weights[j] * prior_j(text)) over the language's ``PRIORS`` (if any), then
    P(positive) = sigmoid(platt_a * score + platt_b); neutral when
    neutral_low <= P(positive) <= neutral_high.
    """

    language: Language
    vocabulary: dict[str, int]
    weights: npt.NDArray[np.float64]
    norms: npt.NDArray[np.float64]
    bias: float
    platt_a: float
    platt_b: float
    neutral_low: float
    neutral_high: float
    prior_weights: npt.NDArray[np.float64]

    # For character n-gram models: the vocabulary as a numpy hash table of integer n-grams
    # (see `GramTable`), so a whole batch is looked up at once.
    grams: GramTable | None = None

    def feature_ids(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], ...]:
        """(row, column) of every distinct known feature of every text."""
        if self.grams is not None:
            return _char_gram_ids(texts, self.grams)
        featurize = FEATURIZERS[self.language]
        lookup = self.vocabulary.get
        rows: list[int] = []
        cols: list[int] = []
        for row, text in enumerate(texts):
            ids = {lookup(f) for f in featurize(text)}
            ids.discard(None)
            cols.extend(ids)  # type: ignore[arg-type]  # None was discarded above
            rows.extend([row] * len(ids))
        return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)

    def probabilities(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float64], list[bool]]:
        """P(positive) per text, and whether the text had any known feature at all."""
        n = len(texts)
        dense = prior_matrix(self.language, texts)
        row_arr, col_arr = self.feature_ids(texts)
        dots = np.bincount(row_arr, weights=self.weights[col_arr], minlength=n)
        sq = np.bincount(row_arr, weights=self.norms[col_arr], minlength=n)
        known = (sq > 0) | (dense != 0).any(axis=1)
        raw = self.bias + np.divide(dots, np.sqrt(sq), out=np.zeros(n), where=sq > 0)
        raw += dense @ self.prior_weights
        prob = 1.0 / (1.0 + np.exp(-(self.platt_a * raw + self.platt_b)))
        return prob, known.tolist()


_GRAM_BITS: Final = 21  # every code point fits in 21 bits
_SEPARATOR: Final = ord("\n")


def _gram_keys(grams: Sequence[str]) -> npt.NDArray[np.uint64]:
    """Character 1-3 grams as integers: c1 | c2 << 21 | c3 << 42, exact. Grams of different
    lengths could only meet through a trailing U+0000 ("ab\\0" is "ab"), and then the shorter
    gram is in the same text anyway, so a text's set of distinct features is unchanged."""
    points = np.array(grams, dtype="<U3").view(np.uint32).reshape(len(grams), 3)
    points = points.astype(np.uint64)
    keys: npt.NDArray[np.uint64] = points[:, 0] | points[:, 1] << np.uint64(_GRAM_BITS)
    keys |= points[:, 2] << np.uint64(2 * _GRAM_BITS)
    return keys


_EMPTY: Final = np.uint64(2**64 - 1)  # no n-gram key has the top bit set
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)


class GramTable:
    """Open-addressing hash table (linear probing, load ≤ 1/4) from n-gram keys to vocabulary
    columns, built and probed with whole-array numpy operations: a binary search over 200,000
    keys costs a cache miss per step, a probe here about one in all."""

    def __init__(self, keys: npt.NDArray[np.uint64]) -> None:
        bits = max(4, int(len(keys) * 4).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = np.int64((1 << bits) - 1)
        self.keys = np.full(1 << bits, _EMPTY, dtype=np.uint64)
        self.columns = np.full(1 << bits, -1, dtype=np.int64)
        pending = np.arange(len(keys), dtype=np.int64)
        slots = self._slots(keys)
        while len(pending):
            at = slots[pending]
            free = self.keys[at] == _EMPTY
            taken, first = np.unique(at[free], return_index=True)
            placed = pending[free][first]
            self.keys[taken], self.columns[taken] = keys[placed], placed
            pending = pending[self.columns[at] != pending]
            slots[pending] = (slots[pending] + 1) & self._mask

    def _slots(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        with np.errstate(over="ignore"):
            return ((keys * _GOLDEN) >> self._shift).astype(np.int64)

    def lookup(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """The column of each key, -1 where it is not in the vocabulary."""
        found = np.full(len(keys), -1, dtype=np.int64)
        slots = self._slots(keys)
        active = np.arange(len(keys), dtype=np.int64)
        while len(active):
            at = slots[active]
            stored = self.keys[at]
            hit = stored == keys[active]
            found[active[hit]] = self.columns[at[hit]]
            active = active[~hit & (stored != _EMPTY)]
            slots[active] = (slots[active] + 1) & self._mask
        return found


def _char_gram_ids(
    texts: Sequence[str], table: GramTable
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``zh_features`` + vocabulary lookup for a whole batch in numpy: the batch is normalised
    in one pass, its code points become 1-, 2- and 3-gram integers (n-grams that would span two
    texts are dropped), and the known ones are found in the hash table."""
    points = np.frombuffer(
        zh_normalised_batch(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32
    )
    points = points.astype(np.uint64)
    is_sep = points == _SEPARATOR
    row_of = np.cumsum(is_sep)  # separators get the next row's number, but are masked out
    ok1 = ~is_sep
    ok2 = ok1[:-1] & ok1[1:]
    ok3 = ok2[:-1] & ok1[2:]
    shift1, shift2 = np.uint64(_GRAM_BITS), np.uint64(2 * _GRAM_BITS)
    grams = np.concatenate(
        (
            points[ok1],
            (points[:-1] | points[1:] << shift1)[ok2],
            (points[:-2] | points[1:-1] << shift1 | points[2:] << shift2)[ok3],
        )
    )
    rows = np.concatenate((row_of[ok1], row_of[:-1][ok2], row_of[:-2][ok3])).astype(np.int64)
    columns = table.lookup(grams)
    hit = columns >= 0
    width = np.int64(len(table.columns))
    pairs = np.sort(rows[hit] * width + columns[hit])
    if len(pairs):
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]  # distinct per text
    return pairs // width, pairs % width


@dataclass(frozen=True, slots=True)
class SentimentModel:
    languages: dict[Language, LanguageModel]
    meta: dict[str, object]

    def score(
        self, texts: Sequence[str], *, language: Language | str | None = None
    ) -> list[SentimentResult]:
        """One result per text, in order; `language` ("zh"/"en") forces one model, otherwise
        each text's script decides. Raises ValueError for a language the model lacks."""
        forced = _language(language)
        langs = [forced] * len(texts) if forced else detect_languages(texts)
        by_row: dict[int, SentimentResult] = {}
        for lang in dict.fromkeys(langs):
            model = self.languages.get(lang)
            if model is None:
                raise ValueError(f"this sentiment model has no {lang} classifier")
            idx = [i for i, lg in enumerate(langs) if lg == lang]
            probs, known = model.probabilities([texts[i] for i in idx])
            for i, p, has_features in zip(idx, probs.tolist(), known, strict=True):
                by_row[i] = _result(p, has_features, model.neutral_low, model.neutral_high, lang)
        return [by_row[i] for i in range(len(texts))]  # every row or a KeyError, never fewer


def _language(language: Language | str | None) -> Language | None:
    """`language` as the enum (its string value is accepted too); ValueError when unknown."""
    if language is None:
        return None
    try:
        return Language(language)
    except ValueError:
        known = ", ".join(repr(str(lg)) for lg in Language)
        raise ValueError(f"unknown language {language!r}; use one of {known}") from None


def label_probability(
    p: float, neutral_low: float, neutral_high: float, lang: Language
) -> SentimentResult:
    """Label a calibrated P(positive) with a neutral band (for derived models)."""
    return _result(p, True, neutral_low, neutral_high, lang)


def _result(
    p: float, has_features: bool, neutral_low: float, neutral_high: float, lang: Language
) -> SentimentResult:
    p = min(1.0, max(0.0, p))
    if not has_features or neutral_low <= p <= neutral_high:
        # Confidence of neutral: 1 at the band's middle, falling to 0 at p = 0 or 1.
        middle = (neutral_low + neutral_high) / 2.0
        half = middle if p <= middle else 1.0 - middle
        return SentimentResult(Sentiment.NEUTRAL, 1.0 - abs(p - middle) / half, p, lang)
    if p > neutral_high:
        return SentimentResult(Sentiment.POSITIVE, p, p, lang)
    return SentimentResult(Sentiment.NEGATIVE, 1.0 - p, p, lang)


def language_model(
    lang: Language,
    *,
    vocabulary: list[str],
    weights: npt.NDArray[np.floating],
    norms: npt.NDArray[np.floating],
    params: npt.NDArray[np.floating],
) -> LanguageModel:
    """One language's classifier from the arrays the model file stores."""
    grams = None
    if FEATURIZERS[lang] is zh_features and all(len(t) <= 3 for t in vocabulary):
        grams = GramTable(_gram_keys(vocabulary))  # all 1-3 character grams: batch lookup
    return LanguageModel(
        grams=grams,
        language=lang,
        vocabulary={token: i for i, token in enumerate(vocabulary)},
        weights=np.asarray(weights, dtype=np.float64),
        norms=np.asarray(norms, dtype=np.float64),
        bias=float(params[0]),
        platt_a=float(params[1]),
        platt_b=float(params[2]),
        neutral_low=float(params[3]),
        neutral_high=float(params[4]),
        prior_weights=np.asarray(params[PARAMS:], dtype=np.float64),
    )


def load_model(path: Path = DEFAULT_MODEL_PATH) -> SentimentModel:
    """Read a model file written by ``sentiment_train`` (plain arrays, no pickle)."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("feature_version") != FEATURE_VERSION:
            raise ValueError(
                f"{path} was trained with feature version {meta.get('feature_version')}, "
                f"this code extracts version {FEATURE_VERSION}: retrain it with "
                "`python -m im2.listening.sentiment_train`"
            )
        languages: dict[Language, LanguageModel] = {}
        for lang in Language:
            if f"{lang}_vocabulary" not in data:
                continue
            params = data[f"{lang}_params"].astype(np.float64)
            if len(params) != PARAMS + len(PRIORS.get(lang, ())):
                raise ValueError(
                    f"{path}: {lang} has {len(params) - PARAMS} prior weights, the code "
                    f"{len(PRIORS.get(lang, ()))}: retrain it"
                )
            languages[lang] = language_model(
                lang,
                vocabulary=data[f"{lang}_vocabulary"].tolist(),
                weights=data[f"{lang}_weights"],
                norms=data[f"{lang}_norms"],
                params=params,
            )
    return SentimentModel(languages=languages, meta=meta)


@lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """The shipped model, read once per process."""
    return load_model(DEFAULT_MODEL_PATH)


def score(texts: Iterable[str], *, language: Language | str | None = None) -> list[SentimentResult]:
    """Score texts with the shipped model: one result per text, in order. Empty or
    unknown-feature texts come back neutral; an unknown `language` raises ValueError."""
    return default_model().score(list(texts), language=language)

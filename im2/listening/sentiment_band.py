"""The English neutral band: two thresholds on P(positive), chosen for 3-class macro-F1 on
tweets with a real neutral class, and the cross-validation of that choice. See
`sentiment_train` for where it is fitted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from im2.listening.sentiment import LanguageModel
from im2.listening.sentiment_corpora import norm_key

# Neutral band of P(positive) where no data with a neutral class exists (Chinese): the old
# "calibrated confidence under 0.65" rule. English fits its band on TweetEval (below).
DEFAULT_BAND: Final = (0.35, 0.65)
BAND_GRID: Final = np.round(np.arange(0.05, 0.951, 0.025), 3)  # candidate band edges
BAND_FOLDS: Final = 5


# --- the neutral band -------------------------------------------------------------------------

THREE_CLASS: Final = (0, 1, 2)  # negative, neutral, positive


def band_labels(
    p: npt.NDArray[np.float64], known: npt.NDArray[np.bool_], low: float, high: float
) -> npt.NDArray[np.int64]:
    """3-class labels as ``sentiment._result`` gives them: neutral inside [low, high] or when
    the text has no known feature."""
    labels = np.where(p < low, 0, np.where(p > high, 2, 1))
    labels[~known] = 1
    return labels


def macro_f1(predicted: Sequence[int] | npt.NDArray[np.int64], truth: Sequence[int]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=THREE_CLASS, average="macro", zero_division=0))


@dataclass(frozen=True, slots=True)
class Band:
    low: float
    high: float
    macro_f1: float  # on the rows it was fitted on


def fit_neutral_band(
    p: npt.NDArray[np.float64], known: npt.NDArray[np.bool_], truth: npt.NDArray[np.int64]
) -> Band:
    """The (low, high) on ``BAND_GRID`` with the best 3-class macro-F1 (first best on a tie,
    so the fit is the same on every machine). A coarse grid: two numbers fitted on a couple of
    thousand tweets should not chase single rows. Each candidate is scored from a confusion
    matrix counted with numpy (sklearn's f1_score per candidate took seconds); the winner's
    figure is sklearn's."""
    best = (-1.0, *DEFAULT_BAND)
    for i, low in enumerate(BAND_GRID):
        for high in BAND_GRID[i:]:
            predicted = band_labels(p, known, float(low), float(high))
            counts = np.bincount(truth * 3 + predicted, minlength=9).reshape(3, 3)
            hits = np.diag(counts)
            denominator = counts.sum(axis=0) + counts.sum(axis=1)
            f1 = np.divide(2 * hits, denominator, out=np.zeros(3), where=denominator > 0)
            if f1.mean() > best[0] + 1e-12:
                best = (float(f1.mean()), float(low), float(high))
    _, low, high = best
    return Band(low, high, macro_f1(band_labels(p, known, low, high), truth.tolist()))


def band_folds(texts: Sequence[str], folds: int = BAND_FOLDS) -> npt.NDArray[np.int64]:
    """Deterministic fold of each text (a hash of its normalised form)."""
    return np.array(
        [hashlib.sha256(norm_key(t).encode("utf-8")).digest()[1] % folds for t in texts]
    )


@dataclass(frozen=True, slots=True)
class BandCV:
    macro_f1_heldout: float  # mean over the folds
    default_band_macro_f1_heldout: float
    fold_bands: list[tuple[float, float]]
    predicted: npt.NDArray[np.int64]  # each row's label from the band fitted without its fold


def cross_validate_band(
    p: npt.NDArray[np.float64],
    known: npt.NDArray[np.bool_],
    truth: npt.NDArray[np.int64],
    folds: npt.NDArray[np.int64],
) -> BandCV:
    """Held-out 3-class macro-F1 of fitting the band: fit on four folds, score the fifth.
    The default band is scored on the same folds, so the gain of fitting is visible."""
    fitted: list[float] = []
    default: list[float] = []
    bands: list[tuple[float, float]] = []
    predicted = np.zeros(len(truth), dtype=np.int64)
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        band = fit_neutral_band(p[train], known[train], truth[train])
        bands.append((band.low, band.high))
        predicted[test] = band_labels(p[test], known[test], band.low, band.high)
        fitted.append(macro_f1(predicted[test], truth[test].tolist()))
        default.append(
            macro_f1(band_labels(p[test], known[test], *DEFAULT_BAND), truth[test].tolist())
        )
    return BandCV(float(np.mean(fitted)), float(np.mean(default)), bands, predicted)


def english_band(
    model: LanguageModel, rows: Sequence[tuple[str, int]]
) -> tuple[Band, dict[str, object]]:
    """The English band fitted on all of `rows`, and the 5-fold figures of that procedure."""
    texts = [t for t, _ in rows]
    truth = np.array([y for _, y in rows], dtype=np.int64)
    p, known_list = model.probabilities(texts)
    known = np.asarray(known_list, dtype=bool)
    band = fit_neutral_band(p, known, truth)
    cv = cross_validate_band(p, known, truth, band_folds(texts))
    return band, {
        "low": band.low,
        "high": band.high,
        "fitted_on": f"en_tweeteval_sentiment_val, {len(rows)} tweets",
        "macro_f1_in_sample": round(band.macro_f1, 4),
        "macro_f1_heldout": round(cv.macro_f1_heldout, 4),
        "default_band_macro_f1_heldout": round(cv.default_band_macro_f1_heldout, 4),
        "fold_bands": cv.fold_bands,
    }

"""A workspace's own sentiment model, retrained from the corrections its people made.

The shipped model knows general Chinese and English; a brand's mentions have their own words
(product names, slang, the sarcasm of its fans). Every correction in the inbox or the mention
list is kept (`SentimentCorrection`); retraining fits, on top of the shipped model,

    P(positive) = sigmoid(a · logit(shipped P(positive)) + b + Σ w_f over the text's features)

with the same features as the shipped model (character 1-3 grams for Chinese, words and
bigrams with negation for English). a starts at 1 and b and every w at 0, and an L2 penalty
pulls them back there, so with few corrections the variant stays the shipped model and moves
only where the corrections insist. The fit is a logistic regression solved by SciPy's L-BFGS.

The corrections are split by a hash of their text: one in four is held out, never trained on,
and both models are scored on it (three classes: neutral counts), so the brand sees whether
the variant is better before it is used. The newest active variant scores the workspace's new
mentions (`ingest.store_mentions`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import optimize, sparse
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening import sentiment as sentiment_model
from im2.listening.models import SentimentCorrection, SentimentVariant
from im2.listening.schemas import SentimentLabel
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

HELD_OUT_BUCKETS: Final = 4  # one correction in four is held out for the before/after figure
MIN_TRAIN: Final = 8  # positive or negative corrections needed in the training part
MIN_TEST: Final = 4  # corrections needed in the held-out part
FEATURE_PENALTY: Final = 1.0  # L2 strength on the feature weights
SHIFT_PENALTY: Final = 4.0  # L2 strength pulling a to 1 and b to 0
_EPS: Final = 1e-6


def is_held_out(text: str) -> bool:
    """Deterministic split by the text, so a retrain on more corrections keeps old test rows."""
    key = sentiment_model.nfkc_batch([text])[0].strip().lower()
    return hashlib.sha256(key.encode("utf-8")).digest()[0] % HELD_OUT_BUCKETS == 0


@dataclass(frozen=True, slots=True)
class Correction:
    text: str
    label: SentimentLabel


@dataclass(frozen=True, slots=True)
class CorrectionSummary:
    total: int  # corrections kept, every one (a mention corrected twice counts twice)
    distinct: int  # mentions (or texts) with a correction: the latest one counts
    by_label: dict[SentimentLabel, int]
    training: int  # positive/negative corrections a retrain would learn from
    held_out: int  # corrections it would be judged on
    needed_training: int
    needed_held_out: int

    @property
    def ready(self) -> bool:
        return self.training >= self.needed_training and self.held_out >= self.needed_held_out


@dataclass(frozen=True, slots=True)
class VariantRead:
    id: int
    corrections: int
    train_rows: int
    test_rows: int
    accuracy_before: float
    accuracy_after: float
    features: int
    active: bool
    created_by: str
    created_at: datetime


def _latest_corrections(session: Session, workspace_id: int) -> tuple[int, list[Correction]]:
    rows = session.execute(
        select(SentimentCorrection.mention_id, SentimentCorrection.text, SentimentCorrection.label)
        .where(SentimentCorrection.workspace_id == workspace_id)
        .order_by(SentimentCorrection.id)
    ).all()
    latest: dict[object, Correction] = {}
    for mention_id, text, label in rows:
        key = mention_id if mention_id is not None else ("text", text)
        latest.pop(key, None)  # re-inserted at the end: the newest correction wins
        latest[key] = Correction(text, SentimentLabel(label))
    return len(rows), list(latest.values())


def _split(corrections: Sequence[Correction]) -> tuple[list[Correction], list[Correction]]:
    train: list[Correction] = []
    test: list[Correction] = []
    for c in corrections:
        (test if is_held_out(c.text) else train).append(c)
    return [c for c in train if c.label is not SentimentLabel.NEUTRAL], test


def correction_summary(session: Session, *, actor: Actor) -> CorrectionSummary:
    require(actor, Permission.READ_CAMPAIGNS)
    total, latest = _latest_corrections(session, actor.workspace_id)
    train, test = _split(latest)
    return CorrectionSummary(
        total=total,
        distinct=len(latest),
        by_label={label: sum(c.label is label for c in latest) for label in SentimentLabel},
        training=len(train),
        held_out=len(test),
        needed_training=MIN_TRAIN,
        needed_held_out=MIN_TEST,
    )


# --- the overlay model ----------------------------------------------------------------------


def _features(text: str, language: sentiment_model.Language) -> set[str]:
    return {f"{language}:{f}" for f in sentiment_model.FEATURIZERS[language](text)}


def _logit(p: float) -> float:
    p = min(1.0 - _EPS, max(_EPS, p))
    return math.log(p / (1.0 - p))


@dataclass(frozen=True, slots=True)
class Overlay:
    """The learned correction on top of the shipped model (stored as JSON on the variant)."""

    shipped_weight: float
    bias: float
    features: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "shipped_weight": self.shipped_weight,
            "bias": self.bias,
            "features": self.features,
            "shipped_model": sentiment_model.DEFAULT_MODEL_PATH.name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Overlay:
        return cls(
            float(data["shipped_weight"]),
            float(data["bias"]),
            {str(k): float(v) for k, v in data["features"].items()},
        )

    def score(self, texts: Sequence[str]) -> list[sentiment_model.SentimentResult]:
        model = sentiment_model.default_model()
        results = []
        for text, base in zip(texts, model.score(texts), strict=True):
            lang = base.language
            raw = self.shipped_weight * _logit(base.positive_probability) + self.bias
            if self.features:
                raw += sum(self.features.get(f, 0.0) for f in _features(text, lang))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, raw))))
            shipped = model.languages[lang]
            results.append(
                sentiment_model.label_probability(
                    p, shipped.neutral_low, shipped.neutral_high, lang
                )
            )
        return results


def _label(result: sentiment_model.SentimentResult) -> SentimentLabel:
    return SentimentLabel(result.label.value)


def fit_overlay(train: Sequence[Correction]) -> Overlay:
    """L2-regularised logistic regression around the shipped model (see the module doc)."""
    model = sentiment_model.default_model()
    texts = [c.text for c in train]
    base = model.score(texts)
    z = np.array([_logit(r.positive_probability) for r in base])
    y = np.array([1.0 if c.label is SentimentLabel.POSITIVE else 0.0 for c in train])
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for i, (text, r) in enumerate(zip(texts, base, strict=True)):
        for f in _features(text, r.language):
            cols.append(vocab.setdefault(f, len(vocab)))
            rows.append(i)
    x = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(train), len(vocab)), dtype=np.float64
    )

    def loss(params: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        a, b, w = params[0], params[1], params[2:]
        s = a * z + b + x @ w
        # log(1 + e^s) - y·s, written to stay finite for large |s|
        value = float(np.sum(np.logaddexp(0.0, s) - y * s))
        value += 0.5 * FEATURE_PENALTY * float(w @ w)
        value += 0.5 * SHIFT_PENALTY * ((a - 1.0) ** 2 + b**2)
        g = 1.0 / (1.0 + np.exp(-s)) - y
        grad = np.concatenate(
            (
                [float(g @ z) + SHIFT_PENALTY * (a - 1.0), float(g.sum()) + SHIFT_PENALTY * b],
                x.T @ g + FEATURE_PENALTY * w,
            )
        )
        return value, grad

    start = np.concatenate(([1.0, 0.0], np.zeros(len(vocab))))
    fitted = optimize.minimize(loss, start, jac=True, method="L-BFGS-B")
    weights = fitted.x[2:]
    names = list(vocab)
    kept = {names[i]: round(float(w), 5) for i, w in enumerate(weights) if abs(w) >= 1e-4}
    return Overlay(float(fitted.x[0]), float(fitted.x[1]), kept)


def _accuracy(predicted: Sequence[SentimentLabel], wanted: Sequence[Correction]) -> float:
    return sum(p is c.label for p, c in zip(predicted, wanted, strict=True)) / len(wanted)


def _read(v: SentimentVariant) -> VariantRead:
    return VariantRead(
        id=v.id,
        corrections=v.corrections,
        train_rows=v.train_rows,
        test_rows=v.test_rows,
        accuracy_before=v.accuracy_before,
        accuracy_after=v.accuracy_after,
        features=len(v.overlay.get("features", {})),
        active=v.active,
        created_by=v.created_by,
        created_at=v.created_at,
    )


def list_variants(session: Session, *, actor: Actor, limit: int = 20) -> list[VariantRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    rows = session.scalars(
        select(SentimentVariant)
        .where(SentimentVariant.workspace_id == actor.workspace_id)
        .order_by(SentimentVariant.id.desc())
        .limit(limit)
    )
    return [_read(v) for v in rows]


def do_retrain(session: Session, *, actor: Actor, now: datetime) -> VariantRead:
    """Fit a variant on the training part of the corrections, score both models on the held-out
    part, store it and make it the one new mentions use."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    total, latest = _latest_corrections(session, actor.workspace_id)
    train, test = _split(latest)
    if len(train) < MIN_TRAIN or len(test) < MIN_TEST:
        raise InvalidInput(
            _(
                "Retraining needs at least {train} positive or negative corrections to learn "
                "from and {test} held-out corrections to check the result; there are {have_train} "
                "and {have_test}. Correct more mentions first."
            ).format(train=MIN_TRAIN, test=MIN_TEST, have_train=len(train), have_test=len(test))
        )
    overlay = fit_overlay(train)
    texts = [c.text for c in test]
    before = _accuracy([_label(r) for r in sentiment_model.score(texts)], test)
    after = _accuracy([_label(r) for r in overlay.score(texts)], test)
    session.execute(
        update(SentimentVariant)
        .where(SentimentVariant.workspace_id == actor.workspace_id, SentimentVariant.active)
        .values(active=False)
    )
    variant = SentimentVariant(
        workspace_id=actor.workspace_id,
        overlay=overlay.to_json(),
        corrections=total,
        train_rows=len(train),
        test_rows=len(test),
        accuracy_before=round(before, 4),
        accuracy_after=round(after, 4),
        active=True,
        created_by=actor.label,
        created_at=now,
    )
    session.add(variant)
    session.flush()
    summary = {
        "variant_id": variant.id,
        "train_rows": len(train),
        "test_rows": len(test),
        "accuracy_before": variant.accuracy_before,
        "accuracy_after": variant.accuracy_after,
    }
    record_audit(
        session,
        actor,
        "listening.sentiment.retrain",
        ("sentiment_variant", variant.id),
        _("Sentiment model retrained from corrections"),
        now=now,
        after=summary,
    )
    record_event(
        session,
        kind=EventKind.SENTIMENT_RETRAINED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        actor_type=actor.type,
        actor_id=actor.id,
        channel="console",
        properties=summary,
    )
    return _read(variant)


def do_set_variant_active(
    session: Session, *, actor: Actor, variant_id: int, active: bool, now: datetime
) -> VariantRead:
    """Stop using a variant (back to the shipped model), or use an earlier one again."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    variant = owned_row(
        session, SentimentVariant, variant_id, actor=actor, missing=_("Model variant not found.")
    )
    before = variant.active
    if active:
        session.execute(
            update(SentimentVariant)
            .where(
                SentimentVariant.workspace_id == actor.workspace_id,
                SentimentVariant.active,
                SentimentVariant.id != variant_id,
            )
            .values(active=False)
        )
    variant.active = active
    session.flush()
    record_audit(
        session,
        actor,
        "listening.sentiment.variant",
        ("sentiment_variant", variant.id),
        _("Sentiment model variant switched on")
        if active
        else _("Sentiment model variant switched off"),
        now=now,
        before={"active": before},
        after={"active": active},
    )
    return _read(variant)


# --- scoring new mentions ------------------------------------------------------------------


_OVERLAYS: dict[int, Overlay] = {}  # variants never change once stored: parse each once


def active_overlay(session: Session, *, workspace_id: int) -> Overlay | None:
    """The workspace's active variant, or None for the shipped model."""
    variant_id = session.scalar(
        select(SentimentVariant.id).where(
            SentimentVariant.workspace_id == workspace_id, SentimentVariant.active
        )
    )
    if variant_id is None:
        return None
    if variant_id not in _OVERLAYS:
        stored = session.scalar(
            select(SentimentVariant.overlay).where(SentimentVariant.id == variant_id)
        )
        _OVERLAYS[variant_id] = Overlay.from_json(stored or {})
    return _OVERLAYS[variant_id]

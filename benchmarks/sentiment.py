"""Benchmark the shipped sentiment model (im2.listening.sentiment) against SnowNLP and VADER.

Accuracy, each baseline measured in the same run on the same rows:

- Chinese, against SnowNLP (positive when ``SnowNLP(text).sentiments > 0.5``):
  * chnsenticorp_std dev (1,200 rows). The shipped model never trained on chnsenticorp_std
    (licence) nor on any text matching it. SnowNLP's own training set contains 959 of these
    1,200 dev texts, so its figure here is a training-set figure, flattering to it.
  * waimai_10k and the weibo_senti_100k subset: only the held-out 20 % chosen by
    ``sentiment_train.is_held_out`` (training never saw them). Weibo emoticon tags such as
    ``[哈哈]`` are stripped (they leak the label), for both models.
- English, against VADER (positive when compound >= 0.05, VADER's documented threshold):
  Sentiment140 manual test, positive vs negative rows (359); and all 498 rows 3-class, VADER
  with its documented ±0.05 neutral band, ours with the model's calibrated neutral band.
  No weight or threshold is fitted on these rows; the English designs compared on them are
  listed, with their figures, in ``im2/listening/model/PROVENANCE.md``.

Throughput: texts per second of ``SentimentModel.score`` on one core (process pinned to one
CPU), over a mix of the evaluation texts, model load excluded (reported separately); SnowNLP
and VADER per-text speeds on the same mix for scale.

Usage: python benchmarks/sentiment.py [--quick] [--model PATH]. --quick takes at most 300 rows
per set and a smaller throughput run (under a minute). The last line printed is one JSON object.
When /work/shared/data is absent, says so and prints a JSON line with empty targets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from im2.listening.sentiment import DEFAULT_MODEL_PATH, Sentiment, SentimentModel, load_model
from im2.listening.sentiment_train import (
    chnsenticorp_std,
    is_held_out,
    sentiment140,
    waimai,
    weibo,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
QUICK_ROWS = 300
MARGIN = 0.05  # targets: five accuracy points above the baseline
MIN_THROUGHPUT = 2000.0


def _subsample(rows: list[tuple[str, int]], quick: bool) -> list[tuple[str, int]]:
    # Every k-th row keeps the label balance and is the same on every run.
    if not quick or len(rows) <= QUICK_ROWS:
        return rows
    step = len(rows) / QUICK_ROWS
    return [rows[int(i * step)] for i in range(QUICK_ROWS)]


def _accuracy(predicted: Sequence[object], truth: Sequence[object]) -> float:
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def _ours_binary(model: SentimentModel, texts: Sequence[str]) -> list[int]:
    # Binary figures use the sign of the calibrated probability; neutral is a 3-class notion.
    return [int(r.positive_probability >= 0.5) for r in model.score(texts)]


def _snownlp() -> Callable[[str], float]:
    from snownlp import SnowNLP

    return lambda text: float(SnowNLP(text).sentiments)


def _vader() -> Callable[[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda text: float(analyzer.polarity_scores(text)["compound"])


def _per_second(fn: Callable[[Sequence[str]], object], texts: Sequence[str]) -> float:
    start = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - start)


def run(quick: bool, model_path: Path) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    t0 = time.perf_counter()
    model = load_model(model_path)
    load_seconds = time.perf_counter() - t0
    snow, vader = _snownlp(), _vader()

    zh_sets = {
        "chnsenticorp_std_dev": [(e.text, e.label) for e in chnsenticorp_std(DATA, "dev")],
        "waimai_heldout": [(e.text, e.label) for e in waimai(DATA) if is_held_out(e.text)],
        "weibo_heldout": [(e.text, e.label) for e in weibo(DATA) if is_held_out(e.text)],
    }
    figures: dict[str, Any] = {"quick": quick, "model_load_seconds": round(load_seconds, 3)}
    targets: dict[str, Any] = {}
    mix: list[str] = []
    for name, all_rows in zh_sets.items():
        rows = _subsample(all_rows, quick)
        texts, truth = [t for t, _ in rows], [y for _, y in rows]
        mix.extend(texts)
        ours = _accuracy(_ours_binary(model, texts), truth)
        base = _accuracy([int(snow(t) > 0.5) for t in texts], truth)
        figures[name] = {"rows": len(rows), "im2": round(ours, 4), "snownlp": round(base, 4)}
        print(f"{name:24s} rows {len(rows):5d}  im2 {ours:.4f}  snownlp {base:.4f}")
        targets[f"{name}_accuracy"] = {
            "value": round(ours, 4),
            "target": f">= snownlp + 5 pts ({base + MARGIN:.4f})",
            "met": ours >= base + MARGIN,
        }

    s140 = sentiment140(DATA)
    polar = _subsample([(t, int(p == 4)) for t, p in s140 if p != 2], quick)
    texts, truth = [t for t, _ in polar], [y for _, y in polar]
    mix.extend(t for t, _ in s140)
    ours = _accuracy(_ours_binary(model, texts), truth)
    base = _accuracy([int(vader(t) >= 0.05) for t in texts], truth)
    figures["sentiment140_binary"] = {
        "rows": len(polar),
        "im2": round(ours, 4),
        "vader": round(base, 4),
    }
    print(f"{'sentiment140_binary':24s} rows {len(polar):5d}  im2 {ours:.4f}  vader {base:.4f}")
    targets["sentiment140_binary_accuracy"] = {
        "value": round(ours, 4),
        "target": f">= vader + 5 pts ({base + MARGIN:.4f})",
        "met": ours >= base + MARGIN,
    }
    three = {0: Sentiment.NEGATIVE, 2: Sentiment.NEUTRAL, 4: Sentiment.POSITIVE}
    truth3 = [three[p] for _, p in s140]
    ours3 = [r.label for r in model.score([t for t, _ in s140])]
    vader3 = [
        Sentiment.POSITIVE if c >= 0.05 else Sentiment.NEGATIVE if c <= -0.05 else Sentiment.NEUTRAL
        for c in (vader(t) for t, _ in s140)
    ]
    figures["sentiment140_3class"] = {
        "rows": len(s140),
        "im2": round(_accuracy(ours3, truth3), 4),
        "vader": round(_accuracy(vader3, truth3), 4),
        "im2_macro_f1": round(_macro_f1(ours3, truth3), 4),
        "vader_macro_f1": round(_macro_f1(vader3, truth3), 4),
        "im2_predicted_neutral_share": round(ours3.count(Sentiment.NEUTRAL) / len(s140), 4),
    }
    print(f"{'sentiment140_3class':24s} {figures['sentiment140_3class']}")

    # Throughput: repeat the mix to a fixed size so short and long texts are both represented.
    size = 5_000 if quick else 50_000
    batch = (mix * (size // len(mix) + 1))[:size]
    model.score(batch[:1000])  # warm caches (regexes, vocabulary pages)
    rate = _per_second(model.score, batch)
    sample = batch[: 300 if quick else 2000]
    snow_rate = _per_second(lambda ts: [snow(t) for t in ts], sample)
    vader_rate = _per_second(lambda ts: [vader(t) for t in ts], sample)
    figures["throughput_texts_per_second"] = {
        "im2": round(rate),
        "snownlp": round(snow_rate),
        "vader": round(vader_rate),
        "texts": len(batch),
    }
    print(
        f"throughput (1 core): im2 {rate:,.0f}/s  snownlp {snow_rate:,.0f}/s  "
        f"vader {vader_rate:,.0f}/s"
    )
    targets["throughput_texts_per_second"] = {
        "value": round(rate),
        "target": f">= {MIN_THROUGHPUT:,.0f}",
        "met": rate >= MIN_THROUGHPUT,
    }
    return {"benchmark": "sentiment", "figures": figures, "targets": targets}


def _macro_f1(predicted: Sequence[Sentiment], truth: Sequence[Sentiment]) -> float:
    scores = []
    for label in Sentiment:
        tp = sum(p == label and t == label for p, t in zip(predicted, truth, strict=True))
        fp = sum(p == label and t != label for p, t in zip(predicted, truth, strict=True))
        fn = sum(p != label and t == label for p, t in zip(predicted, truth, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"{DATA} is absent: no evaluation data, nothing measured")
        print(json.dumps({"benchmark": "sentiment", "figures": {}, "targets": {}}))
        return 0
    result = run(args.quick, args.model)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

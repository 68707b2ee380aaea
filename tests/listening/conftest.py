"""Listening fixtures: a predictable stand-in for the sentiment model, and shared helpers.

The shipped model is evaluated in its own tests and benchmark; here the question is what the
listening flow does with a label (inbox rules, alerts, dashboards), so the label must be
known in advance. `real_model` tests use the shipped model itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from im2.i18n import use_locale
from im2.listening import ingest
from im2.listening.ingest import Scored
from im2.listening.schemas import SentimentLabel

NEGATIVE_WORDS = ("差", "垃圾", "退货", "爆炸", "骗", "terrible", "worst", "broken", "refund")
POSITIVE_WORDS = ("好", "喜欢", "赞", "love", "great", "awesome")


def lexicon_scorer(texts: Sequence[str]) -> list[Scored]:
    results: list[Scored] = []
    for text in texts:
        lowered = text.lower()
        lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
        if any(w in lowered for w in NEGATIVE_WORDS):
            results.append((SentimentLabel.NEGATIVE, 0.9, lang))
        elif any(w in lowered for w in POSITIVE_WORDS):
            results.append((SentimentLabel.POSITIVE, 0.8, lang))
        else:
            results.append((SentimentLabel.NEUTRAL, 0.6, lang))
    return results


@pytest.fixture(autouse=True)
def _predictable_sentiment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "real_model" not in request.keywords:
        monkeypatch.setattr(ingest, "model_scorer", lexicon_scorer)


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    """Messages made outside a request (importer rows, query errors, the escalation job's notes)
    use the default locale, Chinese, now that they are translated; these tests read the English
    ids. Requests still choose their own locale (console Chinese, API English)."""
    with use_locale("en"):
        yield


@contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on a free loopback port in a thread: yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

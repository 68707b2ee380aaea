"""The sentiment core's two enums, in a module that imports nothing heavy, so the command
line can offer `--language zh|en` without loading numpy (``sentiment`` re-exports both)."""

from __future__ import annotations

from enum import StrEnum


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"

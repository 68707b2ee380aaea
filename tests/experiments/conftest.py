"""Experiment fixtures: a private lake folder per test (results read the event log through the
analytics query layer, which reads the lake plus the not-yet-moved tail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from im2.config import Settings


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"lake_path": tmp_path / "lake"})

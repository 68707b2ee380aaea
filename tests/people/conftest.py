"""The people tests' settings: a private lake folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from im2.config import Settings


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(settings: Settings, lake_path: Path) -> Settings:
    return settings.model_copy(update={"lake_path": lake_path})

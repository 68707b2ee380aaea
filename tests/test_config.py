"""Settings: environment, TOML file, and the refusal to run production on a default secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from im2.config import Environment, Settings


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IM2_ENV", "production")
    monkeypatch.delenv("IM2_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="IM2_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("IM2_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("IM2_SECRET_KEY", "x" * 40)
    assert Settings().env is Environment.PRODUCTION


def test_development_runs_on_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IM2_ENV", raising=False)
    monkeypatch.delenv("IM2_SECRET_KEY", raising=False)
    assert Settings().env is Environment.DEVELOPMENT


def test_toml_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "im2.toml"
    config.write_text(
        'database_url = "sqlite:///from-file.db"\nsession_hours = 4\n', encoding="utf-8"
    )
    monkeypatch.setenv("IM2_CONFIG_FILE", str(config))
    monkeypatch.delenv("IM2_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///from-file.db"
    assert settings.session_hours == 4
    monkeypatch.setenv("IM2_SESSION_HOURS", "2")  # the environment wins over the file
    assert Settings().session_hours == 2
    monkeypatch.setenv("IM2_CONFIG_FILE", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="not a file"):
        Settings()

"""``im2 influence import-graph``: a follow list from the command line, stored per workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from im2.cli import app
from im2.config import get_settings
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import Brand

runner = CliRunner()


@pytest.fixture
def cli_env(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_import_graph_from_the_command_line(
    cli_env: Database, brand: Brand, client: TestClient, tmp_path: Path
) -> None:
    good = tmp_path / "follows.txt"
    good.write_text("# u v: v follows u\nkol a\nkol b\nkol a\nb b\n", encoding="utf-8")
    result = runner.invoke(app, ["influence", "import-graph", str(good), "--workspace", "acme"])
    assert result.exit_code == 0, result.output
    assert "2 edges" in result.output
    listed = client.get("/api/v1/influence/graphs", headers=brand.auth(Role.ANALYST)).json()
    assert [(g["name"], g["edges"], g["nodes"]) for g in listed] == [("follows.txt", 2, 3)]

    bad = tmp_path / "bad.txt"
    bad.write_text("a b\nb c d e\n", encoding="utf-8")
    refused = runner.invoke(app, ["influence", "import-graph", str(bad), "--workspace", "acme"])
    assert refused.exit_code == 1
    assert "line 2" in refused.output
    unknown = runner.invoke(app, ["influence", "import-graph", str(good), "--workspace", "nope"])
    assert unknown.exit_code == 1

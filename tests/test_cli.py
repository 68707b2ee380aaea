"""The `im2` command line, run as a user would (same process, real database)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from im2.cli import app
from im2.config import get_settings
from im2.db import Database
from im2.workspaces import service as workspaces

runner = CliRunner()


@pytest.fixture
def cli_env(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_workspace_user_and_token(cli_env: Database, tmp_path: Path) -> None:
    made = runner.invoke(app, ["workspace", "create", "tea", "--name", "花间茶饮"])
    assert made.exit_code == 0, made.output
    user = runner.invoke(
        app,
        ["user", "create", "li@tea.example.com", "--workspace", "tea", "--role", "owner"],
        input="a long password\na long password\n",
    )
    assert user.exit_code == 0, user.output
    with cli_env.session() as session:
        assert workspaces.get_user_id(session, email="li@tea.example.com") is not None

    token = runner.invoke(
        app, ["token", "create", "--workspace", "tea", "--role", "analyst", "--name", "bi"]
    )
    assert token.exit_code == 0, token.output
    secret = token.stdout.strip().splitlines()[-1]
    assert secret.startswith("im2_")
    with cli_env.session() as session:
        actor, _ = workspaces.authenticate_token(
            session,
            raw_token=secret,
            now=__import__("datetime").datetime.now(__import__("datetime").UTC),
        )
    assert actor.role == "analyst"
    assert actor.workspace_slug == "tea"

    out = tmp_path / "events.parquet"
    exported = runner.invoke(
        app, ["events", "export", "--format", "parquet", "--output", str(out), "--workspace", "tea"]
    )
    assert exported.exit_code == 0, exported.output
    kinds = pq.read_table(out).column("kind").to_pylist()
    assert "member.added" in kinds
    assert "token.created" in kinds


def test_bad_input_gives_a_message_and_non_zero_exit(cli_env: Database) -> None:
    runner.invoke(app, ["workspace", "create", "tea", "--name", "Tea"])
    cases = [
        (["workspace", "create", "tea", "--name", "Again"], "already exists"),
        (["workspace", "create", "Bad Slug", "--name", "x"], "lower-case"),
        (["workspace", "create", "ok", "--name", "x", "--timezone", "Nowhere/City"], "time zone"),
        (["token", "create", "--workspace", "nope", "--role", "viewer"], "not found"),
        (["token", "create", "--workspace", "tea", "--role", "king"], "king"),
        (["events", "export", "--output", "x.parquet", "--since", "yesterday"], "ISO"),
        (["events", "export", "--output", "x.parquet", "--workspace", "nope"], "no workspace"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, args)
        assert result.exit_code != 0, args
        assert expected.lower() in result.output.lower(), (args, result.output)
        assert "Traceback" not in result.output
    short = runner.invoke(
        app,
        ["user", "create", "x@tea.example.com", "--workspace", "tea", "--role", "viewer"],
        input="short\nshort\n",
    )
    assert short.exit_code == 1
    assert "at least 10" in short.output


def test_demo_loads_once(cli_env: Database) -> None:
    first = runner.invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output
    assert "owner@shanye.example" in first.output
    second = runner.invoke(app, ["demo", "--no-serve"])
    assert "already present" in second.output


def test_jobs_run(cli_env: Database) -> None:
    result = runner.invoke(app, ["jobs", "run"])
    assert result.exit_code == 0
    assert "advance_campaigns" in result.output

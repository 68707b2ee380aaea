"""`im2` starts without the heavy libraries: each command imports only what it uses.

Each check runs the command line in a fresh interpreter, as a user's shell would, and looks at
which modules that process loaded. (How fast that is belongs to benchmarks/cli.py.)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from im2.cli import LAZY_COMMANDS, app, load_command
from im2.config import get_settings
from im2.db import Database
from tests.conftest import Brand

HEAVY = ("sqlalchemy", "duckdb", "scipy", "numpy", "pyarrow", "numba", "pandas", "fastapi")

# Runs `im2 ARGS...` in this process, then prints which HEAVY modules it imported.
PROBE = """
import sys
from im2.cli import app
try:
    app(sys.argv[1:], prog_name="im2")
except SystemExit:
    pass
print()
print("loaded:" + ",".join(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def heavy_modules_loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), done.stdout + done.stderr
    return [name for name in last.removeprefix("loaded:").split(",") if name]


def test_help_lists_every_command_without_loading_heavy_libraries() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for name in ("influence", "sentiment", "cascade", "report", "analytics", "migrate", "draw"):
        assert name in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "loaded:"


@pytest.mark.parametrize(
    "args",
    [
        ("influence", "--help"),
        ("influence", "seeds", "--help"),
        ("cascade", "--help"),
        ("report", "--help"),
        ("analytics", "--help"),
        ("events", "export", "--help"),
    ],
)
def test_a_commands_help_loads_no_heavy_library(args: tuple[str, ...]) -> None:
    assert heavy_modules_loaded(*args) == []


def test_choosing_seeds_loads_no_database_or_analytics_library(tmp_path: Path) -> None:
    graph = tmp_path / "graph.txt"
    graph.write_text("a b 0.5\nb c 0.5\n", encoding="utf-8")
    loaded = heavy_modules_loaded(
        "influence", "seeds", str(graph), "-k", "1", "--simulations", "10", "--no-cache"
    )
    assert "sqlalchemy" not in loaded
    assert "duckdb" not in loaded
    assert "pyarrow" not in loaded
    assert "numba" in loaded  # the kernels, which this command does use


def first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_the_listing_shows_each_lazy_commands_own_summary(name: str) -> None:
    # `im2 --help` lists a lazy command without importing it, from a summary kept in
    # im2/cli.py: it must say what the command's own help says first.
    listed = [*app.registered_commands, *app.registered_groups]
    summary = next(info.help for info in listed if info.name == name)
    real = load_command(name, LAZY_COMMANDS[name])
    assert first_paragraph(str(summary)) == first_paragraph(real.help or "")


def test_a_mistyped_command_is_named_with_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["influnce"])

    assert result.exit_code == 2
    assert "No such command 'influnce'" in result.output
    assert "Did you mean 'influence'?" in result.output


def test_a_lazy_command_runs_with_its_own_options(tmp_path: Path) -> None:
    graph = tmp_path / "graph.txt"
    graph.write_text("kol fan1 1.0\nkol fan2 1.0\nx y 0.5\n", encoding="utf-8")

    result = CliRunner().invoke(
        app, ["influence", "seeds", str(graph), "-k", "1", "--simulations", "0", "--no-cache"]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["kol"]


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_file_tools_run_without_reading_the_settings(
    settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Production with the development secret: every command that reads settings refuses.
    settings_env.setenv("IM2_ENV", "production")
    graph = tmp_path / "graph.txt"
    graph.write_text("kol fan1 1.0\nkol fan2 1.0\n", encoding="utf-8")
    runner = CliRunner()

    seeds = runner.invoke(
        app, ["influence", "seeds", str(graph), "-k", "1", "--simulations", "0", "--no-cache"]
    )
    export = runner.invoke(app, ["events", "export", "--output", str(tmp_path / "events.csv")])

    assert seeds.exit_code == 0, seeds.output
    assert seeds.stdout == "kol\n"
    assert export.exit_code == 2
    assert "configuration error" in export.output


@pytest.mark.parametrize(("locale", "expected"), [(None, "2 bad line(s)"), ("zh_CN", "行有误")])
def test_a_file_tool_that_reads_the_database_speaks_the_cli_locale(
    db: Database,
    database_url: str,
    brand: Brand,
    settings_env: pytest.MonkeyPatch,
    tmp_path: Path,
    locale: str | None,
    expected: str,
) -> None:
    settings_env.setenv("IM2_DATABASE_URL", database_url)
    if locale is not None:
        settings_env.setenv("IM2_CLI_LOCALE", locale)
    bad = tmp_path / "follows.txt"
    bad.write_text("a b\nb c d e\nc\n", encoding="utf-8")

    result = CliRunner().invoke(
        app, ["influence", "import-graph", str(bad), "--workspace", brand.slug]
    )

    assert result.exit_code == 1
    assert expected in result.output

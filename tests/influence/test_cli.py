"""``im2 influence seeds``: ids on stdout, the story on stderr, clean failures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from im2.influence.cli import app

runner = CliRunner()

# Hub "kol" reaches five fans for sure; "x" -> "y" is a small separate pair.
GRAPH = "".join(f"kol fan{i} 1.0\n" for i in range(5)) + "x y 0.5\n"


@pytest.fixture(autouse=True)
def cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache directory (parsed graphs go under im2/graphs), one per test."""
    home = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def untimed(text: str) -> str:
    return re.sub(r"\(\d+\.\d+ s\)", "(… s)", text)


def write(tmp_path: Path, text: str, name: str = "graph.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_prints_original_ids_on_stdout_and_the_estimate_on_stderr(tmp_path: Path) -> None:
    graph = write(tmp_path, GRAPH)

    result = runner.invoke(app, ["seeds", str(graph), "--k", "2", "--simulations", "2000"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["kol", "x"]
    assert "8 nodes, 6 directed edges" in result.stderr
    assert "IMM (IC, eps=0.1): 2 seeds" in result.stderr
    # kol brings 6 nodes for sure, x brings 1.5 on average.
    assert "expected spread 7.5 (95% CI" in result.stderr


def test_writes_seeds_to_a_file_when_asked(tmp_path: Path) -> None:
    graph = write(tmp_path, GRAPH)
    output = tmp_path / "seeds.txt"

    result = runner.invoke(
        app, ["seeds", str(graph), "-k", "1", "--output", str(output), "--simulations", "0"]
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert output.read_text(encoding="utf-8") == "kol\n"
    assert "expected spread" not in result.stderr


def test_undirected_plain_list_with_lt_and_a_baseline(tmp_path: Path) -> None:
    graph = write(tmp_path, "a b\nb c\nc d\n")

    result = runner.invoke(
        app,
        [
            "seeds",
            str(graph),
            "--k",
            "1",
            "--undirected",
            "--model",
            "lt",
            "--method",
            "degree",
            "--simulations",
            "100",
        ],
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["b"]
    assert "undirected" in result.stderr
    assert "LT simulations" in result.stderr


def test_costs_and_budget_choose_within_budget(tmp_path: Path) -> None:
    graph = write(tmp_path, GRAPH)
    costs = write(tmp_path, "# node cost\nkol 9\nx 1\ny 1\n", name="costs.txt")

    result = runner.invoke(
        app,
        ["seeds", str(graph), "--costs", str(costs), "--budget", "2", "--simulations", "0"],
    )

    assert result.exit_code == 0, result.stderr
    # kol is over budget; x then y (reached from x only half the time) fill it.
    assert result.stdout.splitlines() == ["x", "y"]
    assert "total cost 2" in result.stderr


def test_bad_lines_fail_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    graph = write(tmp_path, "a b 0.5\nb c 7\n")

    result = runner.invoke(app, ["seeds", str(graph)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: graph.txt: 1 bad line(s)" in result.stderr
    assert "line 2: probability 7 is outside [0, 1]" in result.stderr
    assert "Traceback" not in result.stderr


def test_k_larger_than_the_graph_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["seeds", str(write(tmp_path, GRAPH)), "--k", "50"])

    assert result.exit_code == 1
    assert "error: k must be between 1 and the number of nodes (8), got 50" in result.stderr


def test_missing_file_and_bad_probability_spec(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["seeds", str(tmp_path / "nope.txt")])
    bad_spec = runner.invoke(
        app, ["seeds", str(write(tmp_path, GRAPH)), "--probability", "const:3"]
    )

    assert missing.exit_code == 1
    assert "no such file" in missing.stderr
    assert bad_spec.exit_code == 1
    assert "P must be between 0 and 1" in bad_spec.stderr


def test_costs_without_budget_and_unknown_cost_ids(tmp_path: Path) -> None:
    graph = write(tmp_path, GRAPH)
    costs = write(tmp_path, "ghost 1\n", name="costs.txt")

    alone = runner.invoke(app, ["seeds", str(graph), "--costs", str(costs)])
    unknown = runner.invoke(app, ["seeds", str(graph), "--costs", str(costs), "--budget", "1"])

    assert alone.exit_code == 1
    assert "--costs and --budget go together" in alone.stderr
    assert unknown.exit_code == 1
    assert "1 node id(s) not in the graph: ghost" in unknown.stderr


def test_memory_budget_refusal_reaches_the_user(tmp_path: Path) -> None:
    lines = "".join(f"{i} {j} 0.2\n" for i in range(40) for j in range(40) if i != j)

    result = runner.invoke(
        app, ["seeds", str(write(tmp_path, lines)), "--k", "5", "--memory-gb", "0.0001"]
    )

    assert result.exit_code == 1
    assert "over the memory budget" in result.stderr


def test_a_second_run_reuses_the_parsed_graph_and_answers_the_same(
    tmp_path: Path, cache_home: Path
) -> None:
    graph = write(tmp_path, GRAPH)
    args = ["seeds", str(graph), "--k", "2", "--simulations", "2000"]

    first = runner.invoke(app, args)
    second = runner.invoke(app, args)

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    assert len(list((cache_home / "im2" / "graphs").glob("*.npz"))) == 1
    assert second.stdout == first.stdout == "kol\nx\n"
    # The same load report, IMM line and spread estimate; only the time taken differs.
    assert untimed(second.stderr) == untimed(first.stderr)


def test_an_edited_graph_file_is_read_again(tmp_path: Path) -> None:
    graph = write(tmp_path, GRAPH)
    assert runner.invoke(app, ["seeds", str(graph), "-k", "1", "--simulations", "0"]).stdout == (
        "kol\n"
    )

    # Same name, new content: "star" now reaches the most people.
    write(tmp_path, "".join(f"star f{i} 1.0\n" for i in range(9)) + "kol fan 1.0\n")
    result = runner.invoke(app, ["seeds", str(graph), "-k", "1", "--simulations", "0"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "star\n"
    assert "12 nodes, 10 directed edges" in result.stderr


def test_a_damaged_cache_entry_is_ignored(tmp_path: Path, cache_home: Path) -> None:
    graph = write(tmp_path, GRAPH)
    args = ["seeds", str(graph), "-k", "1", "--simulations", "0"]
    assert runner.invoke(app, args).exit_code == 0
    for entry in (cache_home / "im2" / "graphs").glob("*.npz"):
        entry.write_bytes(b"not a zip file")

    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "kol\n"


def test_an_unwritable_cache_only_costs_a_parse(tmp_path: Path, cache_home: Path) -> None:
    (cache_home / "im2").write_text("a file where the cache directory would go")
    graph = write(tmp_path, GRAPH)

    result = runner.invoke(app, ["seeds", str(graph), "-k", "1", "--simulations", "0"])

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "kol\n"


def test_no_cache_leaves_the_cache_directory_alone(tmp_path: Path, cache_home: Path) -> None:
    graph = write(tmp_path, GRAPH)

    result = runner.invoke(
        app, ["seeds", str(graph), "-k", "1", "--simulations", "0", "--no-cache"]
    )

    assert result.exit_code == 0, result.stderr
    assert not (cache_home / "im2").exists()


def test_the_cache_keeps_its_size_by_dropping_the_oldest_graphs(tmp_path: Path) -> None:
    from im2.influence.graphcache import load_graph_cached

    cache = tmp_path / "cache"
    first = write(tmp_path, GRAPH, name="first.txt")
    second = write(tmp_path, "a b 0.5\n", name="second.txt")
    load_graph_cached(first, cache_dir=cache)
    (entry,) = cache.glob("*.npz")

    loaded = load_graph_cached(second, cache_dir=cache, max_bytes=entry.stat().st_size)

    assert loaded.graph.n == 2
    assert len(list(cache.glob("*.npz"))) == 1
    assert not entry.exists()  # the older graph made room for the newer one

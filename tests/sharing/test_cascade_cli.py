"""`im2 cascade FILE`: share-tree metrics of an imported cascade, as a table, JSON and CSV,
with bad files refused by line number and a non-zero exit."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from im2.cli import app

runner = CliRunner()

# a brings b and c; b brings d; x joined alone. Distances in a's tree: a-b 1, a-c 1, a-d 2,
# b-c 2, b-d 1, c-d 3 → structural virality 10/6. Gaps parent→child: 1 h, 3 h, 3 h.
EDGES = (
    "parent,child,time,channel\n"
    ",a,2026-01-01T00:00:00,\n"
    "a,b,2026-01-01T01:00:00,wechat\n"
    "a,c,2026-01-01T03:00:00,weibo\n"
    "b,d,2026-01-01T04:00:00,wechat\n"
    ",x,2026-01-02T00:00:00,\n"
)


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_edge_list_gives_the_consoles_figures(tmp_path: Path) -> None:
    edges = write(tmp_path, EDGES, "edges.csv")
    rows = tmp_path / "trees.csv"

    result = runner.invoke(app, ["cascade", str(edges), "--json", "--output", str(rows)])

    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["format"] == "edges"
    assert figures["participants"] == 5
    assert figures["trees"] == 2
    assert figures["brought_by_shares"] == 3
    assert figures["k_factor"] == 0.6
    assert figures["depth"] == 2
    assert figures["max_breadth"] == 2
    assert figures["structural_virality"] == round(10 / 6, 3)
    assert figures["viral_cycle_hours"] == 3.0
    with rows.open(encoding="utf-8") as handle:
        trees = list(csv.DictReader(handle))
    assert [(t["root"], t["size"], t["depth"]) for t in trees] == [("a", "4", "2"), ("x", "1", "0")]
    assert trees[1]["structural_virality"] == ""  # no pair in a one-person tree

    table = runner.invoke(app, ["cascade", str(edges)])
    assert table.exit_code == 0
    assert "structural virality" in table.stdout
    assert "1.667" in table.stdout


def test_a_twitter_tree_file_and_an_archive(tmp_path: Path) -> None:
    tree = (
        "['ROOT', 'ROOT', '0.0']->['u1', 't0', '0.0']\n"
        "['u1', 't0', '0.0']->['u2', 't0', '30.0']\n"
        "['u1', 't0', '0.0']->['u3', 't0', '90.0']\n"
    )
    single = write(tmp_path, tree, "500.txt")
    result = runner.invoke(app, ["cascade", str(single), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["format"] == "twitter"
    assert (figures["participants"], figures["depth"], figures["max_breadth"]) == (3, 1, 2)
    assert figures["viral_cycle_hours"] == 1.0  # median of 0.5 h and 1.5 h

    archive = tmp_path / "twitter16.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for name, text in (("500", tree), ("501", "['ROOT', 'ROOT', '0.0']->['v', 't1', '0.0']\n")):
            data = text.encode()
            info = tarfile.TarInfo(f"twitter16/tree/{name}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    labels = write(tmp_path, "true:500\nfalse:501\n", "labels.txt")
    out = tmp_path / "cascades.csv"
    result = runner.invoke(
        app,
        ["cascade", str(archive), "--labels", str(labels), "--output", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["cascades"], summary["participants"], summary["largest_cascade"]) == (2, 4, 3)
    with out.open(encoding="utf-8") as handle:
        cascades = {row["cascade"]: row for row in csv.DictReader(handle)}
    assert cascades["500"]["label"] == "true"
    assert cascades["501"]["participants"] == "1"


def test_bad_files_are_refused_with_line_numbers_and_nothing_written(tmp_path: Path) -> None:
    bad = write(tmp_path, "parent,child,time\na,b,yesterday\nb\n", "bad.csv")
    out = tmp_path / "trees.csv"
    result = runner.invoke(app, ["cascade", str(bad), "--output", str(out)])
    assert result.exit_code == 2
    assert "bad.csv:2: " in result.output
    assert "yesterday" in result.output
    assert not out.exists()

    missing = runner.invoke(app, ["cascade", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "is not a file" in missing.output

    empty_archive = tmp_path / "empty.tar.xz"
    with tarfile.open(empty_archive, "w:xz"):
        pass
    result = runner.invoke(app, ["cascade", str(empty_archive)])
    assert result.exit_code == 2
    assert "no */tree/*.txt" in result.output

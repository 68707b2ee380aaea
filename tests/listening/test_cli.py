"""`im2 sentiment FILE --text-column COL`: files in, the same files out with three new columns."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from im2.listening.cli import app, default_output

runner = CliRunner()

ROWS = [
    {"id": "1", "brand": "饭店", "text": "菜很好吃，服务热情，下次还来"},
    {"id": "2", "brand": "饭店", "text": "送餐太慢了，饭都凉了，很失望"},
    {"id": "3", "brand": "phone", "text": "I love this phone, the camera is amazing!"},
    {"id": "4", "brand": "phone", "text": "Worst purchase ever, total waste of money"},
]
EXPECTED = ["positive", "negative", "positive", "negative"]


def _write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> None:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_csv_round_trip_adds_sentiment_confidence_and_positive_probability(
    tmp_path: Path,
) -> None:
    # Given a CSV of mentions
    source = tmp_path / "mentions.csv"
    _write_csv(source, ROWS)
    # When it is scored without --output
    result = runner.invoke(app, [str(source), "--text-column", "text"])
    # Then mentions.scored.csv holds every original column plus the three new ones
    assert result.exit_code == 0, result.output
    out = _read_csv(tmp_path / "mentions.scored.csv")
    assert [r["id"] for r in out] == ["1", "2", "3", "4"]
    assert [r["brand"] for r in out] == [r["brand"] for r in ROWS]
    assert [r["sentiment"] for r in out] == EXPECTED
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in out)
    assert list(out[0]) == [
        "id",
        "brand",
        "text",
        "sentiment",
        "confidence",
        "positive_probability",
    ]
    # P(positive) ranks the rows: the positive ones above one half, the negative ones below
    probability = [float(r["positive_probability"]) for r in out]
    assert probability[0] > 0.5 > probability[1]
    assert probability[2] > 0.5 > probability[3]
    assert "4 rows" in result.output


def test_jsonl_round_trip_and_output_format_follows_the_extension(tmp_path: Path) -> None:
    source = tmp_path / "mentions.jsonl"
    source.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8"
    )
    result = runner.invoke(
        app, [str(source), "--text-column", "text", "-o", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text("utf-8").splitlines()]
    assert [r["sentiment"] for r in out] == EXPECTED
    assert out[0]["brand"] == "饭店"
    assert isinstance(out[0]["confidence"], float)
    assert [r["positive_probability"] > 0.5 for r in out] == [True, False, True, False]

    # The same file can be turned into a CSV by naming a .csv output
    result = runner.invoke(
        app, [str(source), "--text-column", "text", "-o", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 0, result.output
    assert [r["sentiment"] for r in _read_csv(tmp_path / "o.csv")] == EXPECTED


def test_gbk_encoded_csv_is_read(tmp_path: Path) -> None:
    # Given a CSV saved by a spreadsheet program in GBK
    source = tmp_path / "gbk.csv"
    _write_csv(source, ROWS[:2], encoding="gbk")
    result = runner.invoke(app, [str(source), "--text-column", "text"])
    assert result.exit_code == 0, result.output
    out = _read_csv(default_output(source))
    assert out[0]["text"] == ROWS[0]["text"]
    assert [r["sentiment"] for r in out] == EXPECTED[:2]
    assert "gb18030" in result.output


def test_utf8_bom_header_is_not_part_of_the_column_name(tmp_path: Path) -> None:
    source = tmp_path / "bom.csv"
    _write_csv(source, ROWS[:1], encoding="utf-8-sig")
    result = runner.invoke(app, [str(source), "--text-column", "id"])
    assert result.exit_code == 0, result.output


def test_missing_column_names_the_available_ones_without_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "mentions.csv"
    _write_csv(source, ROWS)
    result = runner.invoke(app, [str(source), "--text-column", "content"])
    assert result.exit_code == 2
    assert "content" in result.output
    assert "id, brand, text" in result.output
    assert "Traceback" not in result.output
    assert not default_output(source).exists()


def test_undecodable_and_unknown_files_fail_with_a_clear_message(tmp_path: Path) -> None:
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81\x30\xff\x00")
    result = runner.invoke(app, [str(binary), "--text-column", "text"])
    assert result.exit_code == 2
    assert "UTF-8" in result.output

    other = tmp_path / "x.xlsx"
    other.write_bytes(b"PK")
    result = runner.invoke(app, [str(other), "--text-column", "text"])
    assert result.exit_code == 2
    assert ".csv" in result.output

    result = runner.invoke(app, [str(tmp_path / "nope.csv"), "--text-column", "text"])
    assert result.exit_code == 2
    # The console wraps a long line (a long temporary path) wherever a space falls.
    assert "does not exist" in " ".join(result.output.split())


def test_dash_writes_to_standard_output(tmp_path: Path) -> None:
    source = tmp_path / "mentions.csv"
    _write_csv(source, ROWS)
    result = runner.invoke(app, [str(source), "--text-column", "text", "--output", "-"])
    assert result.exit_code == 0, result.output
    body = result.stdout[result.stdout.index("id,brand") :]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["sentiment"] for r in rows] == EXPECTED
    assert not default_output(source).exists()


def test_empty_text_cells_come_back_neutral(tmp_path: Path) -> None:
    source = tmp_path / "m.csv"
    _write_csv(source, [{"id": "1", "text": ""}, {"id": "2", "text": "  "}])
    result = runner.invoke(app, [str(source), "--text-column", "text"])
    assert result.exit_code == 0, result.output
    assert [r["sentiment"] for r in _read_csv(default_output(source))] == ["neutral", "neutral"]


def test_a_forced_language_scores_every_row(tmp_path: Path) -> None:
    source = tmp_path / "m.csv"
    _write_csv(source, ROWS)
    result = runner.invoke(app, [str(source), "--text-column", "text", "--language", "en"])
    assert result.exit_code == 0, result.output
    out = _read_csv(default_output(source))
    assert [r["id"] for r in out] == ["1", "2", "3", "4"]
    assert all(r["sentiment"] in {"positive", "neutral", "negative"} for r in out)

    result = runner.invoke(app, [str(source), "--text-column", "text", "--language", "fr"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_importing_the_command_does_not_load_the_model() -> None:
    # `im2 --help` imports this module: numpy and the model must wait for the command itself
    code = (
        "import sys, im2.listening.cli as c; c.sentiment_command; "
        "print(sorted(m for m in ('numpy', 'sqlalchemy', 'im2.listening.sentiment') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"

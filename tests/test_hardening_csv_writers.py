"""The command line's CSV files escape formulas like every other export (OWASP CSV injection):
the scored copy of a mentions file, `im2 cascade --output` and `im2 events export --format csv`
are opened in Excel, where a cell starting with `=`, `+`, `-` or `@` would run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from im2.cli import app as im2
from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import ExportFormat, export_events, record_event
from im2.listening.cli import app as sentiment
from tests.conftest import Brand

runner = CliRunner()
FORMULA = '=HYPERLINK("http://x.y","a")'  # fits a channel (32 characters)


def _read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_the_scored_copy_escapes_formulas_in_csv_and_tsv_but_jsonl_keeps_the_text(
    tmp_path: Path,
) -> None:
    texts = [FORMULA, "@brand 太好用了", "-0.5", "菜很好吃"]
    for suffix, delimiter in ((".csv", ","), (".tsv", "\t")):
        source = tmp_path / f"mentions{suffix}"
        with source.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(["id", "text"])
            writer.writerows([str(i), t] for i, t in enumerate(texts))

        result = runner.invoke(sentiment, [str(source), "--text-column", "text"])

        assert result.exit_code == 0, result.output
        scored = _read_csv(tmp_path / f"mentions.scored{suffix}", delimiter)
        assert [r["text"] for r in scored] == [
            "'" + FORMULA,
            "'@brand 太好用了",
            "-0.5",
            "菜很好吃",
        ]
        assert all(r["sentiment"] for r in scored)

    source = tmp_path / "mentions.jsonl"
    source.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts),
        encoding="utf-8",
    )
    result = runner.invoke(sentiment, [str(source), "--text-column", "text"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "mentions.scored.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == texts


def test_cascade_output_escapes_a_node_named_like_a_formula(tmp_path: Path) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text(
        "parent,child,time\n"
        ",@evil,2026-01-01T00:00:00\n"
        "@evil,b,2026-01-01T01:00:00\n"
        ",x,2026-01-02T00:00:00\n",
        encoding="utf-8",
    )
    out = tmp_path / "trees.csv"

    result = runner.invoke(im2, ["cascade", str(edges), "--output", str(out)])

    assert result.exit_code == 0, result.output
    trees = _read_csv(out)
    assert [(t["root"], t["size"]) for t in trees] == [("'@evil", "2"), ("x", "1")]


def test_events_csv_export_escapes_a_visitor_typed_channel(
    brand: Brand, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    with db.transaction() as session:
        for channel in (FORMULA, "wechat"):
            record_event(
                session,
                kind=EventKind.CAMPAIGN_VIEWED,
                occurred_at=clock.now(),
                workspace_id=brand.workspace_id,
                actor_type=ActorType.VISITOR,
                actor_id="-1",
                channel=channel,
                referrer="+cmd",
            )
    with db.session() as session:
        export_events(session, output=tmp_path / "e.csv", fmt=ExportFormat.CSV)
        export_events(session, output=tmp_path / "e.parquet", fmt=ExportFormat.PARQUET)

    viewed = EventKind.CAMPAIGN_VIEWED.value
    rows = [r for r in _read_csv(tmp_path / "e.csv") if r["kind"] == viewed]
    assert [r["channel"] for r in rows] == ["'" + FORMULA, "wechat"]
    assert [r["referrer"] for r in rows] == ["'+cmd", "'+cmd"]
    assert [r["actor_id"] for r in rows] == ["-1", "-1"]  # a number stays a number
    # The Parquet export is for engines, not spreadsheets: the values exactly as recorded.
    table = pq.read_table(tmp_path / "e.parquet").to_pylist()
    assert [r["channel"] for r in table if r["kind"] == viewed] == [FORMULA, "wechat"]

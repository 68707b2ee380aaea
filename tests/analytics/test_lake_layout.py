"""Inside a lake file: ordered by workspace, actor and id in small row groups with statistics,
so that a person's export reads only the row groups that can hold them; files written before
(one row group, ordered by id) still read the same, and an erasure's rewrite keeps the layout."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from im2.analytics.lake import events_dir, lake_files, write_batch
from im2.analytics.lake_layout import ROW_GROUP_ROWS
from im2.analytics.models import LakeMark
from im2.db import Database
from im2.events.service import EVENT_ARROW_SCHEMA
from im2.privacy.inventory import events_of_actors
from im2.privacy.lake_rewrite import rewrite_file

DAY1 = datetime(2026, 3, 2, tzinfo=UTC)
DAY2 = datetime(2026, 3, 3, tzinfo=UTC)
ACTORS = [f"d:dev-{i:03d}" for i in range(500)]


def _rows(first_id: int, n: int, day: datetime) -> list[dict[str, object]]:
    """`n` events of one day by id; actors and workspaces spread so that every actor acts in
    both workspaces and across the whole day."""
    return [
        {
            "id": first_id + i,
            "occurred_at": day + timedelta(seconds=i * 86_000 // n),
            "workspace_id": 1 + (i % 7 == 0),
            "campaign_id": 1,
            "activity_id": None,
            "actor_type": "visitor",
            "actor_id": ACTORS[(i * 7919) % len(ACTORS)],
            "kind": "campaign.viewed",
            "channel": "wechat",
            "referrer": None,
            "properties": json.dumps({"n": first_id + i}),
        }
        for i in range(n)
    ]


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=EVENT_ARROW_SCHEMA)


def _set_mark(db: Database, last_id: int) -> None:
    with db.transaction() as session:
        session.add(LakeMark(stream="events", last_id=last_id, moved=last_id, updated_at=DAY2))


def _order(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["workspace_id"], r["actor_id"], r["id"]) for r in rows]


def test_a_moved_file_is_ordered_by_actor_in_row_groups_a_reader_of_one_actor_skips(
    lake_path: Path,
) -> None:
    rows = _rows(1, 60_000, DAY1)

    [file] = write_batch(lake_path, _table(rows))

    parquet = pq.ParquetFile(file)
    stored = parquet.read().to_pylist()
    assert sorted(r["id"] for r in stored) == list(range(1, 60_001))  # every event, once
    assert _order(stored) == sorted(_order(rows))
    assert parquet.metadata.num_row_groups == -(-60_000 // ROW_GROUP_ROWS) >= 3
    actor_column = parquet.schema_arrow.get_field_index("actor_id")
    holding = []
    for index in range(parquet.metadata.num_row_groups):
        stats = parquet.metadata.row_group(index).column(actor_column).statistics
        assert stats is not None
        assert stats.has_min_max
        if stats.min <= "d:dev-123" <= stats.max:
            holding.append(index)
    # One actor's 120 events sit in one workspace's run (twice: both workspaces), so a reader
    # that checks min/max reads at most two row groups of the four.
    assert 1 <= len(holding) <= 2
    # The old files were as small; the layout costs no more than a fifth more bytes.
    old = lake_path / "old.parquet"
    pq.write_table(_table(rows), old, compression="zstd", row_group_size=1_000_000)
    assert Path(file).stat().st_size <= old.stat().st_size * 1.2


def test_an_export_reads_old_and_new_files_alike(db: Database, lake_path: Path) -> None:
    old_rows = _rows(1, 20_000, DAY1)
    new_rows = _rows(20_001, 40_000, DAY2)
    # A file as the lake wrote them before: one row group, ordered by id.
    folder = events_dir(lake_path) / "date=2026-03-02"
    folder.mkdir(parents=True)
    pq.write_table(
        _table(old_rows),
        folder / "part-1-20000.parquet",
        compression="zstd",
        row_group_size=1_000_000,
    )
    write_batch(lake_path, _table(new_rows))
    assert len(lake_files(lake_path)) == 2
    _set_mark(db, 60_000)
    wanted = {"d:dev-007", "d:dev-321"}

    with db.session() as session:
        found = events_of_actors(
            session, workspace_id=1, actor_ids=sorted(wanted), lake_path=lake_path
        ).to_pylist()

    expected = [
        r for r in old_rows + new_rows if r["workspace_id"] == 1 and r["actor_id"] in wanted
    ]
    assert {r["id"] for r in expected if int(r["id"]) <= 20_000}  # both files hold some
    assert {r["id"] for r in expected if int(r["id"]) > 20_000}
    assert found == expected  # every column, by id, nobody else's, no other workspace's


def test_an_erasure_rewrite_keeps_the_layout(db: Database, lake_path: Path) -> None:
    rows = _rows(1, 50_000, DAY1)
    [file] = write_batch(lake_path, _table(rows))
    _set_mark(db, 50_000)

    changed, _bytes = rewrite_file(
        file,
        workspace_id=1,
        pending={"actors": {"d:dev-007": "d:zz-fresh"}, "codes": {}, "participants": {}},
    )

    parquet = pq.ParquetFile(file)
    stored = parquet.read().to_pylist()
    renamed = {
        r["id"]
        for r in rows
        if r["actor_id"] == "d:dev-007" and r["workspace_id"] == 1  # only that workspace's
    }
    assert changed == len(renamed) > 0
    assert _order(stored) == sorted(_order(stored))  # re-sorted by the new ids
    assert parquet.metadata.num_row_groups >= 3
    with db.session() as session:
        fresh = events_of_actors(
            session, workspace_id=1, actor_ids=["d:zz-fresh"], lake_path=lake_path
        )
        gone = events_of_actors(
            session, workspace_id=1, actor_ids=["d:dev-007"], lake_path=lake_path
        )
    assert set(fresh.column("id").to_pylist()) == renamed
    assert gone.num_rows == 0

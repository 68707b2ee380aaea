"""Referral evidence moved to the lake before the evidence migration: the lake job rewrites the
`reward.held` events that still hold plain addresses, user agents and e-mail addresses, once,
and leaves everything else as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from im2.analytics.lake import events_dir, lake_files, write_batch
from im2.analytics.lake_evidence import EVIDENCE_STREAM, scrub_lake_evidence
from im2.analytics.models import LakeMark
from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.events.service import EVENT_ARROW_SCHEMA
from im2.privacy.lake_rewrite import privacy_lake_rewrite_job

UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126 Mobile"
IP = "203.0.113.9"
EMAIL = "eve.lin@example.com"
PLAIN = (IP, UA[:80], EMAIL, "eve.lin", "203.0.113.77", "Pixel 8")
DAY1 = datetime(2026, 3, 2, 10, tzinfo=UTC)
DAY2 = datetime(2026, 3, 3, 10, tzinfo=UTC)
NOW = datetime(2026, 3, 5, tzinfo=UTC)


def _old_evidence() -> dict[str, object]:
    """Evidence as `reward.held` events carried it before the migration."""
    return {
        "reasons": ["same_device", "same_identity", "same_network"],
        "details": {
            "same_device": f"{IP} · {UA[:80]}",
            "same_network": f"{IP} / 203.0.113.77 (203.0.113.0/24)",
            "same_identity": EMAIL,
            "ring": "#1 → #2 → #1",
        },
    }


def _event(event_id: int, when: datetime, kind: str, properties: dict[str, object]) -> dict:  # type: ignore[type-arg]
    return {
        "id": event_id,
        "occurred_at": when + timedelta(minutes=event_id),
        "workspace_id": 1,
        "campaign_id": 1,
        "activity_id": 2,
        "actor_type": "participant",
        "actor_id": str(event_id % 5 + 1),
        "kind": kind,
        "channel": "wechat",
        "referrer": None,
        "properties": json.dumps(properties),
    }


def _old_file(lake: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    """A file as the lake wrote them before: one row group, ordered by id."""
    folder = events_dir(lake) / f"date={rows[0]['occurred_at'].date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"part-{rows[0]['id']}-{rows[-1]['id']}.parquet"
    table = pa.Table.from_pylist(rows, schema=EVENT_ARROW_SCHEMA)
    pq.write_table(table, file, compression="zstd", row_group_size=1_000_000)
    return file


def _set_mark(db: Database, last_id: int) -> None:
    with db.transaction() as session:
        mark = session.get(LakeMark, "events")
        if mark is None:
            session.add(LakeMark(stream="events", last_id=last_id, moved=0, updated_at=NOW))
        else:
            mark.last_id = last_id


def _rows_by_id(file: Path) -> dict[int, dict]:  # type: ignore[type-arg]
    return {r["id"]: r for r in pq.read_table(file).to_pylist()}


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def test_old_evidence_in_the_lake_is_rewritten_once(db: Database, lake: Path) -> None:
    held = {"redemption": 7, "code": "ABC123", "reasons": ["same_device"]}
    rows = [
        _event(1, DAY1, "campaign.viewed", {"source": "search"}),
        _event(2, DAY1, "reward.held", {**held, "evidence": _old_evidence()}),
        _event(3, DAY1, "poll.voted", {"options": [1], "note": IP}),  # not evidence: kept
    ]
    old = _old_file(lake, rows)
    # A later file, written as events are now: evidence already free of personal values.
    new_form = {"same_device": "203.0.113.0/24 · UA #0a1b2c3d4e5f"}
    [current] = write_batch(
        lake,
        pa.Table.from_pylist(
            [_event(4, DAY2, "reward.held", {**held, "evidence": {"details": new_form}})],
            schema=EVENT_ARROW_SCHEMA,
        ),
    )
    current_bytes = Path(current).read_bytes()
    _set_mark(db, 4)
    assert IP in json.dumps(pq.read_table(old).to_pylist(), default=str)

    result = scrub_lake_evidence(db, lake_path=lake, now=NOW)

    assert (result.files_checked, result.files_rewritten, result.rows_changed) == (2, 1, 1)
    after = _rows_by_id(old)
    event = json.loads(after[2]["properties"])
    assert event["evidence"]["details"]["same_device"] == "203.0.113.0/24"
    assert event["evidence"]["details"]["same_network"] == "203.0.113.0/24"
    assert event["evidence"]["details"]["same_identity"].startswith("e-mail #")
    assert event["evidence"]["details"]["ring"] == "#1 → #2 → #1"
    assert {k: v for k, v in event.items() if k != "evidence"} == held
    text = json.dumps(after[2], default=str, ensure_ascii=False)
    for plain in PLAIN:
        assert plain not in text, plain
    assert after[1] == rows[0]  # other events as they were, every column
    assert after[3] == rows[2]
    assert Path(current).read_bytes() == current_bytes  # nothing to change: not rewritten
    assert sorted(str(f) for f, _a, _b in lake_files(lake)) == sorted([str(old), str(current)])

    # Again: nothing to check (the mark did not move), and the file stays as it is.
    scrubbed = old.read_bytes()
    assert scrub_lake_evidence(db, lake_path=lake, now=NOW).files_checked == 0
    # Even when asked to look at the whole lake again, nothing changes.
    with db.transaction() as session:
        session.delete(session.get(LakeMark, EVIDENCE_STREAM))
    again = scrub_lake_evidence(db, lake_path=lake, now=NOW)
    assert (again.files_checked, again.files_rewritten, again.rows_changed) == (2, 0, 0)
    assert old.read_bytes() == scrubbed


def test_only_files_moved_since_are_checked_and_their_old_evidence_rewritten(
    db: Database, lake: Path
) -> None:
    first = _old_file(lake, [_event(1, DAY1, "campaign.viewed", {})])
    _set_mark(db, 1)
    assert scrub_lake_evidence(db, lake_path=lake, now=NOW).files_checked == 1
    # Moved later (say, by a server still on the old version during the upgrade).
    later = _old_file(lake, [_event(2, DAY2, "reward.held", {"evidence": _old_evidence()})])
    # Not yet committed by the mark: left for the run after the move's commit.
    assert scrub_lake_evidence(db, lake_path=lake, now=NOW).files_checked == 0
    _set_mark(db, 2)

    result = scrub_lake_evidence(db, lake_path=lake, now=NOW)

    assert (result.files_checked, result.rows_changed, result.checked_through) == (1, 1, 2)
    assert IP not in json.dumps(pq.read_table(later).to_pylist(), default=str)
    assert pq.read_table(first).num_rows == 1
    with db.session() as session:
        assert (
            session.scalar(select(LakeMark.last_id).where(LakeMark.stream == EVIDENCE_STREAM)) == 2
        )


@pytest.fixture
def lake_settings(lake: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("IM2_LAKE_PATH", str(lake))
    get_settings.cache_clear()
    yield lake
    get_settings.cache_clear()


def test_the_lake_job_rewrites_old_evidence(db: Database, lake_settings: Path) -> None:
    file = _old_file(lake_settings, [_event(1, DAY1, "reward.held", {"evidence": _old_evidence()})])
    _set_mark(db, 1)

    privacy_lake_rewrite_job(db, ManualClock(NOW))
    privacy_lake_rewrite_job(db, ManualClock(NOW))  # a second run is harmless

    text = json.dumps(pq.read_table(file).to_pylist(), default=str, ensure_ascii=False)
    for plain in PLAIN:
        assert plain not in text, plain
    assert "203.0.113.0/24" in text

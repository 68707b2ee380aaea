"""Erasing a person: nothing of theirs is left in the database, the media folder, the lake or
the export folder; the campaign's figures do not move; erasing twice does it once."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from im2.analytics.lake import lake_files
from im2.clock import ManualClock
from im2.config import Settings, get_settings
from im2.db import Database
from im2.errors import NotFound
from im2.migrations import all_metadata
from im2.privacy.erasure import erase_person
from im2.privacy.lake_rewrite import rewrite_pending
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.privacy.test_erasure_world import World, build_world, secrets_of_a

# The campaign's figures compared before and after an erasure (the registry's keys; the
# per-minute series depends on the clock, not on people).
METRICS = (
    "participants",
    "viewers",
    "reach",
    "interactions",
    "ugc_count",
    "shares",
    "conversions",
    "interaction_rate",
    "new_vs_returning",
    "coverage_by_channel",
    "retention_cohorts",
    "aisas_funnel",
    "k_factor",
    "cascade",
    "timeseries",
    "share_tree",
)


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(settings: Settings, lake_path: Path) -> Settings:
    return settings.model_copy(update={"lake_path": lake_path})


def _dump(db: Database) -> str:
    """Every value of every table, as text (the database dump a scan reads)."""
    parts: list[str] = []
    with db.session() as session:
        names = set(inspect(session.connection()).get_table_names())
        for table in all_metadata().sorted_tables:
            if table.name not in names:
                continue
            for row in session.execute(select(table)):
                parts.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(parts)


def _lake_text(lake: Path) -> str:
    texts = []
    for file, _first, _last in lake_files(lake):
        texts.append(json.dumps(pq.read_table(file).to_pylist(), default=str, ensure_ascii=False))
    return "\n".join(texts)


def _folder_text(folder: Path) -> str:
    if not folder.is_dir():
        return ""
    return "\n".join(
        f"{f}\n{f.read_bytes().decode('utf-8', 'replace')}"
        for f in folder.rglob("*")
        if f.is_file()
    )


def _figures(client: TestClient, brand: Brand, world: World) -> dict[str, Any]:
    auth = brand.auth(Role.ANALYST)
    results = client.get(f"/api/v1/polls/{world.poll_id}/results", headers=auth).json()
    metrics = client.get(
        f"/api/v1/campaigns/{world.campaign_id}/metrics",
        params={"metrics": ",".join(METRICS)},
        headers=auth,
    )
    assert metrics.status_code == 200, metrics.text
    return {"votes": [o["votes"] for o in results["options"]], "metrics": metrics.json()}


def _erase(db: Database, brand: Brand, person: int, now: datetime, lake: Path) -> Any:
    with db.transaction() as session:
        return erase_person(
            session,
            workspace_id=brand.workspace_id,
            person_id=person,
            now=now,
            lake_path=lake,
            media_path=get_settings().media_path,
            reason="test",
        )


def test_full_scan_after_erasure_finds_nothing_and_figures_stay(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    lake_path: Path,
    tmp_path: Path,
) -> None:
    lake = lake_path
    world = build_world(client, brand, db, clock, lake)
    media = get_settings().media_path
    exports = tmp_path / "exports"
    exports.mkdir()
    before = _figures(client, brand, world)
    secrets = secrets_of_a(world)
    # Given: A is everywhere (the scan can see them), B's data is there too.
    everything = _dump(db) + _lake_text(lake) + _folder_text(media)
    assert world.code_a in everything
    assert world.device_a in everything
    assert world.media_file.is_file()
    lake_before = _lake_text(lake)

    report = _erase(db, brand, world.person_a, clock.now(), lake)
    assert not report.already_erased
    assert report.lake_pending
    rewritten = rewrite_pending(db, lake_path=lake, now=clock.now())
    assert rewritten.erasures == 1
    assert rewritten.files >= 1
    assert rewritten.files <= len(lake_files(lake))

    # Then: nowhere a trace of A.
    dump, lake_text, media_text = _dump(db), _lake_text(lake), _folder_text(media)
    for secret in secrets:
        assert secret not in dump, secret
        assert secret not in lake_text, secret
        assert secret not in media_text, secret
        assert secret not in _folder_text(exports), secret
    assert not world.media_file.exists()
    # No mapping is kept: the erasure record's lake to-do is gone.
    with db.session() as session:
        pending = session.execute(text("SELECT lake_pending FROM privacy_erasures")).scalar_one()
    assert pending is None
    # The lake has as many events as before (only identifiers changed).
    assert lake_text.count('"id":') == lake_before.count('"id":')

    # And the figures a brand sees are the same.
    after = _figures(client, brand, world)
    assert after["votes"] == before["votes"]
    changed = {
        key
        for key in METRICS
        if before["metrics"]["metrics"][key] != after["metrics"]["metrics"][key]
    }
    # As documented (docs/privacy.md): the share tree names participants, and A's node now
    # names the anonymous stand-in; its shape and every count are the same.
    assert changed <= {"share_tree"}
    tree_before = before["metrics"]["metrics"]["share_tree"]
    tree_after = after["metrics"]["metrics"]["share_tree"]
    assert tree_after["value"] == tree_before["value"]
    shape = [
        (r["tree"], r["depth"], r["people_brought"], r["joined_at"]) for r in tree_before["rows"]
    ]
    assert [
        (r["tree"], r["depth"], r["people_brought"], r["joined_at"]) for r in tree_after["rows"]
    ] == shape
    assert str(world.participant_a) not in {r["participant"] for r in tree_after["rows"]}


def test_erasing_twice_is_a_no_op_that_says_so(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    lake_path: Path,
    tmp_path: Path,
) -> None:
    lake = lake_path
    world = build_world(client, brand, db, clock, lake)
    first = _erase(db, brand, world.person_a, clock.now(), lake)
    dump = _dump(db)
    second = _erase(db, brand, world.person_a, clock.now(), lake)
    assert second.already_erased
    assert second.erasure_id == first.erasure_id
    assert second.rows_deleted == {}
    assert _dump(db) == dump
    # A person the workspace never had is a 404, not "already erased".
    with pytest.raises(NotFound):
        _erase(db, brand, 999_999, clock.now(), lake)
    # B is untouched: still a person with their vote.
    with db.session() as session:
        assert (
            session.execute(
                text("SELECT count(*) FROM people WHERE id = :b"), {"b": world.person_b}
            ).scalar_one()
            == 1
        )

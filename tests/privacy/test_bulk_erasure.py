"""Erasing people in bulk (`erase_people`, retention's path) leaves exactly what erasing them one
by one leaves: on two copies of the same campaign, every table and every lake file compared.
Retention anonymises in batches: a person who acts after being chosen is kept, a person whose
batch fails is retried alone and the others still go, and each workspace runs on its own."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from datetime import timedelta
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
from im2.migrations import all_metadata
from im2.privacy import erasure, lake_rewrite
from im2.privacy.erasure import erase_people, erase_person
from im2.privacy.lake_rewrite import rewrite_pending
from im2.privacy.retention import service as retention
from im2.privacy.retention.jobs import retention_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live, make_brand
from tests.privacy.test_erasure_world import build_world
from tests.test_polls import POLL, vote_url
from tests.test_sharing import _get_link

# Differs between the two runs by design: the bytes of the lake rewrite (one pass over the
# group's files, against one pass per person).
NOT_COMPARED = {("privacy_erasures", "lake_bytes_rewritten")}


@pytest.fixture
def lake_path(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def settings(settings: Settings, lake_path: Path) -> Settings:
    return settings.model_copy(update={"lake_path": lake_path})


def _reproducible(old: str, chars: str, length: int) -> str:
    """Fresh ids as a function of the old one, so that two erasures can be compared."""
    del chars
    return hashlib.sha256(f"{old}|{length}".encode()).hexdigest()[:length]


def _tables(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    with db.session() as session:
        names = set(inspect(session.connection()).get_table_names())
        for table in all_metadata().sorted_tables:
            if table.name not in names:
                continue
            columns = [c for c in table.c if (table.name, c.name) not in NOT_COMPARED]
            order = list(table.primary_key.columns) or columns
            rows = session.execute(select(*columns).order_by(*order)).all()
            found[table.name] = [tuple(r) for r in rows]
    return found


def _lake(lake: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        str(Path(file).relative_to(lake)): pq.read_table(file).sort_by("id").to_pylist()
        for file, _first, _last in lake_files(lake)
    }


def _files(folder: Path) -> set[str]:
    if not folder.is_dir():
        return set()
    return {str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file()}


def _copy_sqlite(url: str, target: Path) -> str:
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return f"sqlite:///{target}"


def test_bulk_erasure_leaves_what_one_by_one_leaves(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    lake_path: Path,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the two copies are SQLite files (the bulk path is the same SQL on both)")
    world = build_world(client, brand, db, clock, lake_path)
    # E votes and shares; C comes through E's link and votes; D votes alone. A (everywhere,
    # B came through A's link) and C are erased; B, D and E stay, with references to them.
    e = TestClient(client.app)
    assert e.post(
        vote_url(world.slug, world.poll_id), json={"options": [world.options[1]], "consent": True}
    ).status_code in (200, 201)
    code_e = _get_link(e, world.slug)
    c = TestClient(client.app)
    c.get(f"/s/{code_e}?ch=wechat", follow_redirects=False)
    assert c.post(
        vote_url(world.slug, world.poll_id), json={"options": [world.options[0]], "consent": True}
    ).status_code in (200, 201)
    d = TestClient(client.app)
    assert d.post(
        vote_url(world.slug, world.poll_id), json={"options": [world.options[1]], "consent": True}
    ).status_code in (200, 201)
    from im2.analytics.lake import move_events_to_lake

    clock.advance(timedelta(days=1))
    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), settle_seconds=0)
    clock.advance(timedelta(minutes=5))
    c.get(f"/c/{world.slug}")  # C in the database's tail as well
    with db.session() as session:
        person_c = session.execute(
            text(
                "SELECT person_id FROM person_identities WHERE kind = 'participant' "
                "ORDER BY id DESC LIMIT 1 OFFSET 1"  # C, then D
            )
        ).scalar_one()
    erased = [int(person_c), world.person_a]  # not in id order: the order is kept
    assert world.person_a != person_c != world.person_b

    media = get_settings().media_path
    twin_url = _copy_sqlite(database_url, tmp_path / "twin.db")
    twin_lake, twin_media = tmp_path / "twin-lake", tmp_path / "twin-media"
    shutil.copytree(lake_path, twin_lake)
    shutil.copytree(media, twin_media)
    twin = Database(twin_url)
    monkeypatch.setattr(erasure, "fresh_value", _reproducible)
    now = clock.now()
    assert _tables(twin) == _tables(db)

    # In bulk: one transaction, then the lake in one pass (through the many-ids scan too).
    monkeypatch.setattr(lake_rewrite, "PATTERN_WORDS", 1)
    with db.transaction() as session:
        reports = erase_people(
            session,
            workspace_id=brand.workspace_id,
            person_ids=erased,
            now=now,
            lake_path=lake_path,
            media_path=media,
            reason="test",
        )
    assert [r.person_id for r in reports] == erased
    assert not any(r.already_erased for r in reports)
    bulk_lake = rewrite_pending(db, lake_path=lake_path, now=now)
    assert bulk_lake.erasures == 2

    # One by one on the twin, each with its own lake rewrite.
    monkeypatch.setattr(lake_rewrite, "PATTERN_WORDS", 200)
    singles = []
    for person in erased:
        with twin.transaction() as session:
            singles.append(
                erase_person(
                    session,
                    workspace_id=brand.workspace_id,
                    person_id=person,
                    now=now,
                    lake_path=twin_lake,
                    media_path=twin_media,
                    reason="test",
                )
            )
        assert rewrite_pending(twin, lake_path=twin_lake, now=now).erasures == 1

    for bulk, single in zip(reports, singles, strict=True):
        assert bulk.rows_deleted == single.rows_deleted
        assert bulk.rows_anonymised == single.rows_anonymised
        assert (bulk.media_deleted, bulk.events_rewritten, bulk.webhook_deliveries_scrubbed) == (
            single.media_deleted,
            single.events_rewritten,
            single.webhook_deliveries_scrubbed,
        )
    # Something happened: A's ballots and media moved or went, the lake changed.
    assert reports[1].rows_anonymised.get("poll_ballots") == 1
    assert reports[1].media_deleted == 1
    assert bulk_lake.files >= 1
    assert _tables(db) == _tables(twin)
    assert _lake(lake_path) == _lake(twin_lake)
    assert _files(media) == _files(twin_media)
    twin.dispose()


def _policy(client: TestClient, brand: Brand, **limits: int | None) -> None:
    put = client.put("/api/v1/privacy/retention", json=limits, headers=brand.auth(Role.OWNER))
    assert put.status_code == 200, put.text


def _people(db: Database, workspace_id: int) -> set[int]:
    with db.session() as session:
        return {
            int(p)
            for p in session.scalars(
                text("SELECT id FROM people WHERE workspace_id = :w"), {"w": workspace_id}
            )
        }


def _voters(client: TestClient, brand: Brand, n: int) -> tuple[str, list[TestClient]]:
    campaign = go_live(client, brand, slug=f"vote-{brand.slug}")
    auth = brand.auth(Role.OWNER)
    created = client.post(f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=auth)
    assert created.status_code == 201, created.text
    poll_id = created.json()["id"]
    results = client.get(f"/api/v1/polls/{poll_id}/results", headers=auth).json()
    slug, options = campaign["slug"], [o["id"] for o in results["options"]]
    voters = []
    for i in range(n):
        voter = TestClient(client.app)
        voted = voter.post(
            vote_url(slug, poll_id), json={"options": [options[i % 2]], "consent": True}
        )
        assert voted.status_code == 201, voted.text
        voters.append(voter)
    return slug, voters


def test_a_person_who_acts_after_being_chosen_is_kept(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, settings: Settings
) -> None:
    slug, (x, y, _z) = _voters(client, brand, 3)
    before = _people(db, brand.workspace_id)
    assert len(before) == 3
    _policy(client, brand, inactive_days=30)
    clock.advance(timedelta(days=31))
    now = clock.now()
    with db.session() as session:
        chosen = retention.inactive_people(
            session, workspace_id=brand.workspace_id, before=now - timedelta(days=30), limit=10
        )
    assert set(chosen) == before
    # X comes back after the run chose them, before their batch runs.
    assert x.get(f"/c/{slug}").status_code == 200
    done = retention.anonymise_people(
        db,
        workspace_id=brand.workspace_id,
        person_ids=chosen,
        inactive_since=now - timedelta(days=30),
        now=now,
        lake_path=settings.lake_path,
        media_path=settings.media_path,
        tally=retention._Tally(),
    )
    assert done == 2
    after = _people(db, brand.workspace_id)
    kept = before & after
    assert len(kept) == 1  # X, whole: their identities and participant are still theirs
    with db.session() as session:
        links = session.execute(
            text("SELECT kind FROM person_identities WHERE person_id = :p ORDER BY kind"),
            {"p": next(iter(kept))},
        ).all()
        orphans = session.execute(
            text(
                "SELECT count(*) FROM poll_ballots b LEFT JOIN participants p "
                "ON p.id = b.participant_id WHERE p.id IS NULL"
            )
        ).scalar_one()
        ballots = session.execute(text("SELECT count(*) FROM poll_ballots")).scalar_one()
    assert sorted(k for (k,) in links) == ["device", "participant"]
    assert (orphans, ballots) == (0, 3)
    # Y acts after being anonymised: a new visitor, not linked to the stand-in.
    assert y.get(f"/c/{slug}").status_code == 200
    assert len(_people(db, brand.workspace_id)) == 3  # kept X + two stand-ins


def test_a_failing_person_does_not_stop_the_batch_nor_another_workspace(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _slug, _voters_a = _voters(client, brand, 3)
    other = make_brand(db, slug="other", now=clock.now())
    _slug_b, _voters_b = _voters(client, other, 2)
    bad = min(_people(db, brand.workspace_id))
    _policy(client, brand, inactive_days=30)
    _policy(client, other, inactive_days=30)
    real = erasure.erase_people

    def breaks_on_bad(session: Any, **kwargs: Any) -> Any:
        if bad in kwargs["person_ids"]:
            raise RuntimeError("bad data")
        return real(session, **kwargs)

    monkeypatch.setattr(retention, "erase_people", breaks_on_bad)
    clock.advance(timedelta(days=31))
    assert retention_job(db, clock) == 2
    first, second = (
        client.get("/api/v1/privacy/retention/runs", headers=b.auth(Role.OWNER)).json()[0]
        for b in (brand, other)
    )
    assert (first["people_anonymised"], first["failures"]) == (2, 1)
    assert f"person {bad}" in first["errors"]
    assert (second["people_anonymised"], second["failures"]) == (2, 0)
    assert _people(db, brand.workspace_id) >= {bad}

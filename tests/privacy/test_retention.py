"""Retention: people inactive longer than the policy are anonymised (one day less: kept), IPs
past the risk window are cleared, UGC photos go some days after the campaign ends, and a
second run finds nothing left to do."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Base, Database
from im2.privacy.retention import service
from im2.privacy.retention.jobs import retention_job
from im2.workspaces.schemas import Role
from tests.activities.test_ugc import make_contest, photo, submit
from tests.conftest import Brand
from tests.test_auth import login


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        media_path=tmp_path / "media",
        lake_path=tmp_path / "lake",
    )


def _rows(db: Database, table: str) -> list[dict[str, Any]]:
    t = Base.metadata.tables[table]
    with db.session() as session:
        return [dict(r._mapping) for r in session.execute(select(t).order_by(t.c.id))]


def _policy(client: TestClient, brand: Brand, **limits: int | None) -> Any:
    return client.put("/api/v1/privacy/retention", json=limits, headers=brand.auth(Role.OWNER))


def _run(db: Database, settings: Settings, brand: Brand, now: Any) -> Any:
    run = service.run_retention(
        db,
        workspace_id=brand.workspace_id,
        now=now,
        lake_path=settings.lake_path,
        media_path=settings.media_path,
    )
    assert run is not None
    return run


def test_retention_ground_truth_and_idempotent_rerun(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, settings: Settings
) -> None:
    start = clock.now()
    _campaign, contest = make_contest(client, brand)
    old = TestClient(client.app)  # joins first, then is never seen again
    assert submit(old, contest, image=photo(), caption="老用户的照片").status_code == 201
    [entry] = _rows(db, "ugc_entries")
    picture = settings.media_path / "ugc" / str(contest) / entry["image_name"]
    assert picture.is_file()

    clock.advance(timedelta(days=2))
    recent = TestClient(client.app)
    assert submit(recent, contest, caption="两天后加入").status_code == 201
    clock.advance(timedelta(days=26))  # start + 28 days
    fresh = TestClient(client.app)
    assert submit(fresh, contest, caption="最近才加入").status_code == 201

    now = start + timedelta(days=31)  # old: 31 days inactive, recent: 29, fresh: 3
    people_before = {p["id"] for p in _rows(db, "people")}
    assert len(people_before) == 3
    old_person = min(people_before)

    # The campaign ended on 2026-03-20 22:00 in Shanghai: 12.5 days before `now`.
    assert _policy(client, brand, inactive_days=30, ip_days=7, media_days=14).status_code == 200
    first = _run(db, settings, brand, now)
    assert (first.people_anonymised, first.ips_truncated, first.media_deleted) == (1, 2, 0)
    assert first.failures == 0
    people_after = {p["id"] for p in _rows(db, "people")}
    assert old_person not in people_after
    assert (people_before - {old_person}) <= people_after
    # Their entry still counts (anonymised: no caption, no photo), the others are untouched.
    entries = _rows(db, "ugc_entries")
    assert len(entries) == 3
    assert entries[0]["caption"] in ("", None)
    assert [e["caption"] for e in entries[1:]] == ["两天后加入", "最近才加入"]
    # IPs: the two who joined more than 7 days before `now` have none left, the fresh one has.
    participants = {p["id"]: p for p in _rows(db, "participants")}
    with_ip = [p for p in participants.values() if p["first_ip"] is not None]
    assert len(with_ip) == 1
    assert with_ip[0]["created_at"] == start + timedelta(days=28)
    assert all(p["first_ip_hash"] is None for p in participants.values() if p["first_ip"] is None)

    # The anonymised person's photo went with them (erasure deletes their media).
    assert not picture.is_file()
    # A second run the same day finds nothing to do.
    again = _run(db, settings, brand, now)
    assert (again.people_anonymised, again.ips_truncated, again.media_deleted) == (0, 0, 0)


def test_photos_are_kept_until_the_policy_says(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, settings: Settings
) -> None:
    start = clock.now()
    _campaign, contest = make_contest(client, brand)
    assert submit(client, contest, image=photo(), caption="春日咖啡").status_code == 201
    [entry] = _rows(db, "ugc_entries")
    picture = settings.media_path / "ugc" / str(contest) / entry["image_name"]
    now = start + timedelta(days=31)  # the campaign ended 12.5 days before
    assert _policy(client, brand, media_days=14).status_code == 200
    assert _run(db, settings, brand, now).media_deleted == 0
    assert picture.is_file()
    assert _policy(client, brand, media_days=12).status_code == 200
    assert _run(db, settings, brand, now).media_deleted == 1
    assert not picture.is_file()
    [entry] = _rows(db, "ugc_entries")
    assert entry["image_name"] is None
    assert entry["caption"] == "春日咖啡"  # only the file goes
    assert _run(db, settings, brand, now).media_deleted == 0


def test_policy_validation_names_the_field_and_the_page_shows_runs(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, settings: Settings
) -> None:
    bad = _policy(client, brand, inactive_days=5)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "inactive_days"
    assert _policy(client, brand, ip_days=400).json()["error"]["field"] == "ip_days"
    refused = client.put(
        "/api/v1/privacy/retention", json={"ip_days": 30}, headers=brand.auth(Role.ANALYST)
    )
    assert refused.status_code == 403
    assert _policy(client, brand, ip_days=30).status_code == 200
    assert retention_job(db, clock) == 1
    assert retention_job(db, clock) == 0  # once a day
    runs = client.get("/api/v1/privacy/retention/runs", headers=brand.auth(Role.OWNER)).json()
    assert len(runs) == 1
    assert runs[0]["status"] == "done"

    assert login(client, brand.emails[Role.OWNER]) == 303
    base = f"/console/w/{brand.slug}/privacy/retention"
    page = client.get(base)
    assert page.status_code == 200
    assert "保留期限" in page.text
    assert "30" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    wrong = client.post(
        base,
        data={"csrf_token": token.group(1), "inactive_days": "7", "ip_days": "", "media_days": ""},
    )
    assert wrong.status_code == 422
    assert "30" in wrong.text
    assert 'aria-invalid="true"' in wrong.text

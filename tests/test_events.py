"""The event log: one event per write, in the same transaction, and exports other tools read."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignCreate
from im2.db import Database
from im2.errors import Conflict
from im2.events.service import ExportFormat, count_events, export_events, list_events
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload


def test_each_write_records_one_event(client: TestClient, brand: Brand, db: Database) -> None:
    auth = brand.auth(Role.EDITOR)
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=auth).json()["id"]
    client.patch(f"/api/v1/campaigns/{cid}", json={"name": "新"}, headers=auth)
    client.post(f"/api/v1/campaigns/{cid}/transitions", json={"status": "scheduled"}, headers=auth)
    with db.session() as session:
        events = list_events(session, campaign_id=cid)
    assert [e.kind for e in events] == [
        "campaign.created",
        "campaign.updated",
        "campaign.status_changed",
    ]
    assert all(e.workspace_id == brand.workspace_id and e.actor_type == "token" for e in events)
    assert events[1].properties == {"fields": ["name"]}


def test_a_failed_write_leaves_no_event(brand: Brand, db: Database, clock) -> None:
    with db.session() as session:
        before = count_events(session)
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
    data = CampaignCreate.model_validate(campaign_payload())
    with db.transaction() as session:
        campaigns.do_create_campaign(session, actor=actor, data=data, now=clock.now())

    def create_two() -> None:
        # The first campaign and its event are flushed before the duplicate slug fails:
        # all of it must roll back together.
        with db.transaction() as session:
            ok = CampaignCreate.model_validate(campaign_payload(slug="ok"))
            campaigns.do_create_campaign(session, actor=actor, data=ok, now=clock.now())
            campaigns.do_create_campaign(session, actor=actor, data=data, now=clock.now())

    with pytest.raises(Conflict):
        create_two()
    with db.session() as session:
        assert count_events(session) == before + 1
        assert campaigns.get_public_campaign(session, slug="ok") is None


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_export_round_trip(
    brand: Brand, db: Database, tmp_path: Path, client: TestClient, fmt: ExportFormat
) -> None:
    auth = brand.auth(Role.OWNER)
    for i in range(3):
        client.post(
            "/api/v1/campaigns", json=campaign_payload(slug=f"s{i}", name=f"活动{i}"), headers=auth
        )
    out = tmp_path / f"events.{fmt.value}"
    with db.session() as session:
        expected = list_events(session, workspace_id=brand.workspace_id)
        written = export_events(
            session, output=out, fmt=fmt, workspace_id=brand.workspace_id, batch_size=2
        )
    assert written == len(expected) > 3
    if fmt is ExportFormat.PARQUET:
        table = pq.read_table(out)
        assert table.column("id").to_pylist() == [e.id for e in expected]
        assert str(table.schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"
        props = [json.loads(p) for p in table.column("properties").to_pylist()]
        assert props == [e.properties for e in expected]
    elif fmt is ExportFormat.JSONL:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [r["kind"] for r in rows] == [e.kind for e in expected]
    else:
        assert out.read_text(encoding="utf-8").count("\n") == len(expected) + 1
    assert not list(tmp_path.glob("*.partial"))


def test_an_event_whose_properties_are_not_an_object_reads_as_empty(
    brand: Brand, db: Database, clock
) -> None:
    from sqlalchemy import text

    with db.transaction() as session:
        for properties in ("[1, 2]", "7", '{"ok": true}'):
            session.execute(
                text(
                    "INSERT INTO events (occurred_at, workspace_id, actor_type, actor_id, kind,"
                    " properties) VALUES (:at, :ws, 'system', 'legacy', 'campaign.created', :p)"
                ),
                {"at": clock.now(), "ws": brand.workspace_id, "p": properties},
            )
    with db.session() as session:
        read = list_events(session, workspace_id=brand.workspace_id)
    assert [event.properties for event in read[-3:]] == [{}, {}, {"ok": True}]

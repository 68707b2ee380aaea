"""Uses of a segment: the "entered segment" events and their webhook."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.clock import ManualClock
from im2.db import Database
from im2.events.models import Event
from im2.people.models import PersonTag
from im2.people.segments.jobs import segment_entries_job
from im2.webhooks.jobs import send_webhooks_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.test_segments import _person, one
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401 (the fixture)
from tests.webhooks.test_webhooks import add_endpoint, outbox


def _tag(db: Database, brand: Brand, clock: ManualClock, person_id: int, tag: str) -> None:
    with db.transaction() as s:
        s.add(
            PersonTag(
                workspace_id=brand.workspace_id,
                person_id=person_id,
                tag=tag,
                source="api",
                created_at=clock.now(),
            )
        )


def test_people_entering_a_segment_are_announced_once_and_reach_webhooks(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    receiver: Receiver,  # noqa: F811
) -> None:
    ws = brand.workspace_id
    with db.transaction() as s:
        now = clock.now()
        a = _person(s, ws, now, tags=("vip",)).id
        b = _person(s, ws, now).id
        restricted = _person(s, ws, now, restricted=True).id
    endpoint = add_endpoint(client, brand, receiver.url, ["segment.entered"])
    saved = client.post(
        "/api/v1/segments",
        json={"name": "VIP", "rule": one(field="tag", values=["vip"])},
        headers=brand.auth(Role.EDITOR),
    )
    assert saved.status_code == 201, saved.text
    segment_id = saved.json()["id"]

    # The first run takes the members as they are: A was there before anyone watched.
    assert segment_entries_job(db, clock) == 0
    clock.advance(timedelta(minutes=1))
    _tag(db, brand, clock, b, "vip")
    _tag(db, brand, clock, restricted, "vip")  # restricted: never a member, never announced
    assert segment_entries_job(db, clock) == 1
    assert segment_entries_job(db, clock) == 0  # nothing new: nothing announced again

    with db.session() as s:
        entered = [
            e.properties for e in s.scalars(select(Event).where(Event.kind == "segment.entered"))
        ]
    assert [(e["segment"], e["person"], e["version"]) for e in entered] == [(segment_id, b, 1)]
    assert a != b

    assert outbox(db, clock) >= 1
    assert send_webhooks_job(db, clock) == 1
    [got] = receiver.requests
    payload = json.loads(got.body)
    assert payload["kind"] == "segment.entered"
    assert payload["properties"]["person"] == b
    assert endpoint["kinds"] == ["segment.entered"]

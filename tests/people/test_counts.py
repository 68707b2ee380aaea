"""Counts are of people, not devices: ground truth from simulated people with several phones.

Each simulated person opens the campaign on one to three phones, votes on the first, verifies
one number on the first two and an e-mail on the second and third, so that every phone of
theirs is known to be theirs; a few more people only look. The registry must then read one
participant and one reached person per human being, from the lake and the tail alike."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.analytics.lake import move_events_to_lake
from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.participation.senders import MemorySender
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.helpers import verify
from tests.test_polls import live_campaign, vote_url

PEOPLE = 9
ONLY_LOOKING = 3


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _phone(client: TestClient, jar: dict[str, str] | None = None) -> dict[str, str]:
    """Switch the client to another phone: a new one (no cookies) or a saved jar."""
    client.cookies.clear()
    client.cookies.update(jar or {})
    return jar or {}


def test_participants_and_reach_count_each_person_once(
    client: TestClient,
    brand: Brand,
    db: Database,
    outbox: MemorySender,
    clock: ManualClock,
    lake_path: Path,
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    rng = random.Random(19)
    phones_per_person = [rng.randint(1, 3) for _ in range(PEOPLE)]
    assert {1, 2, 3} <= set(phones_per_person)  # the seed covers every case
    for person, phones in enumerate(phones_per_person):
        jars: list[dict[str, str]] = []
        for _ in range(phones):
            _phone(client)
            assert client.get(f"/c/{slug}").status_code == 200  # a view on each phone
            jars.append(dict(client.cookies))
        _phone(client, jars[0])
        voted = client.post(
            vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
        )
        assert voted.status_code == 201, voted.text
        jars[0] = dict(client.cookies)
        number = f"1390000{person:04d}"
        mail = f"person{person}@example.com"
        if phones >= 2:
            for i in (0, 1):
                _phone(client, jars[i])
                verify(client, slug, outbox, "phone", number)
                jars[i] = dict(client.cookies)
        if phones == 3:
            for i in (2, 1):
                _phone(client, jars[i])
                verify(client, slug, outbox, "email", mail)
        if person == PEOPLE // 2:
            # Half of it is moved to the lake: the counts read the lake and the tail together.
            clock.advance(timedelta(minutes=1))
            assert move_events_to_lake(db, lake_path=lake_path, now=clock.now()).moved > 0
        clock.advance(timedelta(minutes=3))
    for _ in range(ONLY_LOOKING):
        _phone(client)
        assert client.get(f"/c/{slug}").status_code == 200

    # Given: more devices and participants in the log than there are people.
    with db.session() as session:
        events = list_events(session, kinds=["campaign.viewed"])
        devices = {e.actor_id for e in events}
        joined = {e.actor_id for e in list_events(session, kinds=["participant.joined"])}
    assert len(devices) == sum(phones_per_person) + ONLY_LOOKING
    assert len(joined) > PEOPLE

    auth = brand.auth(Role.ANALYST)
    campaign_id = client.get("/api/v1/campaigns", headers=auth).json()["items"][0]["id"]
    read = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "participants,reach,viewers,coverage_by_channel,conversion_rate"},
        headers=auth,
    )
    assert read.status_code == 200, read.text
    metrics = read.json()["metrics"]
    assert read.json()["lake_mark"] > 0
    assert metrics["participants"]["value"] == PEOPLE
    assert metrics["reach"]["value"] == PEOPLE + ONLY_LOOKING
    assert metrics["viewers"]["value"] == PEOPLE + ONLY_LOOKING
    [direct] = metrics["coverage_by_channel"]["rows"]
    assert direct["reach"] == PEOPLE + ONLY_LOOKING
    assert direct["share"] == 100
    # The analyst sees people only in aggregates; an editor reads the list.
    assert client.get("/api/v1/people", headers=auth).status_code == 403
    editor = brand.auth(Role.EDITOR)
    people = client.get("/api/v1/people?limit=100", headers=editor).json()["items"]
    assert len(people) == PEOPLE
    assert sorted(sum(p["identities"].get("device", 0) for p in people) for _ in [0]) == [
        sum(phones_per_person)
    ]


def test_a_merge_undone_counts_two_people_again(
    client: TestClient, brand: Brand, outbox: MemorySender
) -> None:
    slug, _activity_id, _options = live_campaign(client, brand)
    for _ in range(2):
        _phone(client)
        assert client.get(f"/c/{slug}").status_code == 200
        verify(client, slug, outbox, "phone", "13700001111")
    auth = brand.auth(Role.EDITOR)
    campaign_id = client.get("/api/v1/campaigns", headers=auth).json()["items"][0]["id"]

    def counts() -> tuple[float, float]:
        metrics = client.get(
            f"/api/v1/campaigns/{campaign_id}/metrics",
            params={"metrics": "participants,reach"},
            headers=auth,
        ).json()["metrics"]
        return metrics["participants"]["value"], metrics["reach"]["value"]

    assert counts() == (1, 1)
    [person] = client.get("/api/v1/people", headers=auth).json()["items"]
    [merge] = client.get(f"/api/v1/people/{person['id']}", headers=auth).json()["merges"]
    undone = client.post(f"/api/v1/people/merges/{merge['id']}/undo", headers=auth)
    assert undone.status_code == 200
    assert counts() == (2, 2)

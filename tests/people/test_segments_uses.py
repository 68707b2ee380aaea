"""Uses of a segment: the "entered segment" events and their webhook, the analytics filter,
a campaign's eligibility and an experiment's audience."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.clock import ManualClock
from im2.db import Database
from im2.events.models import Event
from im2.people.models import PersonIdentity, PersonTag
from im2.people.segments.jobs import segment_entries_job, segment_facts_job
from im2.webhooks.jobs import send_webhooks_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live, make_brand
from tests.experiments.test_experiments import experiment_body
from tests.people.test_segments import _person, one
from tests.test_polls import POLL, vote_url
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


_SLUGS = itertools.count(1)


def _poll(client: TestClient, brand: Brand) -> tuple[int, str, int, list[int]]:
    """A live campaign with a poll: (campaign id, slug, poll id, option ids)."""
    campaign = go_live(client, brand, slug=f"segment-use-{next(_SLUGS)}")
    created = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=brand.auth(Role.OWNER)
    )
    assert created.status_code == 201, created.text
    poll = created.json()["id"]
    results = client.get(f"/api/v1/polls/{poll}/results", headers=brand.auth(Role.OWNER)).json()
    return campaign["id"], campaign["slug"], poll, [o["id"] for o in results["options"]]


PHONES: list[dict[str, str]] = []  # each voter's cookies, in voting order (last _voters call)


def _voters(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, phones: int
) -> tuple[int, str, int, list[int]]:
    """`phones` phones vote in a new campaign's poll; returns the campaign and the voters'
    person ids, in voting order (facts up to date); their cookies are in PHONES."""
    campaign_id, slug, poll, options = _poll(client, brand)
    PHONES.clear()
    for _ in range(phones):
        client.cookies.clear()
        voted = client.post(vote_url(slug, poll), json={"options": [options[0]], "consent": True})
        assert voted.status_code == 201, voted.text
        PHONES.append(dict(client.cookies))
    client.cookies.clear()
    clock.advance(timedelta(minutes=1))
    segment_facts_job(db, clock)
    with db.session() as s:
        persons = list(
            s.scalars(
                select(PersonIdentity.person_id)
                .where(PersonIdentity.kind == "participant")
                .order_by(PersonIdentity.id)
            )
        )
    return campaign_id, slug, poll, persons


def _segment(client: TestClient, brand: Brand, name: str, rule: dict[str, Any]) -> int:
    saved = client.post(
        "/api/v1/segments", json={"name": name, "rule": rule}, headers=brand.auth(Role.EDITOR)
    )
    assert saved.status_code == 201, saved.text
    segment_id: int = saved.json()["id"]
    return segment_id


def test_the_analytics_segment_filter_counts_only_the_segments_people(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id, _slug, _poll_id, (first, second, third) = _voters(client, brand, db, clock, 3)
    took_part = _segment(client, brand, "voters", one(field="campaign", values=[campaign_id]))
    assert client.get(
        f"/api/v1/segments/{took_part}/count", headers=brand.auth(Role.ANALYST)
    ).json() == {"count": 3}
    _tag(db, brand, clock, first, "vip")
    _tag(db, brand, clock, third, "vip")
    vip = _segment(client, brand, "vip", one(field="tag", values=["vip"]))

    url = f"/api/v1/campaigns/{campaign_id}/metrics?metrics=participants,interactions"
    everyone = client.get(url, headers=brand.auth(Role.ANALYST)).json()
    assert everyone["metrics"]["participants"]["value"] == 3
    assert everyone["segment"] is None
    only = client.get(url + f"&segment={vip}", headers=brand.auth(Role.ANALYST))
    assert only.status_code == 200, only.text
    assert only.json()["metrics"]["participants"]["value"] == 2
    assert only.json()["metrics"]["interactions"]["value"] == 2
    assert only.json()["segment"] == {"segment_id": vip, "version": 1, "name": "vip"}
    overview = client.get(
        f"/api/v1/campaigns/{campaign_id}/overview?segment={vip}", headers=brand.auth(Role.EDITOR)
    )
    assert overview.json()["metrics"]["participants"]["value"] == 2
    assert second not in (first, third)

    other = make_brand(db, slug="other", now=clock.now())
    theirs = _segment(client, other, "theirs", one(field="verified"))
    refused = client.get(url + f"&segment={theirs}", headers=brand.auth(Role.ANALYST))
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "segment"


def test_only_the_eligible_segment_may_take_part_in_a_campaign(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    _first_campaign, _slug, _poll_id, (first, _second) = _voters(client, brand, db, clock, 2)
    _tag(db, brand, clock, first, "vip")
    vip = _segment(client, brand, "vip", one(field="tag", values=["vip"]))
    campaign_id, slug, poll, options = _poll(client, brand)
    url = f"/api/v1/campaigns/{campaign_id}"
    owner = brand.auth(Role.OWNER)
    unknown = client.patch(url, json={"eligible_segment_id": 99999}, headers=owner)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "eligible_segment_id"
    gated = client.patch(url, json={"eligible_segment_id": vip}, headers=owner)
    assert gated.status_code == 200, gated.text
    assert gated.json()["eligible_segment_id"] == vip
    assert gated.json()["eligible_segment_version"] == 1

    def vote(phone: dict[str, str] | None) -> Any:
        client.cookies.clear()
        if phone:
            client.cookies.update(phone)
        return client.post(vote_url(slug, poll), json={"options": [options[0]], "consent": True})

    vip_vote = vote(PHONES[0])
    assert vip_vote.status_code == 201, vip_vote.text  # the VIP
    refused = vote(PHONES[1])
    assert refused.status_code == 403
    # (The poll's batched write may answer in the server's default language.)
    assert refused.json()["error"]["message"] in (
        "This campaign is open to a selected group of people only, and you are not in it. "
        "Thank you for your interest!",
        "本活动仅限特定人群参与，你暂不在其中。感谢你的关注！",
    )
    assert vote(None).status_code == 403  # a phone nobody knows is in no segment
    results = client.get(f"/api/v1/polls/{poll}/results", headers=owner).json()
    assert sum(o["votes"] for o in results["options"]) == 1  # nothing half-written

    opened = client.patch(url, json={"eligible_segment_id": None}, headers=owner)
    assert opened.json()["eligible_segment_id"] is None
    assert vote(PHONES[1]).status_code == 201


def test_an_experiments_audience_is_the_segments_people_only(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id, slug, poll, (first, _second) = _voters(client, brand, db, clock, 2)
    _tag(db, brand, clock, first, "vip")
    vip = _segment(client, brand, "vip", one(field="tag", values=["vip"]))
    owner = brand.auth(Role.OWNER)
    url = f"/api/v1/campaigns/{campaign_id}/experiments"
    refused = client.post(url, json=experiment_body(poll, audience_segment_id=999), headers=owner)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "audience_segment_id"
    created = client.post(url, json=experiment_body(poll, audience_segment_id=vip), headers=owner)
    assert created.status_code == 201, created.text
    assert created.json()["audience_segment_id"] == vip
    assert created.json()["audience_segment_version"] == 1

    for phone in (*PHONES, {}):  # the VIP, the other voter, a phone nobody knows
        client.cookies.clear()
        client.cookies.update(phone)
        assert client.get(f"/c/{slug}/poll/{poll}").status_code == 200
    client.cookies.clear()
    with db.session() as s:
        exposed = [
            (e.actor_id, e.properties["experiment"])
            for e in s.scalars(select(Event).where(Event.kind == "experiment.exposed"))
        ]
        voter = s.scalar(
            select(PersonIdentity.value).where(
                PersonIdentity.person_id == first, PersonIdentity.kind == "participant"
            )
        )
    assert exposed == [(voter, "poster-text")]  # only the segment's person was in the test

"""Identity resolution: a participant is a person; the same verified phone or e-mail on two
devices is one person; merges are recorded and can be undone through the API."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.participation.senders import MemorySender
from im2.workspaces.schemas import Role
from tests.conftest import Brand, make_brand
from tests.people.helpers import verify
from tests.test_polls import live_campaign, vote_url


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _people(client: TestClient, brand: Brand, role: Role = Role.EDITOR) -> list[dict]:
    page = client.get("/api/v1/people", headers=brand.auth(role))
    assert page.status_code == 200, page.text
    return page.json()["items"]


def _person(client: TestClient, brand: Brand, person_id: int) -> dict:
    found = client.get(f"/api/v1/people/{person_id}", headers=brand.auth(Role.EDITOR))
    assert found.status_code == 200, found.text
    return found.json()


def _kinds(person: dict) -> list[str]:
    return sorted(i["kind"] for i in person["identities"])


def test_a_participant_is_a_person_with_device_and_participant(
    client: TestClient, brand: Brand
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    voted = client.post(
        vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
    )
    assert voted.status_code == 201, voted.text
    [listed] = _people(client, brand)
    assert listed["identities"] == {"device": 1, "participant": 1}
    assert listed["verified"] is False
    person = _person(client, brand, listed["id"])
    assert _kinds(person) == ["device", "participant"]
    assert person["merges"] == []


def test_same_phone_on_two_phones_is_one_person_and_the_merge_can_be_undone(
    client: TestClient, brand: Brand, outbox: MemorySender, clock: ManualClock
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    # Phone A votes and verifies a number.
    client.post(vote_url(slug, activity_id), json={"options": [options[0]], "consent": True})
    verify(client, slug, outbox, "phone", "13800138000")
    # Later, phone B opens the campaign and verifies the same number.
    client.cookies.clear()
    verify(client, slug, outbox, "phone", "138 0013 8000")

    [person] = _people(client, brand)
    assert person["identities"] == {"device": 2, "participant": 2, "phone": 1}
    assert person["verified"] is True
    detail = _person(client, brand, person["id"])
    phone = next(i for i in detail["identities"] if i["kind"] == "phone")
    assert phone["value"] is None  # only the keyed hash is stored here
    assert phone["hint"] == "138****8000"
    [merge] = detail["merges"]
    assert merge["kept_id"] == person["id"]  # the older person (phone A) is kept
    assert merge["reason"] == "verified_phone"
    assert merge["identity_hint"] == "138****8000"
    assert merge["actor"].startswith("participant:")
    assert len(merge["moved_identity_ids"]) == 2
    assert len(merge["moved_participant_ids"]) == 1
    assert merge["undone_at"] is None

    # An analyst sees people only in aggregates and may not undo; an editor may.
    refused = client.post(
        f"/api/v1/people/merges/{merge['id']}/undo", headers=brand.auth(Role.ANALYST)
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    undone = client.post(
        f"/api/v1/people/merges/{merge['id']}/undo", headers=brand.auth(Role.EDITOR)
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    assert undone.json()["undone_by"].startswith("token:")
    people = _people(client, brand)
    assert len(people) == 2
    assert sorted(p["identities"].get("device", 0) for p in people) == [1, 1]
    apart = _person(client, brand, merge["merged_id"])
    assert apart["merged_into_id"] is None
    assert _kinds(apart) == ["device", "participant"]
    again = client.post(
        f"/api/v1/people/merges/{merge['id']}/undo", headers=brand.auth(Role.EDITOR)
    )
    assert again.status_code == 409
    # The undo is in the audit log too.
    audit = client.get("/api/v1/audit", headers=brand.auth(Role.OWNER))
    assert audit.status_code == 200
    assert "person.merge_undone" in [e["action"] for e in audit.json()]


def test_brand_merges_two_people_and_undoes_it(
    client: TestClient, brand: Brand, outbox: MemorySender
) -> None:
    slug, _activity_id, _options = live_campaign(client, brand)
    verify(client, slug, outbox, "email", "Lin@Example.com")
    client.cookies.clear()
    verify(client, slug, outbox, "email", "lin.work@example.com")
    first, second = sorted(p["id"] for p in _people(client, brand))

    merged = client.post(
        f"/api/v1/people/{first}/merge", json={"into": second}, headers=brand.auth(Role.EDITOR)
    )
    assert merged.status_code == 201, merged.text
    body = merged.json()
    assert (body["kept_id"], body["merged_id"], body["reason"]) == (second, first, "manual")
    [kept] = _people(client, brand)
    assert kept["id"] == second
    assert kept["identities"] == {"device": 2, "participant": 2, "email": 2}
    gone = _person(client, brand, first)
    assert gone["merged_into_id"] == second
    assert gone["identities"] == []

    # Merging the merged-away person again is a conflict naming where it went.
    stale = client.post(
        f"/api/v1/people/{first}/merge", json={"into": second}, headers=brand.auth(Role.OWNER)
    )
    assert stale.status_code == 409
    undo = client.post(f"/api/v1/people/merges/{body['id']}/undo", headers=brand.auth(Role.OWNER))
    assert undo.status_code == 200
    assert sorted(p["id"] for p in _people(client, brand)) == [first, second]
    assert _person(client, brand, first)["identities"] != []


def test_merge_refusals(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, outbox: MemorySender
) -> None:
    slug, _activity_id, _options = live_campaign(client, brand)
    verify(client, slug, outbox, "email", "a@example.com")
    [person] = _people(client, brand)
    pid = person["id"]
    editor = brand.auth(Role.EDITOR)

    itself = client.post(f"/api/v1/people/{pid}/merge", json={"into": pid}, headers=editor)
    assert itself.status_code == 422
    assert itself.json()["error"]["field"] == "into"
    assert "themselves" in itself.json()["error"]["message"]

    # A person of another brand: refused, and nothing about them is revealed.
    other = make_brand(db, slug="other", now=clock.now())
    client.cookies.clear()
    other_campaign = client.post(
        "/api/v1/campaigns",
        json={
            "name": "别家",
            "slug": "other-spring",
            "objective": "engagement",
            "timezone": "Asia/Shanghai",
            "starts_at": "2026-03-01T10:00",
            "ends_at": "2026-03-20T22:00",
        },
        headers=other.auth(Role.OWNER),
    )
    assert other_campaign.status_code == 201, other_campaign.text
    for status in ("scheduled", "live"):
        client.post(
            f"/api/v1/campaigns/{other_campaign.json()['id']}/transitions",
            json={"status": status},
            headers=other.auth(Role.OWNER),
        ).raise_for_status()
    verify(client, "other-spring", outbox, "email", "a@example.com")
    [theirs] = _people(client, other)
    assert theirs["id"] != pid  # the same address in another brand is another person
    across = client.post(f"/api/v1/people/{pid}/merge", json={"into": theirs["id"]}, headers=editor)
    assert across.status_code == 422
    assert across.json()["error"]["field"] == "into"
    assert client.get(f"/api/v1/people/{theirs['id']}", headers=editor).status_code == 404
    assert (
        client.post(
            f"/api/v1/people/{theirs['id']}/merge", json={"into": pid}, headers=editor
        ).status_code
        == 404
    )
    assert client.post("/api/v1/people/merges/999/undo", headers=editor).status_code == 404
    assert client.get("/api/v1/people/0", headers=editor).status_code == 422
    # The viewer sees campaigns only: no people.
    assert client.get("/api/v1/people", headers=brand.auth(Role.VIEWER)).status_code == 403
    # The analyst sees people only in aggregates: no list, no merge.
    assert client.get("/api/v1/people", headers=brand.auth(Role.ANALYST)).status_code == 403
    assert (
        client.post(
            f"/api/v1/people/{pid}/merge", json={"into": pid}, headers=brand.auth(Role.ANALYST)
        ).status_code
        == 403
    )
    bad = client.post(f"/api/v1/people/{pid}/merge", json={"into": "x"}, headers=editor)
    assert bad.status_code == 422


def test_people_list_pages_by_cursor(client: TestClient, brand: Brand) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    for _ in range(5):
        client.cookies.clear()
        client.post(vote_url(slug, activity_id), json={"options": [options[0]], "consent": True})
    auth = brand.auth(Role.EDITOR)
    first = client.get("/api/v1/people?limit=2", headers=auth).json()
    seen = [p["id"] for p in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/api/v1/people?limit=2&cursor={cursor}", headers=auth).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == 5 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    bad = client.get("/api/v1/people?cursor=nonsense", headers=auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cursor"

"""A person's timeline across campaigns: both devices' actions after a merge, shares and the
friend they brought, rewards the system gave them, newest first, page by page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.incentives import service as incentives
from im2.participation.senders import MemorySender
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.helpers import verify
from tests.test_polls import live_campaign, vote_url
from tests.test_sharing import _get_link


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _timeline(client: TestClient, brand: Brand, person_id: int, **params: object) -> dict:
    found = client.get(
        f"/api/v1/people/{person_id}/timeline", params=params, headers=brand.auth(Role.EDITOR)
    )
    assert found.status_code == 200, found.text
    return found.json()


def test_two_devices_one_timeline_with_share_friend_and_points(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,
    clock: ManualClock,
    db: Database,
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    # Phone A votes and verifies a number.
    assert (
        client.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        ).status_code
        == 201
    )
    verify(client, slug, outbox, "phone", "13800138000")
    # Later phone B opens the campaign and verifies the same number: one person.
    clock.advance(timedelta(minutes=10))
    client.cookies.clear()
    client.get(f"/c/{slug}")
    verify(client, slug, outbox, "phone", "13800138000")
    # Phone B shares; a friend opens the link and votes.
    code = _get_link(client, slug)
    clock.advance(timedelta(minutes=5))
    friend = TestClient(client.app)
    friend.get(f"/s/{code}?ch=wechat", follow_redirects=False)
    assert (
        friend.post(
            vote_url(slug, poll_id), json={"options": [options[1]], "consent": True}
        ).status_code
        == 201
    )
    people = client.get("/api/v1/people", headers=brand.auth(Role.EDITOR)).json()["items"]
    ours = next(p for p in people if p["identities"].get("device") == 2)
    friend_person = next(p for p in people if p["id"] != ours["id"])
    # The system gives phone A's participant points.
    detail = client.get(f"/api/v1/people/{ours['id']}", headers=brand.auth(Role.EDITOR)).json()
    first_participant = min(
        int(i["value"]) for i in detail["identities"] if i["kind"] == "participant"
    )
    clock.advance(timedelta(minutes=1))
    with db.transaction() as session:
        incentives.award_points(
            session,
            workspace_id=brand.workspace_id,
            campaign_id=None,
            participant_id=first_participant,
            points=1200,
            key="test:welcome",
            reason="welcome",
            now=clock.now(),
        )

    timeline = _timeline(client, brand, ours["id"])
    kinds = [item["kind"] for item in timeline["items"]]
    # Newest first: the points, the friend's join through the link, the share, then the
    # actions of both phones.
    assert kinds[0] == "points.awarded"
    assert timeline["items"][0]["detail"] == "1,200 points"
    assert "vote.cast" in kinds  # phone A's vote
    assert kinds.count("participant.verified") == 2  # one on each phone
    assert "campaign.viewed" in kinds  # phone B's visit before it was known
    assert "share.created" in kinds
    brought = [i for i in timeline["items"] if i["brought_person_id"] is not None]
    assert [b["brought_person_id"] for b in brought] == [friend_person["id"]]
    assert brought[0]["label"] == "Brought a friend"
    assert all(i["campaign_name"] for i in timeline["items"] if i["kind"] != "points.awarded")
    ids = [i["event_id"] for i in timeline["items"]]
    times = [i["occurred_at"] for i in timeline["items"]]
    assert times == sorted(times, reverse=True)
    # The friend's own vote is not on our timeline, and ours is not on theirs.
    theirs = _timeline(client, brand, friend_person["id"])
    assert [i["kind"] for i in theirs["items"]].count("vote.cast") == 1
    assert kinds.count("vote.cast") == 1

    # Page by page: the same events, once each.
    seen: list[int] = []
    cursor = None
    while True:
        page = _timeline(
            client, brand, ours["id"], limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen.extend(i["event_id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_timeline_is_refused_to_analysts_and_other_workspaces(
    client: TestClient, brand: Brand
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    [person] = client.get("/api/v1/people", headers=brand.auth(Role.EDITOR)).json()["items"]
    refused = client.get(
        f"/api/v1/people/{person['id']}/timeline", headers=brand.auth(Role.ANALYST)
    )
    assert refused.status_code == 403
    missing = client.get("/api/v1/people/999999/timeline", headers=brand.auth(Role.EDITOR))
    assert missing.status_code == 404
    bad = client.get(
        f"/api/v1/people/{person['id']}/timeline?cursor=nonsense", headers=brand.auth(Role.EDITOR)
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cursor"

"""A withdrawal of "sharing with third parties" takes effect at once for webhooks: nothing about
that person is queued after it, and what was queued before is not sent."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

import im2.jobs  # noqa: F401  (registers the consent check of the webhook outbox)
from im2.clock import ManualClock
from im2.db import Database
from im2.webhooks.jobs import send_webhooks_job
from im2.webhooks.service import WITHHELD_ERROR
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.helpers import me_post
from tests.test_polls import POLL, live_campaign, vote_url
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401
from tests.webhooks.test_webhooks import add_endpoint, deliveries, outbox


def _participant(payload: bytes) -> str:
    return str(json.loads(payload)["actor"]["id"])


def test_withdrawn_people_are_not_sent_to_receivers(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    receiver: Receiver,  # noqa: F811
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    add_endpoint(client, brand, receiver.url, ["vote.cast", "participant.joined"])
    stays = TestClient(client.app)
    leaves = TestClient(client.app)
    for phone in (stays, leaves):
        voted = phone.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
        assert voted.status_code == 201, voted.text
    # Queued while both had not withdrawn anything.
    assert outbox(db, clock) >= 1
    queued = deliveries(client, brand)
    assert len(queued) == 4  # a join and a vote each

    withdrawn = me_post(leaves, slug, "consents", {"purpose": "third_party", "action": "withdraw"})
    assert withdrawn.status_code == 303
    assert send_webhooks_job(db, clock) == 2  # the two of the person who stays
    sent = {_participant(r.body) for r in receiver.requests}
    assert len(sent) == 1
    held = [d for d in deliveries(client, brand) if d["status"] == "failed"]
    assert len(held) == 2
    assert all(d["last_error"] == WITHHELD_ERROR for d in held)

    # After the withdrawal nothing of theirs is even queued; the other person's vote is.
    auth = brand.auth(Role.OWNER)
    campaign_id = client.get("/api/v1/campaigns?status=live", headers=auth).json()["items"][0]["id"]
    second = client.post(f"/api/v1/campaigns/{campaign_id}/polls", json=POLL, headers=auth)
    assert second.status_code == 201, second.text
    poll2 = second.json()["id"]
    options2 = [
        o["id"]
        for o in client.get(f"/api/v1/polls/{poll2}/results", headers=auth).json()["options"]
    ]
    for phone in (stays, leaves):
        voted = phone.post(vote_url(slug, poll2), json={"options": [options2[0]]})
        assert voted.status_code == 201, voted.text
    before = len(deliveries(client, brand))
    assert outbox(db, clock) >= 1
    assert len(deliveries(client, brand)) == before + 1
    assert send_webhooks_job(db, clock) == 1
    assert {_participant(r.body) for r in receiver.requests} == sent

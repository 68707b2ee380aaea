"""Outbound webhooks against a real receiver on loopback: signed deliveries, retries with
growing delays, re-send, a slow receiver that never slows a vote, and bad URLs refused."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient

from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.webhooks.jobs import SETTLE_POSTGRES, enqueue_webhooks_job, send_webhooks_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_auth import login
from tests.test_polls import live_campaign, page_form, vote_url
from tests.webhooks.conftest import Receiver


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (docs/webhooks.md): HMAC-SHA256 over "<t>." + raw body."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def add_endpoint(client: TestClient, brand: Brand, url: str, kinds: list[str]) -> dict[str, object]:
    created = client.post(
        "/api/v1/webhooks", json={"url": url, "kinds": kinds}, headers=brand.auth(Role.OWNER)
    )
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


def outbox(db: Database, clock: ManualClock) -> int:
    """Run the outbox once the events have settled (PostgreSQL waits a few seconds)."""
    clock.advance(SETTLE_POSTGRES + timedelta(seconds=1))
    return enqueue_webhooks_job(db, clock)


def deliveries(client: TestClient, brand: Brand) -> list[dict[str, object]]:
    page = client.get("/api/v1/webhooks/deliveries", headers=brand.auth(Role.ANALYST))
    assert page.status_code == 200, page.text
    items: list[dict[str, object]] = page.json()["items"]
    return items


def test_a_vote_is_delivered_signed_once(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, receiver: Receiver
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    endpoint = add_endpoint(client, brand, receiver.url, ["vote.cast"])
    secret = str(endpoint["secret"])
    assert secret.startswith("whsec_")
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=brand.auth(Role.OWNER))
    assert "secret" not in shown.json()  # shown once, at creation
    assert shown.json()["secret_hint"] == secret[-4:]

    voted = client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201
    assert receiver.requests == []  # nothing is sent inside the request

    assert outbox(db, clock) >= 1
    assert outbox(db, clock) == 0  # a second run reads nothing new
    assert send_webhooks_job(db, clock) == 1
    assert send_webhooks_job(db, clock) == 0  # delivered: never sent again

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert verify(secret, got.headers["im2-signature"], got.body)
    assert not verify(secret + "x", got.headers["im2-signature"], got.body)
    assert got.headers["im2-event"] == "vote.cast"
    payload = json.loads(got.body)
    assert payload["kind"] == "vote.cast"
    assert payload["activity_id"] == poll_id
    assert payload["occurred_at"] == "2026-03-02T02:00:00+00:00"

    [log] = deliveries(client, brand)
    assert log["status"] == "delivered"
    assert log["attempts"] == 1
    assert log["last_status_code"] == 200
    assert log["last_response"] == '{"ok": true}'
    assert log["next_attempt_at"] is None


def test_a_failing_receiver_is_retried_with_growing_delays_then_failed_and_resent(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, receiver: Receiver
) -> None:
    receiver.status = 503
    receiver.reply = "maintenance until 04:00"
    slug, poll_id, options = live_campaign(client, brand)
    add_endpoint(client, brand, receiver.url, ["vote.cast"])
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    outbox(db, clock)

    delays: list[float] = []
    rng = random.Random(7)
    for attempt in range(1, 6):
        assert send_webhooks_job(db, clock, max_attempts=5, rng=rng) == 1
        [log] = deliveries(client, brand)
        assert log["attempts"] == attempt
        assert log["last_status_code"] == 503
        assert log["last_response"] == "maintenance until 04:00"
        if attempt < 5:
            assert log["status"] == "pending"
            due = str(log["next_attempt_at"])
            wait = (
                clock.now().fromisoformat(due)
                - clock.now().fromisoformat(str(log["last_attempt_at"]))
            ).total_seconds()
            delays.append(wait)
            # Not due yet: a run before the time sends nothing.
            assert send_webhooks_job(db, clock, max_attempts=5, rng=rng) == 0
            clock.advance(timedelta(seconds=wait))
    assert len(receiver.requests) == 5
    assert all(later > earlier * 1.4 for earlier, later in itertools.pairwise(delays))
    assert delays[0] >= 20  # seconds, not a hot loop
    [log] = deliveries(client, brand)
    assert log["status"] == "failed"
    assert log["next_attempt_at"] is None

    # The console shows the failure; the brand re-sends once the receiver is back.
    login(client, brand.emails[Role.OWNER])
    page = client.get(f"/console/w/acme/webhooks/{log['endpoint_id']}")
    assert page.status_code == 200
    assert "HTTP 503" in page.text
    assert "maintenance until 04:00" in page.text
    assert "失败" in page.text
    form = page_form(client, f"/console/w/acme/webhooks/{log['endpoint_id']}")
    resent = client.post(
        f"/console/w/acme/webhooks/deliveries/{log['id']}/resend",
        data={"csrf_token": form["csrf_token"]},
        follow_redirects=False,
    )
    assert resent.status_code == 303
    receiver.status = 200
    assert send_webhooks_job(db, clock) == 1
    [log] = deliveries(client, brand)
    assert (log["status"], log["attempts"], log["resends"]) == ("delivered", 1, 1)
    assert len(receiver.requests) == 6
    assert receiver.requests[-1].body == receiver.requests[0].body  # the same event, re-sent


def test_resend_through_the_api_and_rotated_secret(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, receiver: Receiver
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    endpoint = add_endpoint(client, brand, receiver.url, ["vote.cast", "participant.joined"])
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    outbox(db, clock)
    assert send_webhooks_job(db, clock) == 2  # joined + voted
    assert {r.headers["im2-event"] for r in receiver.requests} == {
        "participant.joined",
        "vote.cast",
    }

    rotated = client.post(
        f"/api/v1/webhooks/{endpoint['id']}/secret", headers=brand.auth(Role.OWNER)
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]
    vote = next(d for d in deliveries(client, brand) if d["kind"] == "vote.cast")
    assert (
        client.post(
            f"/api/v1/webhooks/deliveries/{vote['id']}/resend", headers=brand.auth(Role.EDITOR)
        ).status_code
        == 403
    )
    again = client.post(
        f"/api/v1/webhooks/deliveries/{vote['id']}/resend", headers=brand.auth(Role.OWNER)
    )
    assert again.status_code == 200
    assert again.json()["status"] == "pending"
    assert send_webhooks_job(db, clock) == 1
    last = receiver.requests[-1]
    assert verify(new_secret, last.headers["im2-signature"], last.body)
    assert not verify(str(endpoint["secret"]), last.headers["im2-signature"], last.body)

    # A paused endpoint gets nothing new.
    paused = client.patch(
        f"/api/v1/webhooks/{endpoint['id']}", json={"active": False}, headers=brand.auth(Role.OWNER)
    )
    assert paused.json()["active"] is False
    other = TestClient(client.app)
    other.post(vote_url(slug, poll_id), json={"options": [options[1]], "consent": True})
    outbox(db, clock)
    assert send_webhooks_job(db, clock) == 0


def test_urls_that_are_not_http_are_refused_and_nothing_is_written(
    client: TestClient, brand: Brand
) -> None:
    auth = brand.auth(Role.OWNER)
    for url in ("ftp://shop.example.com/hook", "javascript:alert(1)", "shop.example.com/hook"):
        refused = client.post(
            "/api/v1/webhooks", json={"url": url, "kinds": ["vote.cast"]}, headers=auth
        )
        assert refused.status_code == 422, url
        error = refused.json()["error"]
        assert error["field"] == "url"
        assert "http:// or https://" in error["message"]
    no_host = client.post(
        "/api/v1/webhooks", json={"url": "https:///hook", "kinds": ["vote.cast"]}, headers=auth
    )
    assert no_host.status_code == 422
    unknown = client.post(
        "/api/v1/webhooks",
        json={"url": "https://x.example/h", "kinds": ["vote.casted"]},
        headers=auth,
    )
    assert unknown.status_code == 422
    assert "vote.casted" in unknown.json()["error"]["message"]
    assert client.get("/api/v1/webhooks", headers=auth).json() == []
    editor = client.post(
        "/api/v1/webhooks",
        json={"url": "https://x.example/h", "kinds": ["vote.cast"]},
        headers=brand.auth(Role.EDITOR),
    )
    assert editor.status_code == 403

    # The console form says the same, in Chinese, and keeps what was typed.
    login(client, brand.emails[Role.OWNER])
    form = page_form(client, "/console/w/acme/webhooks")
    page = client.post(
        "/console/w/acme/webhooks",
        data={
            "csrf_token": form["csrf_token"],
            "url": "ftp://shop.example.com/hook",
            "kinds": "vote.cast",
        },
    )
    assert page.status_code == 422
    assert "http:// 或 https://" in page.text
    assert 'value="ftp://shop.example.com/hook"' in page.text
    assert client.get("/api/v1/webhooks", headers=auth).json() == []

    created = client.post(
        "/console/w/acme/webhooks",
        data={
            "csrf_token": form["csrf_token"],
            "url": "https://shop.example.com/hook",
            "kinds": ["vote.cast", "conversion.recorded"],
            "active": "on",
        },
    )
    assert created.status_code == 201
    secret = re.search(r'id="webhook-secret">(whsec_[^<]+)<', created.text)
    assert secret is not None
    endpoint_id = client.get("/api/v1/webhooks", headers=auth).json()[0]["id"]
    assert secret.group(1) not in client.get(f"/console/w/acme/webhooks/{endpoint_id}").text


def test_a_slow_receiver_never_slows_a_vote(
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    receiver: Receiver,
) -> None:
    receiver.delay = 3.0
    with TestClient(live_server.app) as setup:
        slug, poll_id, options = live_campaign(setup, brand)
        add_endpoint(setup, brand, receiver.url, ["vote.cast"])
    with httpx.Client(base_url=live_server.url) as first:
        first.get(f"/c/{slug}")
        assert (
            first.post(
                vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
            ).status_code
            == 201
        )
    outbox(db, clock)

    sender = threading.Thread(target=send_webhooks_job, args=(db, clock), kwargs={"timeout": 10})
    sender.start()
    assert receiver.arrived.wait(10)  # the receiver holds the delivery for 3 s from now
    took = []
    for n in range(3):
        with httpx.Client(base_url=live_server.url) as voter:
            voter.get(f"/c/{slug}")
            started = time.monotonic()
            voted = voter.post(
                vote_url(slug, poll_id), json={"options": [options[n % 3]], "consent": True}
            )
            took.append(time.monotonic() - started)
            assert voted.status_code == 201, voted.text
    still_sending = sender.is_alive()
    sender.join(20)
    assert still_sending  # the votes really happened while the receiver was sleeping
    assert max(took) < 1.5, took
    with TestClient(live_server.app) as check:
        [log] = deliveries(check, brand)
    assert log["status"] == "delivered"
    assert int(str(log["last_duration_ms"])) >= 2900


def test_receivers_inside_the_servers_network_are_refused_unless_allowed(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    settings: Settings,
    receiver: Receiver,
) -> None:
    """Production refuses receivers that are not on the public internet (a workspace owner
    must not make the server call its own network or the cloud metadata address): at saving
    time for addresses written out, and before every attempt for what a name resolves to."""
    strict = create_app(
        settings.model_copy(update={"webhook_allow_private_networks": False}), db=db, clock=clock
    )
    auth = brand.auth(Role.OWNER)
    with TestClient(strict) as api:
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.1.2.3/hook",
            "https://192.168.0.10/hook",
            "http://[::1]/hook",
            "http://[::ffff:172.16.0.1]/hook",
            "https://localhost/hook",
            "http://printer.local/hook",
        ):
            refused = api.post(
                "/api/v1/webhooks", json={"url": url, "kinds": ["vote.cast"]}, headers=auth
            )
            assert refused.status_code == 422, url
            assert refused.json()["error"]["field"] == "url"
            assert "not a public internet address" in refused.json()["error"]["message"]
        assert api.get("/api/v1/webhooks", headers=auth).json() == []
        public = api.post(
            "/api/v1/webhooks",
            json={"url": "https://93.184.215.14/hook", "kinds": ["vote.cast"]},
            headers=auth,
        )
        assert public.status_code == 201
        moved = api.patch(
            f"/api/v1/webhooks/{public.json()['id']}",
            json={"url": "http://127.0.0.1/hook"},
            headers=auth,
        )
        assert moved.status_code == 422
        api.delete(f"/api/v1/webhooks/{public.json()['id']}", headers=auth)

    # An endpoint saved where private receivers are allowed, sent by a strict sender: the
    # attempt is refused and logged with the reason, and nothing reaches the receiver.
    slug, poll_id, options = live_campaign(client, brand)
    add_endpoint(client, brand, receiver.url, ["vote.cast"])
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    outbox(db, clock)
    assert send_webhooks_job(db, clock, private_networks=False) == 1
    assert receiver.requests == []
    [log] = deliveries(client, brand)
    assert log["status"] == "pending"
    assert "127.0.0.1" in str(log["last_error"])
    assert "IM2_WEBHOOK_ALLOW_PRIVATE_NETWORKS" in str(log["last_error"])

    clock.advance(timedelta(minutes=5))
    assert send_webhooks_job(db, clock, private_networks=True) == 1
    assert len(receiver.requests) == 1

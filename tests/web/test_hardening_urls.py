"""Outbound URLs are read by one parser when saved and again before every call: every spelling
of an inside address is refused, and a broken URL is a 422 on its field, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from im2 import outbound
from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.listening import feeds
from im2.listening.schemas import Platform
from im2.webhooks.jobs import send_webhooks_job
from im2.webhooks.models import WebhookEndpoint
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.listening.conftest import loopback_server
from tests.test_polls import live_campaign, vote_url
from tests.webhooks.test_webhooks import add_endpoint, deliveries, outbox

# Each of these is 127.0.0.1 (or another inside address) to a browser, to C's inet_aton or to
# a NAT64 gateway.
LOOPBACK_SPELLINGS = (
    "http://0177.0.0.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://017700000001/hook",
    "http://127.1/hook",
    "http://0/hook",
    "http://127。0。0。1/hook",
    "http://127．0．0．1/hook",
    "http://[64:ff9b::7f00:1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[2002:7f00:1::]/hook",
    "http://[fe80::1]/hook",
    "http://169.254.169.254./latest",
    "http://100.64.0.1/hook",
    "http://239.1.2.3/hook",
)
BROKEN = (
    "http://[x/feed",
    "http://exa\x01mple.com/feed",
    "http://example.com/fe\ted",
    "http://example.com\\@evil.example/",
    "http://999.1.1.1/feed",
    "http://1.2.3.4.5/feed",
    "http://example.com:99999/feed",
    "http://[::1%25eth0]/feed",
)


@pytest.fixture
def strict(settings: Settings, db: Database, clock: ManualClock) -> Iterator[TestClient]:
    """A server as in production: nothing inside its own network is called."""
    app = create_app(
        settings.model_copy(update={"webhook_allow_private_networks": False}), db=db, clock=clock
    )
    with TestClient(app) as api:
        yield api


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://2130706433:8080/x", "http://127.0.0.1:8080/x"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://127。0。0。1/", "http://127.0.0.1/"),
        ("HTTPS://Example.COM:443/a?b=1#frag", "https://example.com/a?b=1"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
    ],
)
def test_an_address_has_one_spelling(written: str, canonical: str) -> None:
    assert outbound.parse_url(written).url == canonical


def test_public_addresses_behind_translation_stay_usable() -> None:
    for url in ("http://[64:ff9b::93.184.215.14]/", "http://[::ffff:93.184.215.14]/"):
        destination = outbound.parse_url(url)
        assert outbound.non_public(destination.host, destination.address) is None


def test_a_broken_feed_url_is_a_422_on_its_field(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    for url in BROKEN:
        response = client.post("/api/v1/listening/feeds", json={"url": url}, headers=owner)
        assert response.status_code == 422, url
        assert response.json()["error"]["field"] == "url", url
    assert client.get("/api/v1/listening/feeds", headers=owner).json() == []


def test_every_spelling_of_an_inside_address_is_refused_when_saved(
    strict: TestClient, brand: Brand
) -> None:
    owner = brand.auth(Role.OWNER)
    for url in LOOPBACK_SPELLINGS:
        feed = strict.post("/api/v1/listening/feeds", json={"url": url}, headers=owner)
        assert feed.status_code == 422, url
        assert feed.json()["error"]["field"] == "url"
        assert "not a public internet address" in feed.json()["error"]["message"], url

        hook = strict.post(
            "/api/v1/webhooks", json={"url": url, "kinds": ["vote.cast"]}, headers=owner
        )
        assert hook.status_code == 422, url
        assert hook.json()["error"]["field"] == "url"

        alert = strict.put("/api/v1/listening/settings", json={"webhook_url": url}, headers=owner)
        assert alert.status_code == 422, url
        assert alert.json()["error"]["field"] == "webhook_url"

    for host in ("2130706433", "0x7f.1", "[::1]", "127。0。0。1"):
        mail = strict.put(
            "/api/v1/listening/settings",
            json={"smtp_host": host, "alert_emails": ["ops@example.com"]},
            headers=owner,
        )
        assert mail.status_code == 422, host
        assert mail.json()["error"]["field"] == "smtp_host"


def test_the_canonical_spelling_is_what_is_stored(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    feed = client.post(
        "/api/v1/listening/feeds", json={"url": "http://0x7f000001:8080/feed.xml"}, headers=owner
    )
    assert feed.status_code == 201, feed.text
    assert feed.json()["url"] == "http://127.0.0.1:8080/feed.xml"

    saved = client.put(
        "/api/v1/listening/settings",
        json={"webhook_url": "http://127.1/alert", "smtp_host": "SMTP.Example.COM"},
        headers=owner,
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["webhook_url"], saved.json()["smtp_host"]) == (
        "http://127.0.0.1/alert",
        "smtp.example.com",
    )


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        _Hook.received.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_legacy_receiver_in_another_spelling_is_checked_again_when_sent(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """An endpoint saved before the check (here written into the database) whose URL spells
    the loopback address as a number: a strict sender refuses it, a sender allowed to reach
    its own network calls it at the address it checked."""
    _Hook.received = []
    with loopback_server(_Hook) as base:
        port = base.rsplit(":", 1)[1]
        slug, poll_id, options = live_campaign(client, brand)
        endpoint = add_endpoint(client, brand, f"{base}/hook", ["vote.cast"])
        with db.transaction() as session:
            row = session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint["id"])
            ).one()
            row.url = f"http://2130706433:{port}/hook"
        client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
        outbox(db, clock)

        assert send_webhooks_job(db, clock, private_networks=False) == 1
        assert _Hook.received == []
        [log] = deliveries(client, brand)
        assert log["status"] == "pending"
        assert "127.0.0.1" in str(log["last_error"])

        clock.advance(timedelta(minutes=5))
        assert send_webhooks_job(db, clock, private_networks=True) == 1
        assert len(_Hook.received) == 1


def test_a_feed_is_read_again_before_it_is_fetched() -> None:
    """Legacy feed rows and redirects go through the same reading: no request is made."""
    for url in ("http://0x7f000001/feed", "http://[64:ff9b::7f00:1]/feed", "http://127。1/"):
        due = feeds.DueFeed(1, 1, url, Platform.RSS, None, None)
        fetched = feeds.fetch(due, private_networks=False)
        assert fetched.status == 0
        assert str(fetched.error).startswith("refused: "), url
    broken = feeds.fetch(feeds.DueFeed(1, 1, "http://[x/feed", Platform.RSS, None, None))
    assert str(broken.error).startswith("refused: ")

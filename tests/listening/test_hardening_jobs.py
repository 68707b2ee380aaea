"""One bad feed never stops the feeds after it, in any workspace (issue 16: the poll job failed
on one legacy URL every tick, 420 times in a row, and no later feed was ever polled)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.listening import feeds
from im2.listening.jobs import poll_feeds_job
from im2.listening.models import Feed
from im2.workspaces.schemas import Role
from tests.conftest import Brand, make_brand
from tests.listening.test_api import feed_server as feed_server  # the loopback RSS server


def _legacy_feed(db: Database, *, workspace_id: int, url: str, clock: ManualClock) -> int:
    """A row saved before URLs were checked, written straight into the database."""
    with db.transaction() as session:
        row = Feed(
            workspace_id=workspace_id,
            url=url,
            platform="rss",
            interval_minutes=15,
            created_at=clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id


@pytest.fixture
def other(db: Database, clock: ManualClock) -> Brand:
    return make_brand(db, slug="globex", now=clock.now())


def _feeds(client: TestClient, brand: Brand) -> Iterator[dict[str, object]]:
    listed = client.get("/api/v1/listening/feeds", headers=brand.auth(Role.ANALYST))
    assert listed.status_code == 200, listed.text
    yield from listed.json()


@pytest.mark.parametrize(
    "legacy_url", ["http://0177.0.0.1\x01/feed", "http://[x/feed", "http://exa mple.com/"]
)
def test_a_legacy_bad_url_does_not_stop_the_next_workspaces_feed(
    client: TestClient,
    brand: Brand,
    other: Brand,
    db: Database,
    clock: ManualClock,
    feed_server: str,
    legacy_url: str,
) -> None:
    bad = _legacy_feed(db, workspace_id=other.workspace_id, url=legacy_url, clock=clock)
    added = client.post(
        "/api/v1/listening/feeds", json={"url": feed_server}, headers=brand.auth(Role.EDITOR)
    )
    assert added.status_code == 201, added.text
    assert added.json()["id"] > bad  # polled after the bad one

    assert poll_feeds_job(db, clock) == 2  # the good feed's two entries

    [good] = _feeds(client, brand)
    assert good["last_polled_at"] is not None
    assert good["last_error"] is None
    [broken] = _feeds(client, other)
    assert broken["last_polled_at"] is not None
    assert broken["last_error"]


def test_a_feed_that_fails_unforeseen_records_it_and_the_rest_go_on(
    client: TestClient,
    brand: Brand,
    other: Brand,
    db: Database,
    clock: ManualClock,
    feed_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = _legacy_feed(
        db, workspace_id=other.workspace_id, url="https://feeds.example.com/x", clock=clock
    )
    client.post(
        "/api/v1/listening/feeds", json={"url": feed_server}, headers=brand.auth(Role.EDITOR)
    )
    real_fetch = feeds.fetch

    def fetch(feed: feeds.DueFeed, **kwargs: object) -> feeds.Fetched:
        if feed.id == bad:
            raise RuntimeError("a parser bug nobody foresaw")
        return real_fetch(feed)

    monkeypatch.setattr(feeds, "fetch", fetch)

    assert poll_feeds_job(db, clock) == 2
    [broken] = _feeds(client, other)
    assert broken["last_error"] == "RuntimeError: a parser bug nobody foresaw"
    # Retried after its interval like any failed poll, not hammered at every tick.
    assert poll_feeds_job(db, clock) == 0
    mentions = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()
    assert len(mentions["items"]) == 2

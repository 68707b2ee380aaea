"""Every link a page builds from what someone typed or imported (a feed's URL, an alert's sample
post, a contest entry's video) is an href only when it is http(s): a row stored before the
checks existed, with a `javascript:` URL, is shown as text and never runs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from im2.activities.formats.ugc.models import UgcEntry
from im2.clock import ManualClock
from im2.db import Database
from im2.listening.models import Alert, Feed
from im2.workspaces.schemas import Role
from tests.activities.test_ugc import SLUG, approve, make_contest, submit
from tests.conftest import Brand
from tests.test_auth import login

EVIL = "javascript:alert(document.cookie)"
CONSOLE = "/console/w/acme"


def _no_script_href(html: str) -> None:
    assert 'href="javascript:' not in html.lower()


def test_a_legacy_feed_url_is_text_on_the_feeds_page(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    with db.transaction() as session:  # saved before feed URLs were checked
        session.add(
            Feed(
                workspace_id=brand.workspace_id,
                url=EVIL,
                platform="rss",
                interval_minutes=15,
                created_at=clock.now(),
            )
        )
    assert login(client, brand.emails[Role.EDITOR]) == 303

    page = client.get(f"{CONSOLE}/listening/feeds")

    assert page.status_code == 200
    _no_script_href(page.text)
    assert EVIL in page.text  # still shown, as text


def test_a_legacy_sample_post_url_is_text_on_the_alerts_page(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    sample = {"author": "路人甲", "text": "又坏了", "sentiment": "negative", "url": EVIL}
    with db.transaction() as session:
        session.add(
            Alert(
                workspace_id=brand.workspace_id,
                kind="volume",
                window_start=clock.now(),
                window_end=clock.now(),
                observed=40.0,
                baseline=4.0,
                score=9.0,
                mentions=40,
                samples=[sample],
                raised_at=clock.now(),
            )
        )
    assert login(client, brand.emails[Role.EDITOR]) == 303

    page = client.get(f"{CONSOLE}/listening/alerts")

    assert page.status_code == 200
    assert "又坏了" in page.text
    _no_script_href(page.text)


def test_a_legacy_video_link_is_never_an_href(
    client: TestClient, brand: Brand, db: Database
) -> None:
    _campaign, contest = make_contest(client, brand)
    sent = submit(
        client,
        contest,
        video_url="https://www.bilibili.com/video/BV1GJ411x7h7",
        caption="春日vlog",
    )
    assert sent.status_code == 201, sent.text
    entry_id = sent.json()["entry"]["id"]
    with db.transaction() as session:  # stored before video links were checked
        session.execute(update(UgcEntry).values(video_url=EVIL))
    assert login(client, brand.emails[Role.EDITOR]) == 303
    queue = client.get(f"{CONSOLE}/ugc/{contest}/queue")  # waiting for review
    assert queue.status_code == 200
    assert "春日vlog" in queue.text
    _no_script_href(queue.text)

    approve(client, brand, contest, entry_id)
    pages = [
        f"{CONSOLE}/ugc/{contest}",
        f"/c/{SLUG}/ugc/{contest}",
        f"/c/{SLUG}/ugc/{contest}/gallery",
        f"/c/{SLUG}/ugc/{contest}/entries/{entry_id}",
    ]
    for path in pages:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "春日vlog" in page.text, path
        _no_script_href(page.text)

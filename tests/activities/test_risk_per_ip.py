"""The "many new identities from one IP" risk signal, as a brand reviewing held votes sees it.

The count behind it stops at the limit + 1 (a busy IP would otherwise cost every vote a longer
count as the hour fills), so these tests check the decisions and counts around that cap."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.activities.formats.poll.models import PollBallot
from im2.app import create_app
from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.participation import service as participation
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url

BUSY = "203.0.113.10"  # a venue's Wi-Fi: many phones behind one address
QUIET = "198.51.100.20"
LIMIT = 3


def _vote(client: TestClient, slug: str, activity_id: int, option: int, ip: str) -> dict:
    client.cookies.clear()  # a new phone each time
    voted = client.post(
        vote_url(slug, activity_id),
        json={"options": [option], "consent": True},
        headers={"X-Forwarded-For": ip},
    )
    assert voted.status_code == 201, voted.text
    return voted.json()


def test_votes_past_the_per_ip_limit_are_held_with_the_reason_and_others_are_not(
    settings: Settings, db: Database, clock: ManualClock, brand: Brand
) -> None:
    # A new phone voting without the page scores 0.2, the IP signal adds 0.4: hold at 0.5.
    strict = settings.model_copy(
        update={
            "risk_hold_threshold": 0.5,
            "risk_identities_per_ip_hour": LIMIT,
            "trust_forwarded_for": True,  # each phone's address, as a reverse proxy passes it
        }
    )
    with TestClient(create_app(strict, db=db, clock=clock)) as client:
        slug, activity_id, options = live_campaign(client, brand)
        busy = [_vote(client, slug, activity_id, options[0], BUSY) for _ in range(LIMIT + 4)]
        quiet = [_vote(client, slug, activity_id, options[1], QUIET) for _ in range(2)]
    assert [r["held_for_review"] for r in busy] == [False] * LIMIT + [True] * 4
    assert not any(r["held_for_review"] for r in quiet)
    with db.session() as session:
        reasons = [
            r or ""
            for r in session.scalars(
                select(PollBallot.risk_reasons)
                .where(PollBallot.activity_id == activity_id)
                .order_by(PollBallot.id)
            )
        ]
    over = f"over {LIMIT} new identities from this IP in an hour"
    assert [over in r for r in reasons] == [False] * LIMIT + [True] * 4 + [False] * 2


def test_the_capped_count_is_exact_below_the_cap_and_the_cap_above_it(
    settings: Settings, db: Database, clock: ManualClock, brand: Brand
) -> None:
    behind_proxy = settings.model_copy(update={"trust_forwarded_for": True})
    with TestClient(create_app(behind_proxy, db=db, clock=clock)) as client:
        slug, activity_id, options = live_campaign(client, brand)
        for _ in range(6):
            _vote(client, slug, activity_id, options[0], BUSY)
        for _ in range(2):
            _vote(client, slug, activity_id, options[0], QUIET)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    ips = [BUSY, QUIET, "192.0.2.99"]
    with db.session() as session:
        exact = participation.identities_from_ips(
            session, workspace_id=brand.workspace_id, ips=ips, since=since
        )
        capped = participation.identities_from_ips(
            session, workspace_id=brand.workspace_id, ips=ips, since=since, at_most=4
        )
        one = participation.identities_from_ips(
            session, workspace_id=brand.workspace_id, ips=[BUSY], since=since, at_most=4
        )
    assert exact == {BUSY: 6, QUIET: 2}
    assert capped == {BUSY: 4, QUIET: 2}
    assert one == {BUSY: 4}

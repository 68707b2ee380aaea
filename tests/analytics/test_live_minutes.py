"""The live minute view: participants and interactions per minute over the last hour, in the
campaign's time zone, with quiet minutes shown as zeros and older events left out."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.workspaces.schemas import Role
from tests.analytics.conftest import add_events
from tests.analytics.test_metrics import make_campaign
from tests.conftest import Brand
from tests.test_auth import login


def embedded(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="minutes-data">(.*?)</script>', html, re.S
    )
    assert match, "the page carries no data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_the_last_hour_per_minute(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)  # Asia/Shanghai, UTC+8
    other = make_campaign(client, brand, slug="another-one")
    clock.advance(timedelta(seconds=30))
    now = clock.now()
    add_events(
        db,
        [
            (K.VOTE_CAST, 1, now - timedelta(seconds=20)),
            (K.PARTICIPANT_JOINED, 2, now - timedelta(seconds=15)),
            (K.VOTE_CAST, 2, now - timedelta(seconds=10)),
            (K.QUIZ_ANSWERED, 1, now - timedelta(minutes=5)),
            (K.VOTE_CAST, 3, now - timedelta(hours=2)),  # before the window
        ],
        workspace_id=brand.workspace_id,
        campaign_id=campaign_id,
    )
    add_events(
        db,
        [(K.VOTE_CAST, 9, now)],
        workspace_id=brand.workspace_id,
        campaign_id=other,
    )
    local = (now + timedelta(hours=8)).strftime("%H:%M")
    five_ago = (now + timedelta(hours=8) - timedelta(minutes=5)).strftime("%H:%M")

    assert login(client, brand.emails[Role.VIEWER]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}"
    assert f'href="{base}/analytics/live"' in client.get(base).text
    page = client.get(base + "/analytics/live")
    assert page.status_code == 200
    assert "最近一小时（每分钟）" in page.text
    data = embedded(page.text)
    rows = data["rows"]
    assert len(rows) == 60
    assert rows[-1] == {"minute": local, "participants": 2, "interactions": 2}
    by_minute = {r["minute"]: r for r in rows}
    assert by_minute[five_ago] == {"minute": five_ago, "participants": 1, "interactions": 1}
    assert sum(r["interactions"] for r in rows) == 3  # the 2-hour-old vote is not in the hour
    assert data["hour_interactions"] == 3
    assert re.search(r'id="live-participants">2<', page.text)

    # The JSON the page asks for once a minute: the hour rolls on even when nobody acts.
    clock.advance(timedelta(minutes=1))
    later = client.get(base + "/analytics/live/data").json()
    assert later["rows"][-1]["interactions"] == 0
    assert later["rows"][-2] == rows[-1]

    # An unknown campaign is a 404, not an empty chart.
    assert client.get("/console/w/acme/campaigns/999999/analytics/live").status_code == 404

"""Cross-campaign comparison (API, console page, downloads) and per-activity figures."""

from __future__ import annotations

import csv
import io
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
from tests.analytics.test_metrics import START, make_campaign, story
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url


def two_campaigns(client: TestClient, brand: Brand, db: Database) -> tuple[int, int]:
    first = make_campaign(client, brand)
    story(db, brand, first)  # p1, p2, p4 take part; p1 buys for 100
    second = make_campaign(client, brand, slug="second-one", name="第二场")
    add_events(
        db,
        [
            (K.CAMPAIGN_VIEWED, "q1", START),
            (K.CAMPAIGN_VIEWED, "q2", START),
            (K.VOTE_CAST, "q1", START + timedelta(minutes=5)),
        ],
        workspace_id=brand.workspace_id,
        campaign_id=second,
    )
    return first, second


def test_campaigns_side_by_side(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    first, second = two_campaigns(client, brand, db)
    clock.advance(timedelta(days=10))
    response = client.get(
        "/api/v1/analytics/compare",
        params={"campaigns": f"{first},{second}", "metrics": "participants,revenue,viewers"},
        headers=brand.auth(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["id"] for c in body["campaigns"]] == [first, second]
    values = {m["key"]: m["values"] for m in body["metrics"]}
    assert values == {"participants": [3, 1], "revenue": [100, 0], "viewers": [3, 2]}

    # The console page and its download show the same numbers.
    assert login(client, brand.emails[Role.ANALYST]) == 303
    url = f"/console/w/acme/analytics/compare?campaign={first}&campaign={second}"
    page = client.get(url)
    assert page.status_code == 200
    assert "对比" in page.text
    shown = json.loads(
        re.search(r'id="compare-data">(.*?)</script>', page.text, re.S).group(1)  # type: ignore[union-attr]
    )
    by_key = {m["key"]: m["values"] for m in shown["metrics"]}
    assert by_key["participants"] == [3, 1]
    assert by_key["ugc_quality"] == [None, None]  # no works: empty, not 0 or NaN
    download = client.get(
        f"/console/w/acme/analytics/compare/export.csv?campaign={first}&campaign={second}"
    )
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    first_slug = body["campaigns"][0]["slug"]
    participants = next(r for r in rows if r["metric"] == "participants")
    assert float(participants[first_slug]) == 3
    assert float(participants["second-one"]) == 1
    xlsx = client.get(
        f"/console/w/acme/analytics/compare/export.xlsx?campaign={first}&campaign={second}"
    )
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"


def test_bad_comparisons(client: TestClient, brand: Brand, db: Database) -> None:
    first, second = two_campaigns(client, brand, db)
    viewer = brand.auth(Role.VIEWER)

    def ask(**params: Any) -> Any:
        return client.get("/api/v1/analytics/compare", params=params, headers=viewer)

    one = ask(campaigns=str(first))
    assert one.status_code == 422
    assert "at least two" in one.json()["error"]["message"]
    table = ask(campaigns=f"{first},{second}", metrics="timeseries")
    assert table.status_code == 422
    assert "timeseries" in table.json()["error"]["message"]
    unknown = ask(campaigns=f"{first},{second}", metrics="happiness")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "metrics"
    word = ask(campaigns=f"{first},abc")
    assert word.status_code == 422
    assert "abc" in word.json()["error"]["message"]
    missing = ask(campaigns=f"{first},999999")
    assert missing.status_code == 404
    inverted = ask(campaigns=f"{first},{second}", since="2026-03-05", until="2026-03-01")
    assert inverted.status_code == 422
    assert inverted.json()["error"]["field"] == "until"


def test_each_activity_has_its_own_figures(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    for _ in range(2):
        phone = TestClient(client.app)
        vote = phone.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
        assert vote.status_code == 201
    campaign_id = client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()["items"][
        0
    ]["id"]
    assert login(client, brand.emails[Role.VIEWER]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/analytics"
    listing = client.get(base + "/activities")
    assert listing.status_code == 200
    row = re.search(rf'<tr data-activity="{poll_id}">(.*?)</tr>', listing.text, re.S)
    assert row is not None
    participants = re.search(r'data-metric="participants">([^<]*)<', row.group(1))
    assert participants is not None
    assert participants.group(1).strip() == "2"

    detail = client.get(f"{base}/activities/{poll_id}")
    assert detail.status_code == 200
    assert "你最想喝哪款春季新品" in detail.text
    data = json.loads(
        re.search(r'id="analytics-data">(.*?)</script>', detail.text, re.S).group(1)  # type: ignore[union-attr]
    )
    assert data["activity_id"] == poll_id
    assert data["metrics"]["participants"]["value"] == 2
    # The downloads on an activity's page are that activity's data.
    assert f"/analytics/export/timeseries.csv?activity={poll_id}" in detail.text
    assert client.get(f"{base}/activities/999999").status_code == 404

"""The campaign dashboard: what a marketer sees, and that it shows the API's numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from typing import Any

import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.workspaces.schemas import Role
from tests.analytics.conftest import add_events
from tests.analytics.test_metrics import make_campaign, overview, story
from tests.conftest import Brand
from tests.test_auth import login


def embedded(html: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="analytics-data">(.*?)</script>', html, re.S
    )
    assert match, "the page carries no data"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def test_dashboard_shows_the_same_numbers_as_the_api_and_the_downloads(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(timedelta(days=10))
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}"

    detail = client.get(base)
    page = client.get(base + "/analytics")

    assert f'href="{base}/analytics"' in detail.text
    assert page.status_code == 200
    assert "数据分析" in page.text  # Chinese by default
    assert "AISAS 漏斗" in page.text
    assert '<script src="/static/vendor/echarts.min.js"' in page.text
    api = overview(client, brand, campaign_id)
    shown = embedded(page.text)["metrics"]
    assert {k: v["value"] for k, v in shown.items()} == {k: v["value"] for k, v in api.items()}
    live = client.get(base + "/analytics/data").json()["metrics"]
    assert live["timeseries"]["rows"] == api["timeseries"]["rows"]
    assert live["timeseries"]["name"] == "每日趋势"  # the console speaks Chinese, the API English

    csv_file = client.get(base + "/analytics/export/timeseries.csv")
    assert (
        csv_file.headers["content-disposition"]
        == 'attachment; filename="spring-vote-timeseries.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert [r["day"] for r in rows] == [r["day"] for r in api["timeseries"]["rows"]]
    assert rows[0]["revenue"] == "100.0"
    sheet = load_workbook(
        io.BytesIO(client.get(base + "/analytics/export/aisas_funnel.xlsx").content)
    ).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:3] == ["stage", "name", "people"]
    assert sheet["C2"].value == 4
    table = pq.read_table(io.BytesIO(client.get(base + "/analytics/export/reach.parquet").content))
    assert table.to_pylist() == [{"metric": "reach", "value": 4.0}]


def test_live_data_includes_a_vote_cast_a_moment_ago(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    assert login(client, brand.emails[Role.ANALYST]) == 303
    url = f"/console/w/acme/campaigns/{campaign_id}/analytics/data"
    assert client.get(url).json()["metrics"]["participants"]["value"] == 0

    add_events(db, [(K.VOTE_CAST, "p1", clock.now())], campaign_id=campaign_id)

    assert client.get(url).json()["metrics"]["participants"]["value"] == 1


def test_bad_filters_are_explained_on_the_page(client: TestClient, brand: Brand) -> None:
    campaign_id = make_campaign(client, brand)
    assert login(client, brand.emails[Role.ANALYST]) == 303

    page = client.get(
        f"/console/w/acme/campaigns/{campaign_id}/analytics",
        params={"since": "2026-03-05T10:00", "until": "2026-03-01T10:00"},
    )

    assert page.status_code == 422
    assert "结束时间" in page.text or "范围的结束" in page.text
    assert 'value="2026-03-05T10:00"' in page.text  # the form keeps what was typed


def test_an_empty_campaign_dashboard_renders(client: TestClient, brand: Brand) -> None:
    campaign_id = make_campaign(client, brand)
    assert login(client, brand.emails[Role.ANALYST]) == 303

    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/analytics")

    assert page.status_code == 200
    assert embedded(page.text)["metrics"]["interaction_rate"]["value"] is None

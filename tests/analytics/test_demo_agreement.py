"""Done-when of the analytics issue: for a demo campaign (what `im2 demo` seeds), the analytics
API, the dashboard's data endpoint and the campaign report show the same numbers, on every
overview metric the report shows, and none of them is empty."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from im2.campaigns.service import get_public_campaign
from im2.clock import ManualClock
from im2.db import Database
from im2.demo import DEMO_PASSWORD, DEMO_USERS, DEMO_WORKSPACE, load_demo
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.test_auth import login

DEMO_CAMPAIGN = "sakura-latte-feedback"  # the live one: views, votes, survey, Q&A, UGC …


def _tags(html: str, tag: str, attr: str) -> dict[str, dict[str, str]]:
    """The data-* attributes of each <tag> carrying data-<attr>, keyed by that attribute."""
    found: dict[str, dict[str, str]] = {}
    for opening in re.findall(rf"<{tag}\b[^>]*\bdata-{attr}=\"[^\"]*\"[^>]*>", html):
        attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', opening))
        found[attrs[attr]] = attrs
    return found


def _numbers(rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    return None if rows is None else [{k: v for k, v in r.items() if k != "name"} for r in rows]


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_api_dashboard_data_and_report_agree_for_a_demo_campaign(
    client: TestClient, db: Database, clock: ManualClock
) -> None:
    assert load_demo(db, now=clock.now())
    with db.transaction() as session:
        found = get_public_campaign(session, slug=DEMO_CAMPAIGN)
        assert found is not None
        system = workspaces.system_actor(session, workspace_slug=DEMO_WORKSPACE)
        token = workspaces.do_create_token(
            session, actor=system, name="test", role=Role.VIEWER, expires_at=None, now=clock.now()
        ).token
    campaign_id = found.campaign.id

    # The same instant for all three: the demo's numbers do not move in between.
    api_response = client.get(
        f"/api/v1/campaigns/{campaign_id}/overview",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert api_response.status_code == 200, api_response.text
    api: dict[str, dict[str, Any]] = api_response.json()["metrics"]
    analyst = next(email for email, _name, role in DEMO_USERS if role is Role.ANALYST)
    assert login(client, analyst, DEMO_PASSWORD) == 303
    base = f"/console/w/{DEMO_WORKSPACE}/campaigns/{campaign_id}"
    data_response = client.get(f"{base}/analytics/data")
    assert data_response.status_code == 200, data_response.text
    dashboard: dict[str, dict[str, Any]] = data_response.json()["metrics"]
    report = client.get(f"{base}/report")
    assert report.status_code == 200
    html = report.text

    # The dashboard's data is the API's, metric by metric, rows included (the names in the
    # rows are in each one's language: the console's Chinese, the API's English).
    assert dashboard.keys() == api.keys()
    for key, metric in api.items():
        assert dashboard[key]["value"] == pytest.approx(metric["value"]), key
        assert _numbers(dashboard[key]["rows"]) == _numbers(metric["rows"]), key

    # Every overview number the report shows is the API's, and the demo gives each a value.
    cards = _tags(html, "td", "metric")
    shown = [key for key in cards if key in api]
    assert {"participants", "reach", "interactions", "interaction_rate", "conversion_rate"} <= set(
        shown
    )
    for key in shown:
        value = _number(cards[key]["value"])
        if key == "roi" and not api["revenue"]["value"]:
            assert value is None  # no revenue recorded: ROI does not apply ("—")
            continue
        assert value is not None, f"{key} is empty on the demo"
        assert value == pytest.approx(api[key]["value"]), key
    # The people behind the rates: more looked than took part, and some of them interacted.
    assert api["reach"]["value"] > api["participants"]["value"] > 0
    assert api["interaction_rate"]["value"] > 0

    kpis = _tags(html, "tr", "metric")
    api_kpis = {row["metric"]: row for row in api["kpi_progress"]["rows"]}
    assert kpis.keys() == api_kpis.keys() == {"participants", "interaction_rate"}
    for key, row in api_kpis.items():
        assert row["value"] is not None, f"KPI {key} has no value on the demo"
        assert _number(kpis[key]["value"]) == pytest.approx(row["value"]), key
        assert _number(kpis[key]["target"]) == row["target"], key
        assert _number(kpis[key]["progress"]) == pytest.approx(row["progress"]), key

    stages = {k: _number(v["people"]) for k, v in _tags(html, "tr", "stage").items()}
    api_stages = {r["stage"]: r["people"] for r in api["aisas_funnel"]["rows"]}
    assert stages == api_stages
    # People saw, interacted, came through shares or search and took part (the live demo
    # campaign has no share links: its Share stage is an honest 0).
    assert all(api_stages[s] > 0 for s in ("attention", "interest", "search", "action")), api_stages

    channels = {k: _number(v["reach"]) for k, v in _tags(html, "tr", "channel").items()}
    api_channels = {r["channel"]: r["reach"] for r in api["coverage_by_channel"]["rows"]}
    assert channels == api_channels
    assert len(api_channels) > 1

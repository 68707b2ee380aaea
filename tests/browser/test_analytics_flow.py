"""A marketer watches a campaign dashboard: a vote moves a KPI card without a reload (pushed
over SSE), a chart's CSV downloads with the same number, and the campaign report's PDF holds
the KPI table."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.workspaces.schemas import Role
from tests.analytics.conftest import add_events
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser


def _live_poll(server: LiveServer, brand: Brand) -> tuple[int, str, int, list[int]]:
    owner = brand.auth(Role.OWNER)
    created = server.live_campaign(
        brand, kpi_targets=[{"metric": "participants", "target_value": 50}]
    )
    poll = httpx.post(
        f"{server.url}/api/v1/campaigns/{created['id']}/polls", json=POLL, headers=owner
    ).json()
    results = httpx.get(f"{server.url}/api/v1/polls/{poll['id']}/results", headers=owner).json()
    return created["id"], created["slug"], poll["id"], [o["id"] for o in results["options"]]


def test_dashboard_moves_live_and_exports(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    campaign_id, slug, poll_id, options = _live_poll(live_server, brand)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.ANALYST])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign_id}/analytics")
    card = page.locator("[data-metric=participants] [data-value]")
    page.wait_for_function("() => document.body && document.body.dataset.live === 'sse'")
    assert card.inner_text() == "0"
    # The card shows its KPI target and the progress toward it.
    assert page.inner_text("[data-metric=participants] [data-target]") == "50"
    assert page.inner_text("[data-metric=participants] [data-progress]") == "0.0%"
    assert page.locator("#share-tree-empty").is_visible()  # nobody came through a share yet
    page.evaluate("window.__notReloaded = true")

    voter = httpx.Client(base_url=live_server.url)
    voter.get(f"/c/{slug}")
    vote = voter.post(
        f"/api/v1/public/campaigns/{slug}/polls/{poll_id}/votes",
        json={"options": [options[0]], "consent": True},
    )
    assert vote.status_code == 201, vote.text
    voter.close()

    # Pushed by the server within a few seconds (it looks for new events once a second).
    page.wait_for_function(
        "() => document.querySelector('[data-metric=participants] [data-value]').textContent === '1'",
        timeout=8000,
    )
    assert page.inner_text("[data-metric=participants] [data-progress]") == "2.0%"
    assert page.evaluate("window.__notReloaded === true")

    # Two people join through others' shares (written to the event log as the fission
    # generator writes them): the share tree draws itself.
    now = live_server.app.state.clock.now()
    add_events(
        db,
        [
            (K.VOTE_CAST, "s1", now),
            (
                K.PARTICIPANT_JOINED,
                "s2",
                now + timedelta(seconds=1),
                {"properties": {"referrer": "s1"}},
            ),
            (
                K.PARTICIPANT_JOINED,
                "s3",
                now + timedelta(seconds=2),
                {"properties": {"referrer": "s2"}},
            ),
        ],
        workspace_id=brand.workspace_id,
        campaign_id=campaign_id,
    )
    page.wait_for_function(
        "() => document.querySelector('[data-metric=participants] [data-value]').textContent === '4'",
        timeout=8000,
    )
    assert page.locator("#share-tree-empty").is_hidden()
    drawn = page.evaluate(
        """() => {
          const option = echarts.getInstanceByDom(document.getElementById('chart-share_tree')).getOption();
          const root = option.series[0].data[0];
          return [option.series[0].type, root.children.length, root.children[0].children.length];
        }"""
    )
    assert drawn == ["tree", 1, 1]  # the campaign, s1, s2 (who brought s3)
    assert page.inner_text("[data-cascade=largest_tree]") == "3"
    assert page.evaluate("window.__notReloaded === true")
    page.screenshot(path=str(artifacts / "analytics-dashboard.png"), full_page=True)

    with page.expect_download() as info:
        page.click("a[href*='/analytics/export/timeseries.csv']")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert sum(float(r["participants"]) for r in rows) == 4  # the voter, s1, s2, s3

    # The campaign report (reports domain): its PDF carries the KPI table.
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign_id}/report")
    with page.expect_download() as report:
        page.click("#download-pdf")
    pdf = tmp_path / report.value.suggested_filename
    report.value.save_as(pdf)
    text = "\n".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "KPI 完成情况" in text
    assert "参与人数" in text
    context.close()


def test_the_live_minute_view_moves_without_a_reload(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign_id, slug, poll_id, options = _live_poll(live_server, brand)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.ANALYST])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign_id}")
    page.click("details.menu summary")  # 更多: the live view sits in the campaign's menu
    page.click("a[href$='/analytics/live']")
    page.wait_for_function("() => document.body && document.body.dataset.live === 'sse'")
    assert page.inner_text("#live-interactions") == "0"
    page.evaluate("window.__notReloaded = true")

    for option in options[:2]:  # two people vote
        voter = httpx.Client(base_url=live_server.url)
        voter.get(f"/c/{slug}")
        vote = voter.post(
            f"/api/v1/public/campaigns/{slug}/polls/{poll_id}/votes",
            json={"options": [option], "consent": True},
        )
        assert vote.status_code == 201, vote.text
        voter.close()

    page.wait_for_function(
        "() => document.querySelector('#live-interactions').textContent === '2'", timeout=8000
    )
    assert page.inner_text("#live-participants") == "2"
    assert page.inner_text("#live-hour") == "2"
    assert page.evaluate("window.__notReloaded === true")
    assert page.locator("#minutes-table tbody tr").count() == 1
    page.screenshot(path=str(artifacts / "analytics-live-minutes.png"), full_page=True)
    context.close()

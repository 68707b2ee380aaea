"""A marketer in a real browser opens a campaign's report and downloads the PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from im2.clock import ManualClock
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.analytics.test_metrics import DAY, make_campaign, story
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser


def test_open_the_report_and_download_the_pdf(
    browser: Any,
    live_server: LiveServer,
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.ANALYST])

    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign_id}/report")

    assert page.locator("h1").first.inner_text() == "活动效果报告"
    assert page.locator("#kpi-table tr[data-metric=participants] td").first.inner_text() == (
        "参与人数"
    )
    charts = page.locator("img.chart")
    assert charts.count() >= 4
    for i in range(charts.count()):  # every chart decoded and laid out by the browser
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(artifacts / "campaign-report.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#download-pdf")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.name == "spring-vote-report-20260312.pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(target).pages)
    assert "KPI 完成情况" in text
    context.close()

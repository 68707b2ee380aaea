"""A marketer in a real browser: KOL table, seed recommendation, forecast chart drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.clock import ManualClock
from im2.db import Database
from im2.influence.demo import load_influence_demo
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer, campaign_payload

pytestmark = pytest.mark.browser


def test_seed_recommendation_draws_the_forecast(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
) -> None:
    created = httpx.post(
        f"{live_server.url}/api/v1/campaigns",
        json=campaign_payload(),
        headers=brand.auth(Role.OWNER),
        timeout=30,
    )
    cid = created.json()["id"]
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug=brand.slug)
        load_influence_demo(session, actor=actor, campaign_id=cid, now=clock.now())

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/console/login")
    page.fill("#email", brand.emails[Role.ANALYST])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/campaigns")
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{cid}/influence")
    assert page.locator("#kol-table tbody tr").count() >= 10
    assert page.locator("#kol-table li").first.inner_text().strip()
    page.fill("#k", "5")
    page.click("#seed-advanced summary")  # the model's settings wait under 高级设置
    page.select_option("#probability", "learned")
    page.click("#seed-form button[type=submit]")
    page.wait_for_selector("#seed-table")
    assert page.locator("#seed-table tbody tr").count() == 5
    # ECharts drew the two forecast lines on a canvas.
    page.wait_for_selector("#forecast-chart canvas")
    page.screenshot(path=str(artifacts / "influence-seeds-phone.png"), full_page=True)
    context.close()

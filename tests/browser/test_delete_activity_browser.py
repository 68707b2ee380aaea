"""Deleting an activity in the console, as a marketer does it in Chromium on a phone and on a
desktop: 删除 on the activity's page, a confirm step that says what goes, then the campaign
page without it; an activity people took part in shows why it stays and what to do instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}


def _poll(server: LiveServer, brand: Brand, campaign_id: int, title: str) -> int:
    created = httpx.post(
        f"{server.url}/api/v1/campaigns/{campaign_id}/polls",
        json={"title": title, "options": [{"label": "樱花拿铁"}, {"label": "抹茶冷萃"}]},
        headers=brand.auth(Role.OWNER),
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_delete_a_poll_through_the_confirm_step_on_phone_and_desktop(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="delete-flow")
    for name, (width, height) in SIZES.items():
        title = f"草稿投票（{name}）"
        poll_id = _poll(live_server, brand, campaign["id"], title)
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        _login(page, live_server, brand.emails[Role.EDITOR])
        page.goto(f"{live_server.url}/console/w/acme/poll/{poll_id}")
        page.click(".heading .actions >> text=删除")
        page.wait_for_url(f"**/poll/{poll_id}/delete")
        assert page.locator("h1").inner_text() == "删除这个互动？"
        button = page.get_by_role("button", name="删除互动")
        assert button.is_visible()
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], name  # nothing spills sideways on a phone
        page.screenshot(path=str(artifacts / f"delete-activity-confirm-{name}.png"))

        page.get_by_role("link", name="取消").click()  # changing one's mind keeps it
        page.wait_for_url(f"**/poll/{poll_id}")
        page.goto(f"{live_server.url}/console/w/acme/poll/{poll_id}/delete")
        page.get_by_role("button", name="删除互动").click()
        page.wait_for_url(f"**/campaigns/{campaign['id']}")
        page.locator("#activities").wait_for()
        assert title not in page.locator("#activities").inner_text()
        context.close()


def test_a_poll_with_votes_explains_why_it_stays(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="delete-kept")
    poll_id = _poll(live_server, brand, campaign["id"], "已有投票的投票")
    options = httpx.get(
        f"{live_server.url}/api/v1/polls/{poll_id}/results", headers=brand.auth(Role.OWNER)
    ).json()["options"]
    httpx.post(
        f"{live_server.url}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll_id}/votes",
        json={"options": [options[0]["id"]], "consent": True},
    ).raise_for_status()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.EDITOR])
    page.goto(f"{live_server.url}/console/w/acme/poll/{poll_id}/delete")
    assert page.locator("h1").inner_text() == "这个互动不能删除"
    assert "结束活动" in page.locator(".alert").inner_text()
    assert page.get_by_role("button", name="删除互动").count() == 0
    page.screenshot(path=str(artifacts / "delete-activity-kept-phone.png"))
    page.get_by_role("link", name="前往活动").click()
    page.wait_for_url(f"**/campaigns/{campaign['id']}")
    context.close()

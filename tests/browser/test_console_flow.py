"""A marketer in a real browser: log in, plan a campaign from a template, fix a date error,
schedule it, find it in the list; an analyst can look but not edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser


def _login(page: Any, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/console/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/campaigns")


def test_plan_and_schedule_a_campaign(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.EDITOR])
    assert page.locator("h1").inner_text() == "活动"

    page.click("text=新建活动")
    page.click("text=公益投票")
    assert page.input_value("#name") == "你来定，我们捐"
    assert page.is_checked("input[name=ch_weibo]")

    page.fill("#name", "春季公益投票")
    page.fill("#slug", "spring-charity")
    page.fill("#starts_at", "2026-03-10T10:00")
    page.fill("#ends_at", "2026-03-09T10:00")  # before the start
    page.click("text=创建活动")
    error = page.locator("#ends_at-error")
    assert error.inner_text() == "结束时间必须晚于开始时间。"
    assert page.get_attribute("#ends_at", "aria-invalid") == "true"
    assert page.input_value("#name") == "春季公益投票"  # nothing typed is lost
    page.screenshot(path=str(artifacts / "campaign-form-error.png"), full_page=True)

    page.fill("#ends_at", "2026-03-20T22:00")
    page.click("text=创建活动")
    page.wait_for_url("**/campaigns/*")
    assert "春季公益投票" in page.locator("h1").inner_text()
    assert "草稿" in page.locator("h1").inner_text()

    page.click("button:has-text('排期发布')")
    page.wait_for_load_state()
    assert "已排期" in page.locator("h1").inner_text()
    assert page.locator("text=活动会在开始时间自动上线").is_visible()

    page.click("nav >> text=活动")
    page.select_option("#status", "scheduled")
    page.click("button:has-text('筛选')")
    row = page.locator("table.campaigns tbody tr", has_text="春季公益投票")
    assert row.count() == 1
    assert "已排期" in row.inner_text()
    assert "2026-03-10 10:00" in row.inner_text()  # shown in the campaign's time zone
    page.screenshot(path=str(artifacts / "campaign-list.png"), full_page=True)
    context.close()

    # An analyst sees the campaign and its audit trail but no way to change it.
    analyst = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = analyst.new_page()
    _login(page, live_server, brand.emails[Role.ANALYST])
    assert page.locator("text=新建活动").count() == 0
    page.click("text=春季公益投票")
    assert page.locator("text=编辑").count() == 0
    assert page.locator("button:has-text('立即上线')").count() == 0
    edit_url = page.url + "/edit"
    response = page.goto(edit_url)
    assert response.status == 403
    assert "无权" in page.locator("h1").inner_text()
    page.goto(f"{live_server.url}/console/w/acme/audit")
    # The schedule in the reader's words, not the action's raw key.
    assert page.locator("text=状态：草稿 → 已排期").count() >= 1
    assert page.locator("text=campaign.status").count() == 0
    page.screenshot(path=str(artifacts / "audit-phone.png"), full_page=True)
    analyst.close()

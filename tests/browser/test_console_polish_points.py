"""A rewarded action says "+N 积分" at once, and "my rewards" already counts them: the marketer
sets point rules in the console, participants on phones check in (an HTMX swap), vote with
JavaScript off (the plain form post and its redirect) and ask a question (a route of its own,
outside the shared activity frame), and never wait for the rules job. Chromium, 390×844."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser


def _rule(console: Any, server: LiveServer, campaign_id: int, kind: str, points: int) -> None:
    console.goto(f"{server.url}/console/w/acme/campaigns/{campaign_id}/incentives")
    console.select_option("#event_kind", kind)
    console.fill("#points", str(points))
    console.locator("#rules form button[type=submit]").last.click()
    console.wait_for_load_state()


def _balance(phone: Any, server: LiveServer, slug: str) -> str:
    phone.goto(f"{server.url}/c/{slug}/rewards")
    return str(phone.locator("#points-balance").inner_text()).strip()


def test_points_are_shown_at_once_after_a_check_in_and_a_vote(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    owner = brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand, slug="points-now")
    checkin = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/checkins",
        json={"title": "早安咖啡打卡", "milestones": [2, 3]},
        headers=owner,
    ).json()["id"]
    poll = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()["id"]
    qa = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/qas",
        json={"title": "新品发布会问答", "premoderation": False},
        headers=owner,
    ).json()["id"]

    desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    console = desk.new_page()
    _login(console, live_server, brand.emails[Role.OWNER])
    _rule(console, live_server, campaign["id"], "checkin.done", 5)
    _rule(console, live_server, campaign["id"], "vote.cast", 3)
    _rule(console, live_server, campaign["id"], "question.asked", 2)
    desk.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    page.goto(f"{live_server.url}/c/points-now/checkin/{checkin}")
    page.check("input[name=consent]")
    page.click("button:text-is('今日打卡')")
    toast = page.locator(".points-toast")
    toast.wait_for()
    assert toast.inner_text() == "+5 积分"
    assert "今天已打卡" in page.locator("#checkin-box .notice").inner_text()
    page.screenshot(path=str(artifacts / "points-after-check-in-phone.png"), full_page=True)
    assert _balance(page, live_server, "points-now") == "5"  # no wait for the rules job

    # The same phone asks a question: Q&A's own route, swapped in place by HTMX.
    page.goto(f"{live_server.url}/c/points-now/qa/{qa}")
    page.fill("#qa-text", "樱花拿铁会出常温款吗？")
    page.click("button:text-is('提问')")
    page.locator(".points-toast").wait_for()
    assert page.locator(".points-toast").inner_text() == "+2 积分"
    assert _balance(page, live_server, "points-now") == "7"
    phone.close()

    # A second phone votes with JavaScript off: the page after the redirect says it.
    plain = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        java_script_enabled=False,
        storage_state=None,
    )
    page = plain.new_page()
    page.goto(f"{live_server.url}/c/points-now/poll/{poll}")
    page.locator("input[name=option]").first.check()
    if page.locator("input[name=consent]").count():
        page.check("input[name=consent]")
    page.click("button:text-is('投票')")
    page.wait_for_url("**voted=1**points=3**")
    assert page.locator(".points-toast").inner_text() == "+3 积分"
    assert _balance(page, live_server, "points-now") == "3"
    # A reload shows the notice again but pays nothing twice.
    page.go_back()
    assert _balance(page, live_server, "points-now") == "3"
    plain.close()

"""The draw's console page follows the draw: a participant who enters on a phone shows up in
参与人次 (and in the winners) on the marketer's open page without a reload. Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
INSTANT = {
    "title": "樱花季幸运抽奖",
    "mode": "instant",
    "prizes": [{"name": "樱花保温杯", "stock": 2, "odds": 1.0}],
}


def test_entries_update_live_on_the_console_page(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="live-draw")
    draw = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/draws",
        json=INSTANT,
        headers=brand.auth(Role.OWNER),
    ).json()["id"]

    desk = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    console = desk.new_page()
    _login(console, live_server, brand.emails[Role.OWNER])
    console.goto(f"{live_server.url}/console/w/acme/draw/{draw}")
    entries = console.locator("#draw-entries")
    assert entries.inner_text().strip() == "0"
    console.wait_for_timeout(500)  # the page's stream is open

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    page.goto(f"{live_server.url}/c/live-draw/draw/{draw}")
    page.check("input[name=consent]")
    page.click("button:text-is('立即抽奖')")
    page.locator("#draw-box, .notice").first.wait_for()

    # (CSP forbids wait_for_function's eval: poll the text from here.)
    for _ in range(100):
        if entries.inner_text().strip().startswith("1"):
            break
        console.wait_for_timeout(100)
    assert entries.inner_text().strip().startswith("1")
    assert "#" in console.locator("#draw-live").inner_text()  # the winner's row came with it
    console.screenshot(path=str(artifacts / "draw-live-desktop.png"))
    phone.close()
    desk.close()

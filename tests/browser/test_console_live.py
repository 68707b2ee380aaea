"""The brand's console pages of a quiz follow the participants live: an answer given on a phone
shows up on the console's leaderboard within seconds, without a reload (no polling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.activities.test_quiz import COFFEE
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _quiz(server: LiveServer, brand: Brand) -> tuple[str, int]:
    owner = brand.auth(Role.OWNER)
    campaign = server.live_campaign(brand, slug="coffee-quiz")
    quiz = httpx.post(
        f"{server.url}/api/v1/campaigns/{campaign['id']}/quizzes", json=COFFEE, headers=owner
    )
    assert quiz.status_code == 201, quiz.text
    return campaign["slug"], int(quiz.json()["id"])


def test_the_console_leaderboard_follows_answers_without_a_reload(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    slug, quiz = _quiz(live_server, brand)

    console = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    brand_page = console.new_page()
    brand_page.goto(f"{live_server.url}/console/login")
    brand_page.fill("#email", brand.emails[Role.ANALYST])
    brand_page.fill("#password", PASSWORD)
    brand_page.click("button[type=submit]")
    brand_page.wait_for_url("**/console/w/acme/campaigns")
    brand_page.goto(f"{live_server.url}/console/w/acme/quiz/{quiz}")
    assert "小林" not in brand_page.locator("#board-live").inner_text()
    loads = brand_page.evaluate("performance.getEntriesByType('navigation').length")

    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(f"{live_server.url}/c/{slug}/quiz/{quiz}")
    page.check("text=果实的种子")
    page.fill("#nickname", "小林")
    page.check("input[name=consent]")
    page.click("button[type=submit].primary")
    page.wait_for_load_state()

    # An analyst (no people:read) sees the player's nickname masked: 小林 -> 小*.
    brand_page.wait_for_function(
        "() => document.querySelector('#board-live').innerText.includes('小*')", timeout=10_000
    )
    assert "小林" not in brand_page.locator("#board-live").inner_text()
    # Updated in place: still the same page load, and the box says when it was refreshed.
    assert brand_page.evaluate("performance.getEntriesByType('navigation').length") == loads
    assert brand_page.locator("#board-live").get_attribute("data-updated")
    brand_page.screenshot(path=str(artifacts / "quiz-console-live.png"), full_page=True)
    console.close()
    phone.close()

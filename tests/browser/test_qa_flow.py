"""A live Q&A on stage: a participant asks from a phone, the moderator approves it in the
console, and the presenter screen shows it without a reload; upvotes move it up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.workspaces.schemas import Role
from tests.activities.test_qa_live import _live_qa
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_a_question_goes_from_a_phone_to_the_stage(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    base = live_server.url
    slug, qa = _live_qa(live_server, brand, premoderation=True)

    stage = browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN")
    screen = stage.new_page()
    screen.goto(f"{base}/c/{slug}/qa/{qa}/present")
    assert "还没有人提问" in screen.locator("#present-board").inner_text()

    console = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    moderator = console.new_page()
    moderator.goto(f"{base}/console/login")
    moderator.fill("#email", brand.emails[Role.EDITOR])
    moderator.fill("#password", PASSWORD)
    moderator.click("button[type=submit]")
    moderator.wait_for_url("**/console/w/acme/campaigns")
    moderator.goto(f"{base}/console/w/acme/qa/{qa}")

    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(f"{base}/c/{slug}/qa/{qa}")
    page.fill("#qa-text", "新品会在全国门店同步上架吗？")
    page.fill("#qa-nickname", "杭州滨江")
    page.check("#qa-box input[name=consent]")
    page.click("#qa-box button:has-text('提问')")
    page.wait_for_selector("#qa-box .notice")
    assert "审核通过后就会显示" in page.locator("#qa-box .notice").inner_text()
    page.screenshot(path=str(artifacts / "qa-phone-asked.png"), full_page=True)

    # The moderation queue shows it live; approving it puts it on the stage screen.
    moderator.wait_for_selector("#qa-queue [data-question]", timeout=10_000)
    moderator.click("#qa-queue button:has-text('通过')")
    screen.wait_for_selector("#present-board [data-question]", timeout=10_000)
    assert "新品会在全国门店同步上架吗？" in screen.locator("#present-board").inner_text()
    assert "杭州滨江" in screen.locator("#present-board").inner_text()

    # An upvote from the phone moves the count on the stage, still without a reload.
    page.reload()
    page.click("#qa-list button[aria-label^='点赞']")
    screen.wait_for_function(
        "() => document.querySelector('#present-board .present-votes').textContent.includes('1')",
        timeout=10_000,
    )
    screen.screenshot(path=str(artifacts / "qa-presenter.png"))
    for context in (phone, console, stage):
        context.close()

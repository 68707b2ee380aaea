"""On a phone, a participant who sends a form with two faults sees both at once, each by its
field, in Chinese, with what they typed still there; with HTMX and without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.activities.test_qa_live import _live_qa
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
CONSENT = "参与前请同意我们对你的数据的使用方式。"


def _no_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_question_with_two_faults_shows_both_on_a_phone(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    base = live_server.url
    slug, qa = _live_qa(live_server, brand, premoderation=False)
    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(f"{base}/c/{slug}/qa/{qa}")
    page.fill("#qa-nickname", "杭州滨江")
    page.click("#qa-box button:has-text('提问')")  # no question, consent box left unticked
    page.wait_for_selector("#qa-box .field-error >> nth=1")
    box = page.locator("#qa-box")
    text = box.inner_text()
    assert "请先写下你的问题。" in text
    assert CONSENT in text
    assert "请修改下面标出的 2 处问题。" in text
    assert page.locator("#text-error").is_visible()
    assert page.locator("#consent-error").is_visible()
    assert page.locator("#qa-text").get_attribute("aria-invalid") == "true"
    assert page.input_value("#qa-nickname") == "杭州滨江"
    assert "Please" not in text
    assert _no_overflow(page)
    page.screenshot(path=str(artifacts / "form-errors-qa-390.png"), full_page=True)

    # Fixing both sends the question.
    page.fill("#qa-text", "新品会在全国门店同步上架吗？")
    page.check("#qa-box input[name=consent]")
    page.click("#qa-box button:has-text('提问')")
    page.wait_for_selector("#qa-box .notice")
    assert page.locator("#qa-box .field-error").count() == 0
    phone.close()

    desktop = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    wide = desktop.new_page()
    wide.goto(f"{base}/c/{slug}/qa/{qa}")
    wide.click("#qa-box button:has-text('提问')")
    wide.wait_for_selector("#qa-box .field-error >> nth=1")
    assert _no_overflow(wide)
    wide.screenshot(path=str(artifacts / "form-errors-qa-1366.png"), full_page=True)
    desktop.close()


def test_a_vote_with_two_faults_shows_both_without_javascript(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    base = live_server.url
    campaign = live_server.live_campaign(brand, slug="form-errors")
    poll = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/polls",
        json={
            "title": "你最想喝哪款春季新品？",
            "options": [{"label": "樱花拿铁"}, {"label": "抹茶冷萃"}],
        },
        headers=brand.auth(Role.OWNER),
    ).json()
    phone = browser.new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, java_script_enabled=False
    )
    page = phone.new_page()
    page.goto(f"{base}/c/{campaign['slug']}/poll/{poll['id']}")
    page.click("#poll-box button:has-text('投票')")  # no choice, no consent
    page.wait_for_selector("#poll-box .field-error >> nth=1")
    text = page.locator("#poll-box").inner_text()
    assert "请先选择一个选项。" in text
    assert CONSENT in text
    assert "请修改下面标出的 2 处问题。" in text
    assert _no_overflow(page)
    page.screenshot(path=str(artifacts / "form-errors-poll-390.png"), full_page=True)
    phone.close()


def test_my_data_code_form_shows_both_faults_on_a_phone(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    base = live_server.url
    campaign = live_server.live_campaign(brand, slug="my-data-errors")
    for name, viewport in (("390", PHONE), ("1366", DESKTOP)):
        context = browser.new_context(viewport=viewport, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/c/{campaign['slug']}/my-data")
        page.select_option("#channel", "phone")
        page.click("button:has-text('发送验证码')")  # no number, consent box left unticked
        page.wait_for_selector("#consent-error")
        assert page.locator("#destination-error").inner_text() == "此项为必填。"
        assert page.locator("#consent-error").inner_text() == CONSENT
        assert page.input_value("#channel") == "phone"  # the choice made stays
        assert _no_overflow(page)
        page.screenshot(path=str(artifacts / f"form-errors-my-data-{name}.png"), full_page=True)
        context.close()

"""The consent-text editor and the minors-gate box on a phone and a desk (Chromium): nothing
runs off the side, the preview shows the draft as the participant would read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
DRAFT = "山野咖啡会通过你验证的手机号,告诉你新品和优惠。你可以随时在“我的”页面撤回。"


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)])
def test_the_editor_and_the_minors_box_fit_and_preview(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path, width: int, height: int
) -> None:
    campaign = live_server.live_campaign(brand, slug="consent-shots")
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.EDITOR])
    page.goto(
        f"{live_server.url}/console/w/acme/privacy/consent-texts?purpose=marketing&language=zh_CN"
    )
    assert page.locator("h1").inner_text() == "授权文本"
    page.fill("#text", DRAFT)
    page.click("button[value=preview]")
    preview = page.locator("#consent-preview")
    assert DRAFT in preview.inner_text()
    assert "我同意" in preview.inner_text()  # the participant's own words, in Chinese
    assert page.locator("#half-width").is_visible()  # the half-width comma is pointed out
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"consent-texts-{width}.png"), full_page=True)

    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/edit")
    box = page.locator("#minors")
    box.scroll_into_view_if_needed()
    assert "第三十一条" in box.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box.screenshot(path=str(artifacts / f"campaign-minors-gate-{width}.png"))
    context.close()

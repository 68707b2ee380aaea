"""The pages issue 18 changed, at phone and desktop size: the participant's error pages, the
share page's links, a console form refusing two fields, the import page's time-zone rule.
Each fits its screen; screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _shot(page: Any, artifacts: Path, name: str) -> None:
    assert _fits(page), name
    page.screenshot(path=str(artifacts / f"issue18-{name}.png"), full_page=True)


def test_changed_pages_fit_phone_and_desktop(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="spring-tasting")
    poll = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls",
        json=POLL,
        headers=brand.auth(Role.OWNER),
    ).json()["id"]
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        phone = context.new_page()
        phone.goto(f"{live_server.url}/c/spring-tasting/poll/{poll}")
        vote = phone.locator("form:has(input[name=option])")
        vote.locator("input[name=option]").first.check()
        if vote.locator("input[name=consent]").count():
            vote.locator("input[name=consent]").check()
        vote.locator("button[type=submit]").click()
        phone.wait_for_load_state()

        # A comment of only spaces: the participant's error page, with the way back.
        phone.goto(f"{live_server.url}/c/spring-tasting/poll/{poll}")
        comment = phone.locator("form[action$='/comments']")
        comment.locator("textarea[name=text]").fill("   ")
        if comment.locator("input[name=consent]").count():
            comment.locator("input[name=consent]").check()
        comment.locator("button[type=submit]").click()
        phone.wait_for_load_state()
        assert "返回活动" in phone.content()
        assert "返回控制台" not in phone.content()
        _shot(phone, artifacts, f"comment-error-{size}")

        phone.goto(f"{live_server.url}/c/spring-tasting/nothing-here")
        assert "页面不存在" in phone.content()
        _shot(phone, artifacts, f"public-404-{size}")

        phone.goto(f"{live_server.url}/c/spring-tasting/share")
        if phone.locator("form[action$='/share'] button").count():
            phone.locator("form[action$='/share'] button").first.click()
            phone.wait_for_load_state()
        assert f"{live_server.url}/s/" in phone.content()
        _shot(phone, artifacts, f"share-{size}")

        console = context.new_page()
        console.goto(f"{live_server.url}/console/login")
        console.fill("#email", brand.emails[Role.OWNER])
        console.fill("#password", PASSWORD)
        console.click("button[type=submit]")
        console.wait_for_url("**/console/w/acme/campaigns")
        console.goto(f"{live_server.url}/console/w/acme/campaigns/new?template=")
        console.fill("#name", "")
        console.fill("#slug", "autumn-tasting")
        console.check("input[name=ch_weibo]")
        console.fill("#budget_weibo", "八千")
        console.evaluate("document.querySelector('form[action$=\"/campaigns\"]').noValidate = true")
        console.click("form[action$='/campaigns'] button[type=submit].primary")
        console.wait_for_load_state()
        text = console.content()
        assert "此项为必填。" in text
        assert "请输入数字。" in text
        assert 'value="八千"' in text
        assert not re.search(r"Input should|List should", text)
        _shot(console, artifacts, f"campaign-form-errors-{size}")

        console.goto(f"{live_server.url}/console/w/acme/listening/import")
        assert "工作区时区 Asia/Shanghai" in console.content()
        _shot(console, artifacts, f"import-{size}")
        context.close()

"""The participant's share sheet on a phone and a desktop: their own link first, a copy button
that says 已复制 (and really copies), the phone's own share sheet where the browser has one, a
hint to use ··· inside WeChat, the poster one tap away. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI Language/zh_CN"
)
# A browser with the Web Share API: the payload it was handed is kept for the test to read.
SHARE_API = (
    "navigator.share = (data) => { window.sharedPayload = data; return Promise.resolve(); };"
)


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _vote(page: Any, url: str) -> None:
    page.goto(url)
    vote = page.locator("form:has(input[name=option])")
    vote.locator("input[name=option]").first.check()
    if vote.locator("input[name=consent]").count():
        vote.locator("input[name=consent]").check()
    with page.expect_response(lambda r: r.request.method == "POST"):
        vote.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_the_share_sheet_puts_ones_own_link_first_with_copy_share_and_poster(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="spring-share")
    poll = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls",
        json=POLL,
        headers=brand.auth(Role.OWNER),
    ).json()["id"]
    for size, (width, height) in SIZES.items():
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale="zh-CN",
            permissions=["clipboard-read", "clipboard-write"],
        )
        context.add_init_script(SHARE_API)
        page = context.new_page()
        _vote(page, f"{live_server.url}/c/spring-share/poll/{poll}")

        page.goto(f"{live_server.url}/c/spring-share/share")
        assert page.locator("#own-link").count(), page.content()[-3000:]
        own = page.locator("#own-link").input_value()  # there at once: no "get my link" tap
        assert own.startswith(f"{live_server.url}/s/")
        assert own.endswith("?ch=link")
        assert page.locator(".share-links input").count() == 0  # no wall of URL boxes
        assert page.locator("#wechat-hint").count() == 0

        page.click("#copy-own")
        page.wait_for_function(
            "() => document.querySelector('.share-own .copied').textContent === '已复制'"
        )
        assert "已复制" in page.locator("#copy-own").inner_text()
        assert page.evaluate("() => navigator.clipboard.readText()") == own

        share = page.locator("#native-share")
        assert share.is_visible()
        share.click()
        page.wait_for_function("() => window.sharedPayload !== undefined")
        assert page.evaluate("() => window.sharedPayload.url") == own
        assert page.evaluate("() => window.sharedPayload.title") == campaign["name"]

        poster = page.locator("#save-poster")
        assert poster.is_visible()
        got = page.request.get(f"{live_server.url}{poster.get_attribute('href')}")
        assert got.status == 200
        assert got.headers["content-type"] == "image/png"

        # Each app's own link is a copy button away, folded under one line.
        page.click(".share-more summary")
        wechat = page.locator(".share-links li", has_text="微信").locator("button.copy")
        assert wechat.get_attribute("data-copy") == own.replace("ch=link", "ch=wechat")
        assert _fits(page)
        page.screenshot(path=str(artifacts / f"share-sheet-{size}.png"), full_page=True)
        context.close()


def test_inside_wechat_the_sheet_points_at_the_menu_and_tags_the_link_wechat(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="wechat-share")
    poll = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls",
        json=POLL,
        headers=brand.auth(Role.OWNER),
    ).json()["id"]
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", user_agent=WECHAT_UA
    )
    page = context.new_page()
    _vote(page, f"{live_server.url}/c/wechat-share/poll/{poll}")
    page.goto(f"{live_server.url}/c/wechat-share/share")
    hint = page.locator("#wechat-hint")
    assert hint.is_visible()
    assert "右上角" in hint.inner_text()
    assert "···" in hint.inner_text()
    assert page.locator("#own-link").input_value().endswith("?ch=wechat")
    assert page.locator("#native-share").count() == 0  # WeChat's browser has no share API
    # WeChat's browser downloads no files: the poster is shown to press and hold instead.
    assert page.locator("#save-poster").count() == 0
    poster = page.locator("#poster-inline")
    poster.scroll_into_view_if_needed()
    assert poster.is_visible()
    assert "长按" in poster.inner_text()
    assert _fits(page)
    page.screenshot(path=str(artifacts / "share-sheet-wechat-phone.png"), full_page=True)
    context.close()

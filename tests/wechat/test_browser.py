"""Inside WeChat in a real browser (Debian's Chromium with WeChat's User-Agent): the page signs
in through the local WeChat's OAuth page and comes back, the vendored JS-SDK loads under the
site's CSP, and `wx.config` is called with the server's signature. The console page and the
share sheet are photographed at phone and desktop sizes (/tmp/shots-wechat/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from im2.db import Database
from im2.people import service as people
from im2.people.schemas import IdentityKind
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.test_polls import POLL
from tests.wechat.conftest import FakeWechat, WechatUser
from tests.wechat.helpers import WECHAT_UA, save_account

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-wechat")  # noqa: S108 (the screenshots the brief asks for)


def test_a_phone_in_wechat_signs_in_and_configures_the_share_card(
    browser: Any,
    app: FastAPI,
    live_server: LiveServer,
    brand: Brand,
    wechat: FakeWechat,
    db: Database,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    campaign = live_server.live_campaign(brand, slug="wx-card")
    poll = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls",
        json=POLL,
        headers=brand.auth(Role.OWNER),
    ).json()["id"]
    with TestClient(app, base_url=live_server.url) as console:
        assert save_account(console, brand).status_code == 303
    wechat.user = WechatUser("oOpenId-browser-000000000001")
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", user_agent=WECHAT_UA
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/c/wx-card/poll/{poll}")
    # wechat.js sends the browser through WeChat's OAuth page and back, then sets the card.
    page.wait_for_selector("html[data-wechat-card]", timeout=30_000, state="attached")
    assert page.url.startswith(f"{live_server.url}/c/wx-card/poll/{poll}")
    assert page.evaluate("typeof window.wx.config") == "function"
    with db.session() as session:
        assert people.find_person(
            session,
            workspace_id=brand.workspace_id,
            kind=IdentityKind.WECHAT_OPENID,
            value="oOpenId-browser-000000000001",
        )
    assert wechat.count("/connect/oauth2/authorize") == 1
    assert wechat.count("/cgi-bin/ticket/getticket") == 1
    assert errors == []
    assert wechat.errors == []
    # Vote, then the share sheet: the poster to press and hold, the Weibo intent.
    vote = page.locator("form:has(input[name=option])")
    vote.locator("input[name=option]").first.check()
    if vote.locator("input[name=consent]").count():
        vote.locator("input[name=consent]").check()
    with page.expect_response(lambda r: r.request.method == "POST"):
        vote.locator("button[type=submit]").click()
    page.goto(f"{live_server.url}/c/wx-card/share")
    page.wait_for_selector("#poster-inline img")
    page.wait_for_function("document.querySelector('#poster-inline img').naturalWidth > 0")
    assert page.locator("#save-poster").count() == 0
    page.screenshot(path=str(SHOTS / "share-wechat-390.png"), full_page=True)
    context.close()


def test_the_console_page_at_phone_and_desktop_sizes(
    browser: Any, live_server: LiveServer, brand: Brand, wechat: FakeWechat
) -> None:
    SHOTS.mkdir(exist_ok=True)
    for width, height in ((1366, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{live_server.url}/console/login")
        page.fill("input[name=email]", brand.emails[Role.OWNER])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live_server.url}/console/w/{brand.slug}/wechat")
        page.fill("#app_id", "wx1234567890abcdef")
        page.fill("#app_secret", "ffffffffffffffffffffffffffffffff")
        page.click("form[action$='/wechat'] button[type=submit]")
        page.wait_for_load_state()
        page.click("#wechat-test")
        page.wait_for_selector("#wechat-test-result")
        assert "AppSecret" in page.inner_text("#wechat-test-result")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(SHOTS / f"console-wechat-{width}.png"), full_page=True)
        context.close()

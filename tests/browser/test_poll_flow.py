"""A participant votes on a phone and sees the result; a second browser's results page moves
without a reload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "is_mobile": True,
    "has_touch": True,
}


def _live_poll(server: LiveServer, brand: Brand) -> tuple[str, int]:
    owner = brand.auth(Role.OWNER)
    campaign = server.live_campaign(brand)
    poll = httpx.post(
        f"{server.url}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    return campaign["slug"], poll["id"]


def test_vote_on_a_phone_and_watch_another_screen_move(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    slug, poll_id = _live_poll(live_server, brand)
    url = f"{live_server.url}/c/{slug}/poll/{poll_id}"

    watcher = browser.new_context(**PHONE)
    watching = watcher.new_page()
    watching.goto(f"{live_server.url}/c/{slug}/poll/{poll_id}/screen")
    row = watching.locator("[data-option] .votes").nth(1)
    assert row.inner_text() == "0"
    watching.wait_for_function("() => document.querySelector('[data-live-connected]') !== null")

    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    response = page.goto(url)
    assert response.status == 200
    assert page.locator("h1").inner_text() == "你最想喝哪款春季新品？"
    page.wait_for_timeout(1600)  # a human reads the question before answering
    page.check("text=抹茶冷萃")
    page.check("input[name=consent]")
    page.click("button:has-text('投票')")
    page.wait_for_selector("text=感谢参与，投票成功！")
    assert page.locator(".mine").inner_text() == "抹茶冷萃"
    assert page.locator("[data-option] .votes").nth(1).inner_text() == "1"
    page.screenshot(path=str(artifacts / "poll-phone.png"), full_page=True)

    # The big screen updates by itself: no reload.
    watching.wait_for_function(
        "() => document.querySelectorAll('[data-option] .votes')[1].textContent === '1'",
        timeout=5000,
    )
    watching.screenshot(path=str(artifacts / "poll-screen.png"))
    phone.close()
    watcher.close()


def test_the_poll_page_is_light(live_server: LiveServer, brand: Brand) -> None:
    """First load of an activity page under 150 KB transferred (no images in this poll)."""
    slug, poll_id = _live_poll(live_server, brand)

    def transferred(response: httpx.Response) -> int:
        # Content-Length is what went over the wire (compressed when the server gzips).
        return int(response.headers.get("content-length") or len(response.content))

    with httpx.Client(base_url=live_server.url, headers={"Accept-Encoding": "gzip"}) as client:
        page = client.get(f"/c/{slug}/poll/{poll_id}")
        total = transferred(page)
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert assets  # the stylesheet and scripts are counted too
        for asset in assets:
            response = client.get(asset)
            response.raise_for_status()
            total += transferred(response)
    assert total < 150 * 1024, total

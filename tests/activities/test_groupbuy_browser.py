"""A group-buy team fills from two phones: one opens it, a friend joins through the shared
link, and the first phone's page turns to success without a reload."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from im2.workspaces.schemas import Role
from tests.activities.test_groupbuy import OFFER
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "is_mobile": True,
    "has_touch": True,
}


def test_a_team_fills_from_two_phones(browser: Any, live_server: LiveServer, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    offer = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/groupbuys",
        json={**OFFER, "team_size": 2},
        headers=owner,
    ).json()

    leader = browser.new_context(**PHONE).new_page()
    leader.goto(f"{base}/c/{campaign['slug']}/groupbuy/{offer['id']}")
    leader.get_by_label("我同意").check()
    leader.get_by_role("button", name="¥59.00 发起拼团").click()
    leader.wait_for_url("**/team/**")
    assert "你的团已开" in leader.content()
    assert "还差 1 人" in leader.inner_text("#team-box")
    team_url = leader.url.split("?")[0]

    friend = browser.new_context(**PHONE).new_page()
    friend.goto(team_url)
    friend.get_by_label("我同意").check()
    friend.get_by_role("button", name="¥59.00 参团").click()
    # With HTMX the join swaps the team box in place (without it, the form posts and redirects).
    # Locator assertions, not wait_for_function: the page's CSP refuses string evaluation.
    expect(friend.locator("#team-box")).to_contain_text("全部拼团成功")
    assert "2 位成员全部拼团成功" in friend.inner_text("#team-box")

    # The leader never reloads: the box refreshes itself while the team is filling.
    expect(leader.locator("#team-box")).to_contain_text("拼团成功", timeout=20_000)
    for page in (leader, friend):
        page.context.close()

"""The referral page on two phones with JavaScript switched off: one gets an invite link (and
its QR code), a friend follows it, sees who invited them and joins; the invite is held (same
network), the brand approves it, and the first phone's page shows the qualified friend (masked)
and the progress to the milestone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.clock import ManualClock
from im2.db import Database
from im2.incentives import service as incentives
from im2.workspaces.schemas import Role
from im2.workspaces.service import system_actor
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser


def phone(browser: Any, user_agent: str) -> Any:
    return browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
        java_script_enabled=False,
        user_agent=user_agent,
    )


def test_invite_a_friend_without_javascript(
    browser: Any, live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    made = httpx.post(
        f"{base}/api/v1/campaigns/{campaign['id']}/referrals",
        json={
            "title": "邀请好友喝樱花拿铁",
            "inviter_reward": {"kind": "points", "points": 50},
            "invitee_reward": {"kind": "points", "points": 10},
            "milestones": [{"friends": 3, "reward": {"kind": "points", "points": 200}}],
        },
        headers=owner,
    )
    assert made.status_code == 201, made.text
    url = f"{base}/c/{campaign['slug']}/referral/{made.json()['id']}"

    first = phone(browser, "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) MicroMessenger/8.0")
    second = phone(browser, "Mozilla/5.0 (Linux; Android 14; HUAWEI) MicroMessenger/8.0")
    try:
        me = first.new_page()
        me.goto(url)
        assert me.locator("#my-link").count() == 0
        me.get_by_label("我同意").check()
        me.get_by_role("button", name="获取我的邀请链接").click()
        me.wait_for_load_state()
        assert "你的专属邀请链接已生成" in me.content()
        link = me.locator("#my-link").input_value()
        assert "/s/" in link
        qr = me.locator("img[src$='qr.svg']")
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")

        friend = second.new_page()
        # The link is absolute for the configured public address; this server is elsewhere.
        friend.goto(base + "/s/" + link.rsplit("/s/", 1)[1] + "?ch=wechat")
        friend.goto(url)
        assert friend.locator("#invited-by").is_visible()
        assert "你将获得：10 积分" in friend.content()
        friend.get_by_label("我同意").check()
        friend.get_by_role("button", name="获取我的邀请链接").click()
        friend.wait_for_load_state()

        clock.advance(timedelta(seconds=10))
        qualify_referrals_job(db, clock)
        me.reload()
        # Both phones come from 127.0.0.1, the same network: held for the brand's review.
        assert "1 位审核中" in me.locator("#my-progress").inner_text()
        assert "待审核" in me.locator("#my-friends").inner_text()
        with db.transaction() as session:
            actor = system_actor(session, workspace_slug=brand.slug)
            held = incentives.list_grants(
                session, actor=actor, campaign_id=campaign["id"], status="held"
            )
            decider = next(g for g in held if g.key.endswith(":inviter"))
            assert decider.evidence["reasons"] == ["same_network"]
            incentives.do_decide_grant(
                session, actor=actor, grant_id=decider.id, approve=True, now=clock.now()
            )
        clock.advance(timedelta(seconds=10))
        qualify_referrals_job(db, clock)
        me.reload()
        progress = me.locator("#my-progress").inner_text()
        assert "已有 1 位好友达标" in progress
        assert "还差 2 位" in progress
        assert "已达标" in me.locator("#my-friends").inner_text()
        assert "每邀请 1 位好友达标，你获得：50 积分" in me.content()
    finally:
        first.close()
        second.close()

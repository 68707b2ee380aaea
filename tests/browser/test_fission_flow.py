"""Fission end to end in real browsers: a participant votes and shares, a friend opens the link
on another phone, joins and votes; the sharer's "my rewards" page shows the milestone coupon;
a shop redeems it and reports the order through the API; the console shows the conversion
(with revenue and ROI), the K-factor and the share tree drawn as a chart."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer, go_live
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "is_mobile": True,
    "has_touch": True,
}
BUDGET = 8000  # the weibo budget of campaign_payload()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """As tests/conftest.py, behind a proxy that says who the client is: the two phones come
    from different networks, as two friends do (on one loopback address the referral's abuse
    checks would rightly hold the reward for review)."""
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        trust_forwarded_for=True,
    )


def _setup(server: LiveServer, brand: Brand) -> dict[str, Any]:
    owner = brand.auth(Role.OWNER)
    with httpx.Client(base_url=server.url, headers=owner) as api:
        campaign = go_live(api, brand, objective="fission")
        cid = campaign["id"]
        poll = api.post(f"/api/v1/campaigns/{cid}/polls", json=POLL).json()
        pool = api.post(f"/api/v1/campaigns/{cid}/coupon-pools", json={"name": "樱花拿铁买一送一"})
        assert pool.status_code == 201, pool.text
        api.post(
            f"/api/v1/coupon-pools/{pool.json()['id']}/codes/generate", json={"count": 5}
        ).raise_for_status()
        referral = api.post(
            f"/api/v1/campaigns/{cid}/referrals",
            json={
                "title": "邀请好友一起投票",
                "qualify_on": "interaction",
                "milestones": [
                    {"friends": 1, "reward": {"kind": "coupon", "pool_id": pool.json()["id"]}}
                ],
            },
        )
        assert referral.status_code == 201, referral.text
    return {"id": cid, "slug": campaign["slug"], "poll": poll["id"]}


def _vote(page: Any, url: str, option: str) -> None:
    page.goto(url)
    page.wait_for_timeout(1600)  # a human reads the question before answering
    form = page.locator("form:has(button:has-text('投票'))")
    form.locator(f"text={option}").check()
    consent = form.locator("input[name=consent]")
    if consent.count():  # a first action asks for consent
        consent.first.check()
    form.locator("button:has-text('投票')").click()
    page.wait_for_selector("text=感谢参与，投票成功！")


def test_share_join_vote_reward_redeem_convert_and_see_it_in_the_console(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
) -> None:
    c = _setup(live_server, brand)
    poll_url = f"{live_server.url}/c/{c['slug']}/poll/{c['poll']}"

    # The sharer votes, then asks for a personal link.
    sharer_ctx = browser.new_context(**PHONE, extra_http_headers={"X-Forwarded-For": "203.0.113.7"})
    sharer = sharer_ctx.new_page()
    _vote(sharer, poll_url, "樱花拿铁")
    sharer.goto(f"{live_server.url}/c/{c['slug']}/share")  # their link is there at once
    shown = sharer.locator("#own-link").input_value()
    code = re.search(r"/s/([a-z0-9]+)\?ch=", shown)
    assert code is not None, shown
    sharer.screenshot(path=str(artifacts / "fission-share.png"), full_page=True)

    # A friend opens the link on another phone, lands on the campaign, joins and votes.
    clock.advance(timedelta(minutes=5))  # the share tree needs the sharer to have come first
    friend_ctx = browser.new_context(
        **PHONE, extra_http_headers={"X-Forwarded-For": "198.51.100.23"}
    )
    friend = friend_ctx.new_page()
    landing = friend.goto(f"{live_server.url}/s/{code.group(1)}?ch=wechat")
    assert landing.status == 200
    assert friend.url.startswith(f"{live_server.url}/c/{c['slug']}")
    _vote(friend, poll_url, "抹茶冷萃")

    # The referral job qualifies the invite on the friend's vote and gives the milestone.
    clock.advance(timedelta(seconds=10))  # past the settling time on PostgreSQL
    qualify_referrals_job(db, clock)

    sharer.goto(f"{live_server.url}/c/{c['slug']}/rewards")
    coupon = sharer.locator("#coupons .rw-code").first
    coupon.wait_for()
    coupon_code = coupon.inner_text().strip()
    assert coupon_code
    sharer.screenshot(path=str(artifacts / "fission-rewards.png"), full_page=True)

    # The shop redeems the coupon and reports the order it was used on.
    shop = brand.auth(Role.EDITOR)
    with httpx.Client(base_url=live_server.url, headers=shop) as api:
        redeemed = api.post("/api/v1/redemptions", json={"code": coupon_code, "order_id": "SO-1"})
        assert redeemed.status_code == 201, redeemed.text
        converted = api.post(
            "/api/v1/conversions",
            json={
                "order_id": "SO-1",
                "amount": "10000.00",
                "currency": "CNY",
                "occurred_at": "2026-03-02T10:30:00+08:00",
                "coupon_code": coupon_code,
            },
        )
        assert converted.status_code == 201, converted.text
        assert converted.json()["campaign_id"] == c["id"]

    # The brand's console: the conversion with revenue and ROI, the K-factor, the share tree.
    clock.advance(timedelta(days=3))  # the K-factor counts people who had 3 days to invite
    desk_ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    desk = desk_ctx.new_page()
    desk.goto(f"{live_server.url}/console/login")
    desk.fill("input[name=email]", brand.emails[Role.OWNER])
    desk.fill("input[name=password]", PASSWORD)
    desk.click("button[type=submit]")
    desk.wait_for_url(re.compile(r".*/console/w/acme/.*"))

    desk.goto(f"{live_server.url}/console/w/acme/campaigns/{c['id']}/conversions")
    assert "SO-1" in desk.locator("#conversions").inner_text()
    assert desk.locator("#revenue").inner_text() == "10,000"
    expected_roi = (10000 - BUDGET) / BUDGET * 100
    assert desk.locator("#roi").inner_text() == f"{expected_roi:.1f}%"
    desk.screenshot(path=str(artifacts / "fission-conversions.png"), full_page=True)

    desk.goto(f"{live_server.url}/console/w/acme/campaigns/{c['id']}/sharing")
    # One friend brought in by the two participants, both of whom had the 3 days.
    assert desk.locator("#k-factor").inner_text() == f"{1 / 2:.2f}"
    desk.wait_for_selector("#share-tree canvas")
    desk.screenshot(path=str(artifacts / "fission-share-tree.png"), full_page=True)

    for ctx in (sharer_ctx, friend_ctx, desk_ctx):
        ctx.close()

"""A participant on a phone, with JavaScript off, opens "my rewards", sees the coupon and its QR
code, and spends points in the store with a plain form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.incentives import service
from im2.incentives.schemas import RewardKind, RewardSpec
from tests.conftest import Brand, LiveServer
from tests.incentives.conftest import Setup

pytestmark = pytest.mark.browser


def test_rewards_page_without_javascript(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    setup: Setup,
    artifacts: Path,
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", java_script_enabled=False
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/c/{setup.slug}/me")
    page.fill("#nickname", "小樱")
    # The page also holds the join form's consent: tick the nickname form's own.
    page.check("form[action$='/me/nickname'] input[name=consent]")
    page.click("form[action$='/me/nickname'] button[type=submit]")
    with db.session() as session:
        [joined] = list_events(session, kinds=["participant.joined"])
    me = int(joined.actor_id or 0)
    with db.transaction() as session:
        pool = service.do_create_pool(
            session,
            actor=setup.actor,
            campaign_id=setup.campaign_id,
            name="第二杯半价券",
            cost_points=20,
            now=clock.now(),
        )
        service.do_generate_codes(
            session, actor=setup.actor, pool_id=pool.id, count=3, now=clock.now()
        )
        service.grant_reward(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=me,
            reward=RewardSpec(kind=RewardKind.POINTS, points=25),
            key="welcome",
            reason="新会员欢迎积分",
            now=clock.now(),
        )

    page.goto(f"{live_server.url}/c/{setup.slug}/rewards")
    assert page.inner_text("#points-balance") == "25"
    page.click("#store button[type=submit]")
    assert page.url.endswith("/rewards?done=1")
    assert page.inner_text("#points-balance") == "5"
    coupon = page.locator("#coupons .rw-code").inner_text()
    with db.session() as session:
        [(ref, _name)] = service.participant_coupons(
            session,
            workspace_id=setup.workspace_id,
            campaign_id=setup.campaign_id,
            participant_id=me,
            now=clock.now(),
        )
    assert coupon.replace("-", "") == ref.code
    assert page.locator("#coupons img").evaluate("i => i.naturalWidth") > 0  # the QR shows
    assert page.locator("#store button[type=submit]").is_disabled()  # 5 points buy nothing
    page.screenshot(path=str(artifacts / "incentives-my-rewards.png"), full_page=True)
    context.close()

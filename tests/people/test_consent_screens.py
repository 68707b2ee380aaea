"""The participant's consent screens at phone size (390×844): the join form with each purpose
on its own and the minors gate, then 我的授权 after a withdrawal. Screenshots go to
test-artifacts/ for a person to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser


def test_consent_screens_fit_a_phone(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="kids-drawing")
    httpx.patch(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}",
        json={"minors_gate": True},
        headers=brand.auth(Role.OWNER),
        timeout=30,
    ).raise_for_status()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone = context.new_page()
    phone.goto(f"{live_server.url}/c/kids-drawing/me")
    assert phone.locator("text=加入活动").first.is_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(artifacts / "consent_join_390.png"), full_page=True)

    # A child without a guardian: refused, with the reason next to the box.
    phone.locator('input[name="consent"]').check()
    phone.locator('input[value="under_14"]').check()
    phone.locator("button:has-text('加入')").click()
    assert phone.locator("text=监护人").first.is_visible()
    phone.screenshot(path=str(artifacts / "consent_guardian_refused_390.png"), full_page=True)

    phone.locator('input[name="consent"]').check()
    phone.locator('input[value="under_14"]').check()
    phone.locator('input[name="guardian"]').check()
    phone.locator('input[value="profiling"]').check()
    phone.locator("button:has-text('加入')").click()
    assert phone.locator("text=我的授权").first.is_visible()
    phone.locator("form:has(input[value='profiling']) button").click()
    assert phone.locator("text=已撤回").first.is_visible()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(artifacts / "consent_my_consents_390.png"), full_page=True)
    context.close()

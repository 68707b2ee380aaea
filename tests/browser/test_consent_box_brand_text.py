"""The activity page's consent box shows the brand's own "taking part" text on a phone and on a
laptop (issue #20); screenshots of the box at 390x844 and 1366x900."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
BRAND_TEXT = "山野咖啡的参与说明：我们只保存你的投票和一个随机设备标识，活动结束三十天后删除。"
SIZES = {"phone": (390, 844), "laptop": (1366, 900)}


@pytest.mark.parametrize("size", SIZES)
def test_the_consent_box_shows_the_brands_text(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path, size: str
) -> None:
    owner = brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    poll = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()
    written = httpx.post(
        f"{live_server.url}/api/v1/consent-texts",
        json={"purpose": "taking_part", "language": "zh_CN", "text": BRAND_TEXT},
        headers=owner,
    )
    assert written.status_code == 201, written.text
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    assert page.goto(f"{live_server.url}/c/{campaign['slug']}/poll/{poll['id']}").status == 200
    box = page.locator(".consent").first
    assert box.inner_text().startswith(BRAND_TEXT)
    assert box.is_visible()
    # The text wraps inside the page: the box is no wider than the viewport.
    bounds = box.bounding_box()
    assert bounds is not None
    assert bounds["x"] >= 0
    assert bounds["x"] + bounds["width"] <= width
    box.scroll_into_view_if_needed()
    shots = Path(os.environ.get("IM2_SHOTS", str(artifacts)))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"consent_box_brand_{size}.png"))
    context.close()

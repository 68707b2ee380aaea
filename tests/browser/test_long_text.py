"""Long text without spaces (a pasted link, a 5,000-letter description, a 1,000-letter
caption) wraps: neither the public campaign page nor the console's moderation queue grows
wider than the screen, and 通过/不通过 stay on it. Chromium at phone and desktop sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.activities.test_ugc import photo
from tests.activities.test_ugc import settings as settings  # uploads in the test's folder
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
DESCRIPTION = "a" * 5000
CAPTION = "b" * 1000


def _fits(page: Any) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


def test_long_unbroken_text_wraps_on_public_and_console_pages(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path, tmp_path: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="long-text", description=DESCRIPTION)
    contest = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/ugcs",
        json={"title": "c" * 100, "hashtag": "山野春日"},
        headers=brand.auth(Role.OWNER),
    ).json()["id"]

    picture = tmp_path / "photo.jpg"
    picture.write_bytes(photo(size=(800, 600)))
    sender = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = sender.new_page()
    page.goto(f"{live_server.url}/c/long-text/ugc/{contest}")
    page.set_input_files("#ugc-image", str(picture))
    page.fill("#ugc-caption", CAPTION)
    page.fill("#ugc-nickname", "n" * 20)
    page.check("input[name=consent]")
    page.click("text=提交作品")
    page.wait_for_url("**?done=review")
    sender.close()

    for name, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        public = context.new_page()
        public.goto(f"{live_server.url}/c/long-text")
        assert DESCRIPTION[:100] in public.locator("main").inner_text().replace("\n", "")
        assert _fits(public)[0] <= _fits(public)[1], name
        public.screenshot(path=str(artifacts / f"long-text-campaign-{name}.png"), full_page=True)

        console = context.new_page()
        console.goto(f"{live_server.url}/console/login")
        console.fill("#email", brand.emails[Role.EDITOR])
        console.fill("#password", PASSWORD)
        console.click("button[type=submit]")
        console.wait_for_url("**/console/w/acme/campaigns")
        console.goto(f"{live_server.url}/console/w/acme/ugc/{contest}")
        assert CAPTION[:50] in console.locator("#ugc-queue").inner_text().replace("\n", "")
        scroll_width, inner_width = _fits(console)
        assert scroll_width <= inner_width, name
        for label in ("通过", "不通过"):
            button = console.locator(f"#ugc-queue button:text-is('{label}')").bounding_box()
            assert button is not None
            assert button["x"] >= 0
            assert button["x"] + button["width"] <= inner_width, (name, label)
            assert button["height"] < 60, (name, label)  # one line: the label is not broken
        console.screenshot(path=str(artifacts / f"long-text-moderation-{name}.png"), full_page=True)
        context.close()

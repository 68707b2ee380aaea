"""A participant on a phone sends a photo to a contest; the brand, watching the moderation
queue in the console, sees it arrive without a reload and approves it into the gallery."""

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
PHONE = {"width": 390, "height": 844}


def _contest(server: LiveServer, brand: Brand) -> tuple[str, int]:
    owner = brand.auth(Role.OWNER)
    campaign = server.live_campaign(brand, slug="spring-photos")
    contest = httpx.post(
        f"{server.url}/api/v1/campaigns/{campaign['id']}/ugcs",
        json={"title": "晒出你的春日咖啡", "hashtag": "山野春日"},
        headers=owner,
    ).json()
    return campaign["slug"], int(contest["id"])


def test_a_photo_goes_from_a_phone_to_the_gallery(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path, tmp_path: Path
) -> None:
    slug, contest = _contest(live_server, brand)

    console = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    brand_page = console.new_page()
    brand_page.goto(f"{live_server.url}/console/login")
    brand_page.fill("#email", brand.emails[Role.EDITOR])
    brand_page.fill("#password", PASSWORD)
    brand_page.click("button[type=submit]")
    brand_page.wait_for_url("**/console/w/acme/campaigns")
    brand_page.goto(f"{live_server.url}/console/w/acme/ugc/{contest}")
    assert brand_page.locator("[data-count=pending]").inner_text() == "0"

    picture = tmp_path / "IMG_2041.jpg"
    picture.write_bytes(photo(size=(1200, 900), gps=True))
    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(f"{live_server.url}/c/{slug}/ugc/{contest}")
    assert "#山野春日#" in page.locator("main").inner_text()
    page.set_input_files("#ugc-image", str(picture))
    page.fill("#ugc-caption", "樱花树下的拿铁")
    page.fill("#ugc-nickname", "小林")
    page.check("input[name=consent]")
    page.click("text=提交作品")
    page.wait_for_url("**?done=review")
    assert (
        page.locator(".notice").inner_text() == "感谢参与！你的作品审核通过后就会出现在作品墙上。"
    )
    page.screenshot(path=str(artifacts / "ugc-phone-submitted.png"), full_page=True)

    # The console's queue updates live: the entry appears without a reload.
    brand_page.wait_for_selector("#ugc-queue [data-entry]", timeout=10_000)
    assert brand_page.locator("[data-count=pending]").inner_text() == "1"
    assert "樱花树下的拿铁" in brand_page.locator("#ugc-queue").inner_text()
    thumbnail = brand_page.locator("#ugc-queue img")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 1200
    brand_page.click("#ugc-queue button:has-text('通过')")
    brand_page.wait_for_load_state()
    assert "没有待审核的内容" in brand_page.locator("#ugc-queue").inner_text()
    assert "樱花树下的拿铁" in brand_page.locator("#ranking").inner_text()
    brand_page.screenshot(path=str(artifacts / "ugc-console-approved.png"), full_page=True)

    # Back on the phone, the approved photo is in the gallery (the live stream refreshed it).
    page.wait_for_selector("#ugc-gallery [data-entry] img", timeout=10_000)
    assert "樱花树下的拿铁" in page.locator("#ugc-gallery").inner_text()
    assert page.locator("#ugc-gallery img").evaluate("img => img.naturalWidth") == 1200
    phone.close()
    console.close()

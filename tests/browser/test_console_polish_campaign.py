"""The campaign page a marketer opens first: one primary action, the public page beside it and
the rest under 更多 (no wall of twelve equal buttons); the menu opens inside the screen on a
phone and on a desktop, and the history reads as sentences, not keys. Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_console_flow import _login
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}


def test_one_primary_action_and_a_more_menu_on_phone_and_desktop(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="polish-page")
    for name, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        _login(page, live_server, brand.emails[Role.OWNER])
        page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}")

        actions = page.locator(".campaign-actions")
        assert actions.locator(".button.primary").all_inner_texts() == ["数据分析"], name
        visible = actions.locator("> .button").all_inner_texts()
        assert visible == ["数据分析", "编辑", "打开公开页面"], name
        assert page.get_by_role("link", name="分享与裂变").is_visible() is False
        # Two rows at most on a phone, one on a desktop: the buttons no longer wrap into a wall.
        top = actions.bounding_box()
        assert top is not None
        assert top["height"] < (110 if name == "phone" else 60), name

        page.click("summary:text-is('更多')")
        menu = page.locator(".menu-items")
        menu.wait_for()
        box = menu.bounding_box()
        assert box is not None
        assert box["x"] >= 0, name
        assert box["x"] + box["width"] <= width, name
        for label in ("实时", "活动效果报告", "分享与裂变", "激励", "评论", "复制"):
            assert menu.get_by_text(label, exact=True).is_visible(), (name, label)
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], name
        page.screenshot(path=str(artifacts / f"campaign-actions-{name}.png"), full_page=False)

        history = page.locator("ol.timeline").inner_text()
        assert "状态：草稿 → 已排期" in history
        assert "campaign.status" not in history
        page.click(".menu-items >> text=分享与裂变")
        page.wait_for_url("**/sharing")
        context.close()


def test_template_tags_are_chips_not_input_boxes(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.OWNER])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/new")
    tile = page.locator(".tile").first
    chip = tile.locator(".chip")
    tile_box, chip_box = tile.bounding_box(), chip.bounding_box()
    assert tile_box is not None
    assert chip_box is not None
    assert chip_box["width"] < tile_box["width"] / 2  # as wide as its words, not the tile
    style = chip.evaluate(
        "e => { const s = getComputedStyle(e); return [s.borderTopWidth, s.borderRadius]; }"
    )
    assert style[0] == "0px"  # no box around it
    assert float(style[1].removesuffix("px")) >= 10  # a pill
    page.screenshot(path=str(artifacts / "template-chips-phone.png"))
    context.close()


def test_the_experiment_form_fits_a_phone(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="polish-experiments")
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.OWNER])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/experiments")
    # The variants table scrolls inside its fieldset instead of widening the page.
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    assert page.get_by_label("已投票").is_checked()  # goals in words
    page.screenshot(path=str(artifacts / "experiment-form-phone.png"), full_page=True)
    context.close()


def test_the_activities_table_fits_a_phone(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="polish-activities")
    httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign['id']}/polls",
        json={**POLL, "title": "试喝之后，你最想把哪款带回家？" * 3},
        headers=brand.auth(Role.OWNER),
    ).raise_for_status()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.OWNER])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/analytics/activities")
    assert page.locator("#activity-table tbody tr").count() == 1
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths
    page.screenshot(path=str(artifacts / "analytics-activities-phone.png"), full_page=True)
    context.close()

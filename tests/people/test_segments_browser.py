"""The segment builder in a real browser: ticking a stage and typing a tag update the count
without a page load (htmx), on a phone and on a laptop screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.people.test_segments import Population, people  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1366, 900)])
def test_the_count_follows_the_edits(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    people: Population,  # noqa: F811 (the fixture)
    artifacts: Path,
    width: int,
    height: int,
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/console/login")
    page.fill("#email", brand.emails[Role.EDITOR])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/**")
    page.goto(f"{live_server.url}/console/w/acme/people/segments/new")
    assert page.locator("h1").inner_text() == "新建人群"
    count = page.locator("#seg-count-value")
    expect(count).to_have_text("4")  # an empty rule: everyone who may be in a segment
    page.get_by_label("传播者").check()
    expect(count).to_have_text("1")
    page.get_by_label("拥护者").check()
    expect(count).to_have_text("2")
    page.select_option("#new_field", "tag")
    page.click("button[value=add]")
    page.fill("#c1_text", "vip")
    expect(count).to_have_text("1")
    page.fill("#name", "VIP 传播者")
    # The page does not scroll sideways on a phone.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"segment-builder-{width}.png"), full_page=True)
    page.click("button[value=save]")
    page.wait_for_url("**/segments/*?saved=1")
    expect(page.locator(".notice")).to_contain_text("第 1 版")
    page.screenshot(path=str(artifacts / f"segment-saved-{width}.png"), full_page=True)
    context.close()

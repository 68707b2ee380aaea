"""A campaign in three languages opened by browsers set to English and to Traditional Chinese:
each reads it in its own language, the switcher changes it (and the choice stays), and a
campaign that offers only Simplified Chinese stays Chinese for an English browser (issue #22).
The console's campaign form sets the languages. Screenshots at 390x844 and 1366x900 go to
test-artifacts/languages-*.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}
# "My rewards" on the campaign page, in each locale (the catalogs' words).
MY_REWARDS = {"en": "My rewards", "zh-TW": "我的獎勵", "zh-CN": "我的奖励"}


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_a_campaign_speaks_the_browsers_language_and_switches(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    live_server.live_campaign(
        brand, slug="tri-lang", languages=["zh-CN", "zh-TW", "en"], default_language="zh-CN"
    )
    live_server.live_campaign(brand, slug="cn-only", name="只说中文")
    url = f"{live_server.url}/c/tri-lang"
    for size, (width, height) in SIZES.items():
        for browser_locale in ("en", "zh-TW"):
            context = browser.new_context(
                viewport={"width": width, "height": height}, locale=browser_locale
            )
            page = context.new_page()
            page.goto(url)
            assert page.get_attribute("html", "lang") == browser_locale
            assert page.get_by_text(MY_REWARDS[browser_locale], exact=True).is_visible()
            switch = page.locator("nav.lang-switch")
            assert switch.is_visible()
            assert _fits(page)
            page.screenshot(path=str(artifacts / f"languages-{browser_locale}-{size}.png"))

            # The switcher: Simplified Chinese, and it is kept on the next page.
            switch.get_by_text("简体中文").click()
            page.wait_for_load_state()
            assert page.get_attribute("html", "lang") == "zh-CN"
            assert page.get_by_text(MY_REWARDS["zh-CN"], exact=True).is_visible()
            assert switch.locator("[aria-current]").inner_text() == "简体中文"
            page.goto(url)
            assert page.get_attribute("html", "lang") == "zh-CN"
            if browser_locale == "en":
                page.screenshot(path=str(artifacts / f"languages-switched-{size}.png"))

                # A campaign that offers only Simplified Chinese: Chinese, and no switcher.
                fresh = browser.new_context(
                    viewport={"width": width, "height": height}, locale="en-US"
                )
                only = fresh.new_page()
                only.goto(f"{live_server.url}/c/cn-only")
                assert only.get_attribute("html", "lang") == "zh-CN"
                assert only.get_by_text(MY_REWARDS["zh-CN"], exact=True).is_visible()
                assert only.locator("nav.lang-switch").count() == 0
                fresh.close()
            context.close()


def test_the_campaign_form_sets_the_languages(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand, slug="form-lang")
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{live_server.url}/console/login")
        page.fill("#email", brand.emails[Role.OWNER])
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/w/acme/campaigns")
        page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/edit")
        languages = page.locator("fieldset#languages")
        assert languages.locator("legend").inner_text() == "语言"
        languages.get_by_label("繁体中文").check()
        languages.get_by_label("英文").check()
        page.select_option("#default_language", "en")
        languages.scroll_into_view_if_needed()
        assert _fits(page)
        languages.screenshot(path=str(artifacts / f"languages-form-{size}.png"))
        with page.expect_navigation():
            page.locator("form button[type=submit]").last.click()
        assert "/edit" not in page.url
        context.close()
        # The saved default shows at once to a new browser that asks for no offered language.
        visitor = browser.new_context(locale="fr-FR")
        public = visitor.new_page()
        public.goto(f"{live_server.url}/c/form-lang")
        assert public.get_attribute("html", "lang") == "en"
        visitor.close()

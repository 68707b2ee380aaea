"""我的数据 in a real browser at phone and desktop size: code → download → deletion, and the
console's request pages. Each page fits its screen; screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from im2.participation.senders import MemorySender
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.privacy.test_requests import outbox, settings  # noqa: F401

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 900)}


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _shot(page: Any, artifacts: Path, name: str) -> None:
    assert _fits(page), name
    page.screenshot(path=str(artifacts / f"privacy-{name}.png"), full_page=True)


def test_my_data_code_download_deletion(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    artifacts: Path,
    outbox: MemorySender,  # noqa: F811
) -> None:
    live_server.live_campaign(brand, slug="my-data-shop")
    for size, (width, height) in SIZES.items():
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="zh-CN", accept_downloads=True
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/c/my-data-shop/my-data")
        assert "我的数据" in page.content()
        form = page.locator("form[action$='/my-data/code']")
        form.locator("select[name=channel]").select_option("phone")
        form.locator("input[name=destination]").fill(f"1380013800{len(outbox.sent)}")
        form.locator("input[name=consent]").check()
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        _shot(page, artifacts, f"my-data-code-{size}")
        code = outbox.sent[-1][2]
        page.locator("input[name=code]").fill(code)
        page.locator("form[action$='/my-data/verify'] button[type=submit]").click()
        page.wait_for_load_state()
        assert "下载副本" in page.content()

        page.locator("form[action$='/my-data/export'] button[type=submit]").click()
        page.wait_for_load_state()
        for _attempt in range(40):  # the file is built just after the answer
            page.reload()
            if page.locator("#download").count():
                break
            page.wait_for_timeout(500)
        _shot(page, artifacts, f"my-data-open-{size}")
        with page.expect_download() as download:
            page.locator("#download").click()
        assert download.value.suggested_filename == "my-data.zip"

        page.locator("form[action$='/my-data/delete'] input[name=confirm]").check()
        page.locator("#delete").click()
        page.wait_for_load_state()
        assert "你的请求已记录" in page.content()
        _shot(page, artifacts, f"my-data-deletion-{size}")
        context.close()

    # The brand's console: the list and one request with its log.
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/console/login")
    page.locator("input[name=email]").fill(brand.emails[next(iter(brand.emails))])
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form[action='/console/login'] button[type=submit]").click()
    page.wait_for_load_state()
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{live_server.url}/console/w/{brand.slug}/privacy")
        assert "数据请求" in page.content()
        _shot(page, artifacts, f"console-list-{size}")
        page.locator("table a").first.click()
        page.wait_for_load_state()
        _shot(page, artifacts, f"console-request-{size}")
    context.close()

"""The SMS page in a real browser: an owner sees that codes only go to the log, sets up an
Alibaba Cloud account; a participant on a phone asks for a code; the delivery log shows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.messaging.jobs import send_messages_job
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.messaging.conftest import ALIYUN_KEY_ID, ALIYUN_SECRET, Provider

pytestmark = pytest.mark.browser


@pytest.fixture
def _aliyun_url(monkeypatch: pytest.MonkeyPatch, aliyun: Provider) -> Iterator[None]:
    monkeypatch.setenv("IM2_SMS_ALIYUN_URL", aliyun.url)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.usefixtures("_aliyun_url")
def test_set_up_sms_and_read_the_log(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    aliyun: Provider,
    artifacts: Path,
) -> None:
    shots = artifacts
    campaign = live_server.live_campaign(brand)
    console = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = console.new_page()
    page.goto(f"{live_server.url}/console/login")
    page.fill("#email", brand.emails[Role.OWNER])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/campaigns")

    page.click("nav >> text=短信")
    page.wait_for_url("**/console/w/acme/messaging")
    assert page.locator("#log-only h2").inner_text() == "开发模式：验证码只写入服务器日志，不会发出"
    page.screenshot(path=str(shots / "sms-empty-1366.png"), full_page=True)

    page.select_option("#provider", "aliyun")
    page.fill("#access_key_id", ALIYUN_KEY_ID)
    page.fill("#access_key_secret", ALIYUN_SECRET)
    page.fill("#sign_name", "阿里云短信测试")
    page.fill("#verify_template", "SMS_154950909")
    page.click("button:has-text('保存')")
    page.wait_for_url("**/messaging?saved=1")
    assert page.locator("#log-only").count() == 0
    assert page.input_value("#access_key_secret") == ""  # never shown again

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    me = phone.new_page()
    me.goto(f"{live_server.url}/c/{campaign['slug']}/me")
    me.select_option("#channel", "phone")
    me.fill("#destination", "13800138000")
    form = me.locator("form[action$='/me/code']")
    form.locator("input[name=consent]").check()
    form.locator("button[type=submit]").click()
    me.wait_for_url("**/me?sent=phone")
    assert me.locator("text=我们已向你发送 6 位验证码").is_visible()
    me.screenshot(path=str(shots / "participant-code-390.png"), full_page=True)

    assert send_messages_job(db, clock) == 1
    me.fill("#code", aliyun.sent_codes()[0])
    me.locator("form[action$='/me/verify'] button[type=submit]").click()
    me.wait_for_url("**/me?done=verified")

    page.reload()
    row = page.locator("#deliveries tbody tr").first
    assert "138****8000" in row.inner_text()
    assert "已被服务商接收" in row.inner_text()
    page.screenshot(path=str(shots / "sms-log-1366.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "sms-log-390.png"), full_page=True)
    assert ALIYUN_SECRET not in page.content()

    # A wrong secret: the next code fails at once, the console says why, the phone says so.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.fill("#access_key_secret", "wrong-secret-0000")
    page.click("button:has-text('保存')")
    page.wait_for_url("**/messaging?saved=1")
    me.goto(f"{live_server.url}/c/{campaign['slug']}/me")
    me.select_option("#channel", "phone")
    me.fill("#destination", "13900139000")
    me.locator("form[action$='/me/code'] button[type=submit]").click()
    me.wait_for_url("**/me?sent=phone")
    assert send_messages_job(db, clock) == 1
    me.reload()
    assert (
        me.locator("#destination-error").inner_text() == "短信没能发出，请重新获取验证码再试一次。"
    )
    assert me.locator("text=我们已向你发送").count() == 0
    me.screenshot(path=str(shots / "participant-sms-failed-390.png"), full_page=True)
    page.reload()
    first = page.locator("#deliveries tbody tr").first
    assert "SignatureDoesNotMatch" in first.inner_text()
    assert first.locator("text=服务商拒绝了 AccessKey").is_visible()
    page.screenshot(path=str(shots / "sms-refused-1366.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "sms-refused-390.png"), full_page=True)
    console.close()
    phone.close()

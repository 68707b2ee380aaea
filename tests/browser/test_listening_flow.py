"""A brand manager in a real browser: set up a brand topic, import a mentions file with a burst
of complaints, see the sentiment timeline and the spike alert, take a negative mention from the
inbox, let its time limit pass (ManualClock) and see it escalate by itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from im2.listening.jobs import detect_spikes_job, escalate_inbox_job
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, START, Brand, LiveServer

pytestmark = pytest.mark.browser

CALM = ("今天在商场看了海尔冰箱", "海尔冰箱用了一年，还不错", "朋友推荐海尔的洗衣机")
ANGRY = (
    "海尔冰箱门关不上，客服也不理人，太失望了",
    "刚买的海尔冰箱漏水，质量太差，坚决退货",
    "海尔冰箱噪音大得睡不着，垃圾产品",
)


def _mentions_csv(path: Path) -> Path:
    """Twelve quiet hours (one post an hour), 24 complaints in the last 48 minutes, and one
    broken row (line 38)."""
    rows = ["platform,post_id,text,author,author_followers,posted_at"]
    for hour in range(1, 13):
        when = START - timedelta(hours=hour, minutes=30)
        rows.append(
            f"weibo,calm-{hour},{CALM[hour % 3]},路人{hour},{100 * hour},{when:%Y-%m-%d %H:%M:%S}"
        )
    for i in range(24):
        when = START - timedelta(minutes=2 * i + 1)
        text = f"{ANGRY[i % 3]}（第{i + 1}位）"
        rows.append(f"weibo,angry-{i},{text},用户{i},{5000 * (i + 1)},{when:%Y-%m-%d %H:%M:%S}")
    rows.append("weibo,broken,,路人,0,2026-03-02 01:00:00")  # no text: reported, not stored
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _login(page: Any, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/console/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/campaigns")


def test_import_spike_alert_and_escalation(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path, tmp_path: Path
) -> None:
    db = live_server.app.state.db
    clock = live_server.app.state.clock
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.EDITOR])

    page.click("nav.mainnav >> text=舆情监听")
    page.wait_for_url("**/listening")
    page.click("nav.subnav >> text=话题")
    page.click("text=新建话题")
    page.fill("#name", "海尔")
    page.fill("#query", "(海尔 OR Haier")
    page.click("button:has-text('创建话题')")
    assert page.locator("#query-error").inner_text() == "第 1 个字符处：括号未闭合。"
    page.fill("#query", "海尔 OR Haier")
    page.click("button:has-text('创建话题')")
    page.wait_for_url("**/listening/topics")
    assert page.locator("table.topics", has_text="海尔 OR Haier").count() == 1

    page.click("nav.subnav >> text=导入")
    page.set_input_files("#file", str(_mentions_csv(tmp_path / "海尔-微博.csv")))
    page.select_option("#mapping", "im2")
    page.click("button:has-text('导入')")
    page.wait_for_url("**/listening/imports/*")
    assert page.locator("[data-imported]").inner_text() == "36"
    assert page.locator("#import-errors tbody tr").inner_text().split() == ["38", "正文为空"]
    page.screenshot(path=str(artifacts / "listening-import-report.png"), full_page=True)

    # The detector runs as a scheduled job; the test runs it once, at the app's time.
    assert detect_spikes_job(db, clock)

    page.click("nav.subnav >> text=概览")
    page.wait_for_selector("#sentiment-timeline[data-drawn=true] canvas")
    assert page.locator("#total-mentions").inner_text() == "36"
    latest = page.locator("#latest-alerts").inner_text()
    assert "声量激增" in latest
    assert "负面情绪激增" in latest
    page.screenshot(path=str(artifacts / "listening-overview.png"), full_page=True)

    page.click("nav.subnav >> text=预警")
    alert = page.locator("article.alert-card[data-kind=negative]").first
    assert "热词" in alert.inner_text()
    assert "用户23" in alert.inner_text()  # the most-followed complainer is named

    page.click("nav.subnav >> text=工单收件箱")
    page.locator("table.inbox tbody tr", has_text="第24位").locator("a").first.click()
    page.wait_for_url("**/listening/inbox/*")
    item_url = page.url
    assert "负面" in page.locator("section.card").first.inner_text()
    page.select_option("#assignee_id", label="Editor")
    page.click("button:text-is('保存')")
    page.wait_for_url(item_url)
    assert "处理中" in page.locator("#item-status").inner_text()
    assert "公开回复" in page.locator("#step-deadline").inner_text()

    # Nobody answers within the first step's hour: the escalation job moves it up by itself.
    clock.advance(timedelta(minutes=61))
    assert escalate_inbox_job(db, clock)
    page.reload()
    assert "已升级" in page.locator("#item-status").inner_text()
    assert "私信沟通" in page.locator("#step-deadline").inner_text()
    assert "已升级到第 2 级" in page.locator("#notes").inner_text()
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = phone.new_page()
    _login(page, live_server, brand.emails[Role.ANALYST])
    page.goto(f"{live_server.url}/console/w/acme/listening/inbox?status=escalated")
    row = page.locator("table.inbox tbody tr", has_text="第24位")
    assert "已升级" in row.inner_text()
    assert page.locator("button:text-is('保存')").count() == 0
    page.screenshot(path=str(artifacts / "listening-inbox-phone.png"))
    phone.close()

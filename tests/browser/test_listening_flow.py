"""A brand manager in a real browser: set up a brand topic, import a mentions file with a burst
of complaints, see the sentiment timeline and the spike alert, take a negative mention from the
inbox, let its time limit pass (ManualClock) and see it escalate by itself."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    broken row (line 38). Times carry their offset (UTC, as the test clock), so the workspace's
    zone, which reads times without one, does not apply."""
    rows = ["platform,post_id,text,author,author_followers,posted_at"]
    for hour in range(1, 13):
        when = START - timedelta(hours=hour, minutes=30)
        rows.append(
            f"weibo,calm-{hour},{CALM[hour % 3]},路人{hour},{100 * hour},{when:%Y-%m-%d %H:%M:%S+00:00}"
        )
    for i in range(24):
        when = START - timedelta(minutes=2 * i + 1)
        text = f"{ANGRY[i % 3]}（第{i + 1}位）"
        rows.append(
            f"weibo,angry-{i},{text},用户{i},{5000 * (i + 1)},{when:%Y-%m-%d %H:%M:%S+00:00}"
        )
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


def test_feeds_and_corrections_on_a_phone(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    """An editor on a phone follows a news feed, polls it at once, corrects the sentiment of
    one of its entries and finds the correction counted on the sentiment model page."""
    from tests.listening.test_api import FEED

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = FEED.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    feed_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=feed_server.serve_forever, daemon=True).start()
    feed_url = f"http://127.0.0.1:{feed_server.server_address[1]}/news.xml"
    try:
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = phone.new_page()
        _login(page, live_server, brand.emails[Role.EDITOR])
        base = f"{live_server.url}/console/w/acme/listening"
        page.goto(f"{base}/feeds")
        page.fill("#url", feed_url)
        page.fill("#interval_minutes", "30")
        page.click("button:text-is('订阅')")
        row = page.locator("table.feeds tbody tr", has_text="news.xml")
        assert "尚未抓取" in row.inner_text()
        row.locator("button:text-is('立即抓取')").click()
        assert "抓取完成：新增 2 条提及" in page.locator("p.notice").inner_text()
        assert "正常" in page.locator("table.feeds tbody tr", has_text="news.xml").inner_text()
        page.screenshot(path=str(artifacts / "listening-feeds-phone.png"), full_page=True)

        page.goto(f"{base}/sentiment-model")
        assert page.locator("[data-figure=corrections]").inner_text() == "0"
        assert page.locator("button:text-is('根据更正重新训练')").is_disabled()

        page.goto(f"{base}/mentions?q=召回")
        form = page.locator("form.correct").first
        form.locator("select").select_option("negative")
        form.locator("button").click()
        page.goto(f"{base}/sentiment-model")
        assert page.locator("[data-figure=corrections]").inner_text() == "1"
        assert page.locator("[data-figure=negative]").inner_text() == "1"
        page.screenshot(path=str(artifacts / "listening-model-phone.png"), full_page=True)
        phone.close()
    finally:
        feed_server.shutdown()
        feed_server.server_close()

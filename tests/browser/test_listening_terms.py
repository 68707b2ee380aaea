"""A brand manager in a real browser, in Chinese: import mentions where a new word bursts out
(a fridge catching fire, 自燃), open the listening overview for the last 24 hours, and see the
word at the top of the trending table and the word cloud drawn; a click on the word lists its
mentions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from im2.workspaces.schemas import Role
from tests.browser.test_listening_flow import _login
from tests.conftest import START, Brand, LiveServer

pytestmark = pytest.mark.browser

CALM = ("海尔冰箱很好用，制冷快", "海尔冰箱很安静，推荐", "周末去商场看了海尔冰箱")
FIRE = (
    "海尔冰箱自燃了，太吓人",
    "听说海尔冰箱自燃，厨房都烧黑了",
    "又一台海尔冰箱自燃，官方快回应",
)

# Pixels of the word cloud's canvas that are not transparent: the words ECharts drew.
INKED = """() => {
  const canvas = document.querySelector('#word-cloud canvas');
  if (!canvas || !canvas.width) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked++;
  return inked;
}"""


def _mentions_csv(path: Path) -> Path:
    """Yesterday: 18 calm posts (the baseline). The last 24 hours: 6 calm posts, then 15 about
    a fridge that caught fire."""
    rows = ["platform,post_id,text,author,posted_at"]
    for i in range(18):
        when = START - timedelta(hours=26 + i)
        rows.append(f"weibo,calm-old-{i},{CALM[i % 3]}（{i}）,路人{i},{when:%Y-%m-%d %H:%M:%S}")
    for i in range(6):
        when = START - timedelta(hours=10 + i)
        rows.append(f"weibo,calm-{i},{CALM[i % 3]}（{i}）,网友{i},{when:%Y-%m-%d %H:%M:%S}")
    for i in range(15):
        when = START - timedelta(minutes=3 * i + 1)
        rows.append(f"weibo,fire-{i},{FIRE[i % 3]}（{i}）,用户{i},{when:%Y-%m-%d %H:%M:%S}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_burst_term_trends_and_fills_the_word_cloud(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, live_server, brand.emails[Role.EDITOR])

    page.goto(f"{live_server.url}/console/w/acme/listening/import")
    page.set_input_files("#file", str(_mentions_csv(tmp_path / "冰箱-微博.csv")))
    page.select_option("#mapping", "im2")
    page.click("button:text-is('导入')")
    page.wait_for_url("**/listening/imports/*")
    assert page.locator("[data-imported]").inner_text() == "39"

    page.click("nav.subnav >> text=概览")
    page.select_option("#range", label="最近 24 小时")
    page.click("button:text-is('应用')")
    page.wait_for_url("**/listening?range=24h*")
    assert "统计了本时段全部 21 条提及" in page.locator("#terms-sample").inner_text()

    # The new word leads the trending table: 15 posts now, none yesterday
    first = page.locator("#trending-table tbody tr").first
    assert first.get_attribute("data-term") == "自燃"
    assert first.locator("td").all_inner_texts()[1:3] == ["15", "0"]

    # The word cloud is drawn on its canvas, and its words are also in a table
    page.wait_for_selector("#word-cloud canvas")
    page.wait_for_function(f"() => ({INKED})() > 500")
    page.click("#keyword-table summary")
    assert "自燃" in page.locator("#keyword-table tbody").inner_text()
    page.locator("#terms").screenshot(path=str(artifacts / "listening-terms.png"))

    # A click on the word lists the mentions that contain it
    first.locator("a").click()
    page.wait_for_url("**/listening/mentions?q=*")
    rows = page.locator("table.mentions tbody tr")
    assert rows.count() == 15
    assert all("自燃" in text for text in rows.all_inner_texts())
    assert errors == []
    context.close()

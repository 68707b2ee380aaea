"""In Debian's Chromium on a phone-sized screen: a participant fills in a survey with HTMX
(skip logic, a reload in the middle resumes), and plays the coffee quiz."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.activities.test_quiz import COFFEE
from tests.activities.test_survey import SURVEY
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "is_mobile": True,
    "has_touch": True,
}


def _live_campaign(server: LiveServer, brand: Brand) -> tuple[str, int]:
    campaign = server.live_campaign(brand)
    return campaign["slug"], campaign["id"]


def test_survey_on_a_phone_with_skip_logic_and_a_reload(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    artifacts: Path,
) -> None:
    slug, campaign_id = _live_campaign(live_server, brand)
    survey = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign_id}/surveys",
        json=SURVEY,
        headers=brand.auth(Role.OWNER),
    ).json()
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.goto(f"{live_server.url}/c/{slug}/survey/{survey['id']}")
    assert page.locator("h1").inner_text() == "春季新品体验问卷"
    page.wait_for_timeout(1600)  # a human reads the question first
    page.check("text=每周")
    page.check("input[name=consent]")
    page.click("button:has-text('下一题')")
    page.wait_for_selector("text=你喝过樱花拿铁吗？")
    page.check("text=没喝过")
    page.click("button:has-text('下一题')")
    page.wait_for_selector("text=推荐给朋友的可能性？")  # questions 3 and 4 are skipped

    page.reload()  # the answers so far live on the server
    page.wait_for_selector("text=推荐给朋友的可能性？")
    assert page.locator("text=第 5 题（共 7 题）").count() == 1
    page.check("input[name=answer][value='9']")
    page.click("button:has-text('下一题')")
    page.wait_for_selector("text=哪些因素最重要？")
    for place, select in enumerate(page.locator("select").all(), start=1):
        select.select_option(str(place))
    page.click("button:has-text('下一题')")
    page.wait_for_selector("text=还有什么建议？")
    page.fill("textarea[name=answer]", "希望多开几家店")
    page.click("button:has-text('提交问卷')")
    page.wait_for_selector("text=感谢填写！你的回答已提交。")
    page.screenshot(path=str(artifacts / "survey-phone.png"), full_page=True)
    phone.close()

    summary = httpx.get(
        f"{live_server.url}/api/v1/surveys/{survey['id']}/summary",
        headers=brand.auth(Role.OWNER),
    ).json()
    assert summary["responses"] == 1
    assert [q["answered"] for q in summary["questions"]] == [1, 1, 0, 0, 1, 1, 1]


def test_quiz_on_a_phone(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    artifacts: Path,
) -> None:
    slug, campaign_id = _live_campaign(live_server, brand)
    quiz = httpx.post(
        f"{live_server.url}/api/v1/campaigns/{campaign_id}/quizzes",
        json=COFFEE,
        headers=brand.auth(Role.OWNER),
    ).json()
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.goto(f"{live_server.url}/c/{slug}/quiz/{quiz['id']}")
    page.wait_for_timeout(1600)
    page.check("text=果实的种子")
    page.fill("input[name=nickname]", "小林")
    page.check("input[name=consent]")
    page.click("button:has-text('提交答案')")
    page.wait_for_selector("text=答对了！+10 分")
    page.check("text=300")
    page.click("button:has-text('提交答案')")
    page.wait_for_selector("text=答错了。正确答案：30")
    page.wait_for_selector("text=你已完成答题，得分：10")
    page.click("text=排行榜")
    page.wait_for_selector("text=你目前排名第 1，得分 10。")
    assert page.locator("td[data-label='名次']").first.inner_text() == "1"
    page.screenshot(path=str(artifacts / "quiz-phone.png"), full_page=True)
    phone.close()

"""The quiz, the survey and the live Q&A inside the widget on a brand's own site: a page served
from a second origin on loopback (127.0.0.2) embeds each with the one script tag; what a visitor
does through the frame counts (read back through the brand's API), refusals show next to their
field in Chinese, the frame follows its content's height, and a site the workspace did not
allow (127.0.0.3) gets nothing in its frame."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.activities.test_quiz import COFFEE, FINAL
from tests.activities.test_survey import SURVEY
from tests.browser.test_embed_widget import BrandSite
from tests.conftest import Brand, LiveServer
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-widgetframe")  # noqa: S108 (the screenshots the brief asks for)
SIZES = (("phone", (390, 844)), ("desktop", (1366, 900)))
# Latin words a Chinese frame may show: the product name, and "Cookie" as Chinese writes it.
ENGLISH = re.compile(r"[A-Za-z]{3,}")


@pytest.fixture
def sites() -> Iterator[tuple[BrandSite, BrandSite]]:
    allowed, other = BrandSite("127.0.0.2"), BrandSite("127.0.0.3")
    yield allowed, other
    for site in (allowed, other):
        site.server.shutdown()
        site.server.server_close()


def _embed(
    live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite], path: str, body: dict
) -> tuple[str, int]:
    """A live campaign with one activity (POSTed to `path` under the campaign), embeddable by
    the first site; both sites' pages embed it. (slug, activity id)."""
    campaign = live_server.live_campaign(brand)
    with httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60) as api:
        created = api.post(f"/api/v1/campaigns/{campaign['id']}/{path}", json=body)
        assert created.status_code == 201, created.text
        api.post("/api/v1/embed/origins", json={"origin": sites[0].origin}).raise_for_status()
    slug, activity_id = campaign["slug"], int(created.json()["id"])
    for site in sites:
        site.html = site.page(live_server, slug, activity_id)
    return slug, activity_id


def _open(browser: Any, site: BrandSite, size: tuple[int, int], problems: list[str]) -> Any:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(site.origin + "/")
    return page


def _widget(page: Any) -> Any:
    return page.frame_locator("iframe[data-im2-frame]")


def _fits(page: Any) -> None:
    """The iframe is as tall as the widget's content (after the frame's last message), and
    nothing in the frame is wider than it."""
    page.wait_for_function("document.querySelector('iframe').style.height !== '420px'")
    page.wait_for_timeout(300)
    widget = _widget(page).locator("#im2-widget")
    bottom = widget.evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
    height = page.evaluate("document.querySelector('iframe').getBoundingClientRect().height")
    assert abs(float(height) - float(bottom)) <= 2, (height, bottom)
    overflow = widget.evaluate(
        "e => Array.from(e.querySelectorAll('*')).filter(x => x.getBoundingClientRect().right >"
        " document.documentElement.clientWidth + 1).map(x => x.tagName + '.' + x.className)"
    )
    assert overflow == []


def _chinese_only(page: Any) -> None:
    text = _widget(page).locator("#im2-widget").inner_text()
    words = [w for w in ENGLISH.findall(text) if w not in {"IM2", "Cookie"}]
    assert words == [], words
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|\{\w+\}|%\(\w+\)s", text), text


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _look(
    browser: Any,
    site: BrandSite,
    name: str,
    problems: list[str],
    ready: tuple[str, str],
    kind: str,
) -> Any:
    """The widget at one of SIZES, once `ready` (a selector and its text) shows: it fits its
    frame, speaks Chinese only, and is kept as a screenshot."""
    page = _open(browser, site, dict(SIZES)[name], problems)
    _widget(page).locator(ready[0], has_text=ready[1]).wait_for()
    _fits(page)
    _chinese_only(page)
    _shot(page, f"{kind}-{name}-start")
    return page


def _refused_elsewhere(browser: Any, stranger: BrandSite) -> None:
    """The site the workspace did not allow: the browser refuses the framed page."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(stranger.origin + "/")
    page.wait_for_selector("iframe[data-im2-frame]", state="attached")
    page.wait_for_timeout(1500)
    assert _widget(page).locator("#im2-widget").count() == 0
    assert any("blocked" in text for text in refused), refused
    context.close()


def test_a_quiz_through_the_widget_is_answered_and_scored(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    _slug, quiz_id = _embed(live_server, brand, sites, "quizzes", COFFEE)
    problems: list[str] = []
    ready = ("legend", "咖啡豆其实是什么？")
    _look(browser, sites[0], "desktop", problems, ready, "quiz").context.close()
    page = _look(browser, sites[0], "phone", problems, ready, "quiz")
    widget, name = _widget(page), "phone"
    # Nothing chosen, box not ticked: both said, each by its field, nothing sent.
    widget.locator("button[type=submit]").click()
    widget.locator("[data-error-for=option]", has_text="请先选择一个答案").wait_for()
    assert "同意" in widget.locator("[data-error-for=consent]").inner_text()
    _shot(page, f"quiz-{name}-refused")
    widget.locator("label.choice", has_text="果实的种子").click()
    widget.locator("input[name=nickname]").fill("小林")
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]").click()
    widget.locator(".notice", has_text="答对了").wait_for()
    assert widget.locator("[data-score]").inner_text() == "10"
    # The next question, no consent box any more (the visitor has joined).
    widget.locator("legend", has_text="意式浓缩一份大约多少毫升？").wait_for()
    assert widget.locator("input[name=consent]").count() == 0
    widget.locator("label.choice", has_text="300").click()
    widget.locator("button[type=submit]").click()
    widget.locator(".alert", has_text="正确答案：30").wait_for()
    widget.locator(".notice", has_text="你已完成答题").wait_for()
    _fits(page)
    _chinese_only(page)
    _shot(page, f"quiz-{name}-finished")
    page.context.close()
    assert problems == []

    with httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60) as api:
        board = api.get(f"/api/v1/quizzes/{quiz_id}/leaderboard").json()
        results = api.get(f"/api/v1/quizzes/{quiz_id}/results").json()
    assert [(r["name"], r["score"], r["correct"], r["answered"]) for r in board["rows"]] == [
        ("小林", 10, 1, 2)
    ]
    assert [q["answers"] for q in results["questions"]] == [1, 1]
    _refused_elsewhere(browser, sites[1])


def test_a_survey_through_the_widget_is_filled_in_and_sent(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    slug, survey_id = _embed(live_server, brand, sites, "surveys", SURVEY)
    problems: list[str] = []
    ready = ("legend", "你多久来一次？")
    _look(browser, sites[0], "desktop", problems, ready, "survey").context.close()
    page = _look(browser, sites[0], "phone", problems, ready, "survey")
    widget, name = _widget(page), "phone"
    widget.locator("label.choice", has_text="每周").click()
    widget.locator("button[type=submit]").click()
    widget.locator("[data-error-for=consent]", has_text="同意").wait_for()
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]").click()
    # A required question left empty: said by it, in Chinese.
    widget.locator("legend", has_text="你喝过樱花拿铁吗？").wait_for()
    widget.locator("button[type=submit]").click()
    widget.locator("[data-error-for^=q]", has_text="这道题必须回答").wait_for()
    _shot(page, f"survey-{name}-refused")
    # "Not yet" skips the rating and the likes (skip_to 5).
    widget.locator("label.choice", has_text="没喝过").click()
    widget.locator("button[type=submit]").click()
    widget.locator("legend", has_text="推荐给朋友的可能性？").wait_for()
    widget.locator(".scale label.choice", has_text="9").click()
    _fits(page)
    _chinese_only(page)
    _shot(page, f"survey-{name}-nps")
    widget.locator("button[type=submit]").click()
    widget.locator("legend", has_text="哪些因素最重要？").wait_for()
    for label, place in (("口味", "1"), ("价格", "1"), ("环境", "3")):
        widget.locator("label.rank", has_text=label).locator("select").select_option(place)
    widget.locator("button[type=submit]").click()
    widget.locator("[data-error-for^=q]", has_text="1 到 3").wait_for()
    widget.locator("label.rank", has_text="价格").locator("select").select_option("2")
    widget.locator("button[type=submit]").click()
    widget.locator("legend", has_text="还有什么建议？").wait_for()
    widget.locator("textarea").fill("希望多开几家店")
    widget.locator("button[type=submit]", has_text="提交问卷").click()
    widget.locator(".notice", has_text="你的回答已提交").wait_for()
    _fits(page)
    _shot(page, f"survey-{name}-sent")
    page.context.close()
    assert problems == []

    with httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60) as api:
        summary = api.get(f"/api/v1/surveys/{survey_id}/summary").json()
    assert summary["responses"] == 1
    by_text = {q["text"]: q for q in summary["questions"]}
    assert {o["label"]: o["count"] for o in by_text["你多久来一次？"]["options"]}["每周"] == 1
    assert by_text["给樱花拿铁打分"]["answered"] == 0  # skipped by the route
    assert by_text["推荐给朋友的可能性？"]["nps"]["promoters"] == 1
    assert [r["label"] for r in by_text["哪些因素最重要？"]["ranking"]] == ["口味", "价格", "环境"]
    assert by_text["还有什么建议？"]["texts"] == ["希望多开几家店"]

    # The brand pauses the campaign: the frame says why, once, and offers no form.
    with httpx.Client(base_url=live_server.url, timeout=60) as api:
        campaign_id = _campaign_id(api, slug, brand)
        api.post(
            f"/api/v1/campaigns/{campaign_id}/transitions",
            json={"status": "paused"},
            headers=brand.auth(Role.OWNER),
        ).raise_for_status()
    page = _open(browser, sites[0], (390, 844), problems)
    widget = _widget(page)
    widget.locator(".closed", has_text="活动已暂停").wait_for()
    page.wait_for_timeout(500)
    assert widget.locator(".closed").count() == 1
    assert widget.locator("form").count() == 0
    _fits(page)
    _shot(page, "survey-phone-paused")
    page.context.close()
    _refused_elsewhere(browser, sites[1])


def test_a_qa_through_the_widget_asks_and_upvotes(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    slug, qa_id = _embed(live_server, brand, sites, "qas", {"title": "新品发布会问答"})
    ask_url = f"/api/v1/public/campaigns/{slug}/qas/{qa_id}/questions"
    with httpx.Client(base_url=live_server.url, timeout=60) as app:
        token = app.post(f"/api/v1/public/campaigns/{slug}/tokens").json()["token"]
        app.post(
            ask_url,
            json={"text": "樱花拿铁会常驻菜单吗？", "nickname": "阿梅", "consent": True},
            headers={"X-IM2-Token": token},
        ).raise_for_status()
    problems: list[str] = []
    ready = (".qa-item", "樱花拿铁会常驻菜单吗？")
    _look(browser, sites[0], "desktop", problems, ready, "qa").context.close()
    page = _look(browser, sites[0], "phone", problems, ready, "qa")
    widget, name = _widget(page), "phone"
    widget.locator("textarea[name=text]").fill("好")
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]").click()
    widget.locator("[data-error-for=text]", has_text="至少 2 个字符").wait_for()
    _shot(page, f"qa-{name}-refused")
    widget.locator("textarea[name=text]").fill("会有燕麦奶选项吗？")
    widget.locator("button[type=submit]").click()
    widget.locator(".notice", has_text="你的问题已提交").wait_for()
    widget.locator(".qa-item", has_text="会有燕麦奶选项吗？").wait_for()
    assert widget.locator("textarea[name=text]").input_value() == ""
    theirs = widget.locator(".qa-item", has_text="樱花拿铁会常驻菜单吗？")
    theirs.locator("button").click()
    widget.locator(".notice", has_text="点赞成功").wait_for()
    assert theirs.locator(".qa-count").inner_text() == "1"
    assert theirs.locator("button").count() == 0
    # Someone upvotes in an app: the widget's list follows without a reload, and the
    # question being typed stays.
    widget.locator("textarea[name=text]").fill("还在想")
    mine = widget.locator(".qa-item", has_text="会有燕麦奶选项吗？")
    question_id = mine.get_attribute("data-question")
    with httpx.Client(base_url=live_server.url, timeout=60) as app:
        other = app.post(f"/api/v1/public/campaigns/{slug}/tokens").json()["token"]
        app.post(
            f"{ask_url}/{question_id}/upvotes",
            json={"consent": True},
            headers={"X-IM2-Token": other},
        ).raise_for_status()
    mine.locator(".qa-count", has_text="1").wait_for()
    assert widget.locator("textarea[name=text]").input_value() == "还在想"
    _fits(page)
    _chinese_only(page)
    _shot(page, f"qa-{name}-asked")
    page.context.close()
    assert problems == []

    with httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60) as api:
        board = api.get(f"/api/v1/qas/{qa_id}/questions").json()
    assert {q["text"]: q["upvotes"] for q in board["questions"]} == {
        "樱花拿铁会常驻菜单吗？": 1,
        "会有燕麦奶选项吗？": 1,
    }
    _refused_elsewhere(browser, sites[1])


def test_a_consent_text_replaced_while_the_widget_is_open_is_shown_again(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    """The brand publishes a new "taking part" text after the visitor opened the widget: the
    first action is not sent under the old one; the box shows the new text, and once ticked
    again the action counts. Through the poll (the vote sends the hash it showed) and through
    the Q&A renderer (it reads the hash again before sending)."""
    slug, qa_id = _embed(live_server, brand, sites, "qas", {"title": "新品发布会问答"})
    owner = brand.auth(Role.OWNER)
    with httpx.Client(base_url=live_server.url, headers=owner, timeout=60) as api:
        poll = api.post(f"/api/v1/campaigns/{_campaign_id(api, slug)}/polls", json=POLL).json()
    problems: list[str] = []
    for number, (activity_id, act) in enumerate(((poll["id"], "poll"), (qa_id, "qa"))):
        sites[0].html = sites[0].page(live_server, slug, activity_id)
        page = _open(browser, sites[0], (390, 844), problems)
        widget = _widget(page)
        widget.locator("input[name=consent]").wait_for()
        new_text = f"第 {number + 2} 版参与说明：我们只用你的回答来统计结果。"
        with httpx.Client(base_url=live_server.url, headers=owner, timeout=60) as api:
            api.post(
                "/api/v1/consent-texts",
                json={"purpose": "taking_part", "language": "zh_CN", "text": new_text},
            ).raise_for_status()
        if act == "poll":
            widget.locator("label.choice", has_text="抹茶冷萃").click()
        else:
            widget.locator("textarea[name=text]").fill("会有燕麦奶选项吗？")
        widget.locator("input[name=consent]").check()
        widget.locator("button[type=submit]").click()
        widget.locator("[role=alert]", has_text="你同意的说明已更新").wait_for()
        widget.locator(".consent", has_text=new_text).wait_for()
        assert not widget.locator("input[name=consent]").is_checked()
        _fits(page)
        _shot(page, f"consent-{act}-changed")
        widget.locator("input[name=consent]").check()
        widget.locator("button[type=submit]").click()
        done = "投票成功" if act == "poll" else "你的问题已提交"
        widget.locator("[role=status], .notice", has_text=done).first.wait_for()
        page.context.close()
    assert problems == []
    with httpx.Client(base_url=live_server.url, headers=owner, timeout=60) as api:
        assert api.get(f"/api/v1/polls/{poll['id']}/results").json()["voters"] == 1
        asked = api.get(f"/api/v1/qas/{qa_id}/questions").json()["questions"]
    assert [q["text"] for q in asked] == ["会有燕麦奶选项吗？"]


def _campaign_id(api: httpx.Client, slug: str, brand: Brand | None = None) -> int:
    auth = brand.auth(Role.OWNER) if brand else {}
    listed = api.get(f"/api/v1/campaigns?q={slug}", headers=auth).json()["items"]
    return int(next(c["id"] for c in listed if c["slug"] == slug))


def test_a_prediction_through_the_widget_is_taken_and_scored_later(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    _slug, quiz_id = _embed(live_server, brand, sites, "quizzes", FINAL)
    problems: list[str] = []
    page = _look(browser, sites[0], "phone", problems, ("legend", "谁会赢？"), "prediction")
    widget = _widget(page)
    # A prediction has no score yet: none is shown.
    assert widget.locator("[data-score]").count() == 0
    widget.locator("label.choice", has_text="蓝队").click()
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]", has_text="提交").click()
    widget.locator(".notice", has_text="蓝队").wait_for()
    widget.locator("label.choice", has_text="3 个以上").click()
    widget.locator("button[type=submit]").click()
    widget.locator(".notice", has_text="竞猜已全部提交").wait_for()
    _fits(page)
    _chinese_only(page)
    _shot(page, "prediction-phone-done")
    page.context.close()
    assert problems == []
    with httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60) as api:
        results = api.get(f"/api/v1/quizzes/{quiz_id}/results").json()
    assert results["players"] == 1
    chosen = {
        q["text"]: [o["label"] for o in q["options"] if o["answers"]] for q in results["questions"]
    }
    assert chosen == {"谁会赢？": ["蓝队"], "总进球数？": ["3 个以上"]}

"""The survey and quiz builders in Chromium, as a marketer uses them: questions added, typed,
reordered with the keyboard, branched, deleted after a confirmation; a save with several mistakes
shows each next to its field and keeps everything typed; the phone preview follows; at phone
width the preview is a tab. Screenshots at 1366×900 and 390×844 go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "is_mobile": True,
    "has_touch": True,
}


def _login(page: Any, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/console/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/campaigns")


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


def test_survey_builder_add_branch_reorder_delete_and_save(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand)
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.EDITOR])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/survey/new")

    # one empty question to start with; the preview stands beside the form
    assert page.locator(".bq").count() == 1
    assert page.locator("#builder-preview").is_visible()
    page.fill("#q-0-text", "你喝过我们的樱花拿铁吗？")
    page.fill("[name=q-0-opt-0-label]", "喝过")
    page.fill("[name=q-0-opt-1-label]", "没喝过")
    page.check("[name=q-0-required]")
    page.click("text=+ 添加问题")
    page.select_option("#q-1-kind", "rating")
    page.fill("#q-1-text", "你给樱花拿铁打几分？")
    page.click("text=+ 添加问题")
    page.select_option("#q-2-kind", "text")
    page.fill("#q-2-text", "还有什么想对我们说的？")
    page.click("text=+ 添加问题")
    page.select_option("#q-3-kind", "multiple")
    page.fill("#q-3-text", "这道题会被删掉")
    # branching: 没喝过 skips the rating
    page.select_option("[name=q-0-opt-1-skip]", "3")
    preview = page.locator("#builder-preview")
    assert "→ 跳到第 3 题" in preview.inner_text()
    assert "你给樱花拿铁打几分？" in preview.inner_text()

    # deleting asks first, in a dialog that says what goes
    page.click(".bq:nth-child(4) [data-act=delete]")
    dialog = page.locator("#builder-confirm")
    assert dialog.is_visible()
    assert "删除第 4 题？" in dialog.inner_text()
    assert "这道题会被删掉" in dialog.inner_text()
    page.screenshot(path=str(artifacts / "builder-survey-delete-dialog.png"))
    dialog.locator("button[value=cancel]").click()
    assert page.locator(".bq").count() == 4
    page.click(".bq:nth-child(4) [data-act=delete]")
    dialog.locator("button[value=ok]").click()
    # The question goes when the dialog's close event runs, just after the click returns.
    page.wait_for_function("document.querySelectorAll('.bq').length === 3")
    assert page.locator(".bq").count() == 3

    # reorder with the keyboard: the free-text question moves up to second place; the skip
    # rule pointed at it, and a jump to the very next question means nothing, so it goes
    page.focus(".bq:nth-child(3) [data-act=handle]")
    page.keyboard.press("ArrowUp")
    assert page.input_value("#q-1-text") == "还有什么想对我们说的？"
    assert page.input_value("#q-2-text") == "你给樱花拿铁打几分？"
    assert page.evaluate("() => document.activeElement.getAttribute('data-act')") == "handle"
    assert page.input_value("[name=q-0-opt-1-skip]") == ""
    assert "→" not in preview.inner_text()
    # 没喝过 now skips the rating, which is question 3
    page.select_option("[name=q-0-opt-1-skip]", "3")
    assert "→ 跳到第 3 题" in preview.inner_text()

    # several mistakes at once: no title, an empty option; everything typed stays
    page.click(".bq:nth-child(1) [data-act=add-option]")
    page.click("button.primary:has-text('创建')")
    page.wait_for_selector("#title-error")
    assert page.locator("#title-error").inner_text() == "此项为必填。"
    assert page.locator("#q-0-opt-2-error").inner_text() == "此项为必填。"
    assert "下面标出了 2 处问题。" in page.locator(".alert").inner_text()
    assert page.input_value("#q-0-text") == "你喝过我们的樱花拿铁吗？"
    assert page.input_value("#q-2-text") == "你给樱花拿铁打几分？"
    assert page.is_checked("[name=q-0-required]")
    assert page.input_value("[name=q-0-opt-1-skip]") == "3"
    _no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "builder-survey-errors-desktop.png"), full_page=True)

    page.fill("#title", "樱花拿铁体验问卷")
    page.click(".bq:nth-child(1) .bo:nth-of-type(3) [data-act=remove-option]")
    page.click("button.primary:has-text('创建')")
    page.wait_for_url("**/console/w/acme/survey/*")
    survey_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    context.close()

    # what was stored is what was built, in the order on screen, with the skip rule
    summary = httpx.get(
        f"{live_server.url}/api/v1/surveys/{survey_id}/summary", headers=brand.auth(Role.OWNER)
    ).json()
    assert [(q["kind"], q["text"], q["required"]) for q in summary["questions"]] == [
        ("single", "你喝过我们的樱花拿铁吗？", True),
        ("text", "还有什么想对我们说的？", False),
        ("rating", "你给樱花拿铁打几分？", False),
    ]


def test_survey_builder_on_a_phone_has_a_preview_tab_and_imports_text(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    _login(page, live_server, brand.emails[Role.EDITOR])
    page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/survey/new")
    assert not page.locator("#builder-preview").is_visible()  # a tab on phones

    page.click("summary:has-text('以文本导入或导出')")
    page.fill(
        "textarea[name=questions]",
        "单选*: 你喝过我们的樱花拿铁吗？\n喝过\n没喝过 -> 结束\n\nNPS: 你有多大可能推荐给朋友？",
    )
    page.click("text=导入到编辑器")
    page.wait_for_selector("text=已导入 2 道题。")
    assert page.input_value("#q-0-text") == "你喝过我们的樱花拿铁吗？"
    assert page.input_value("[name=q-0-opt-1-skip]") == "end"
    assert page.input_value("#q-1-kind") == "nps"
    _no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "builder-survey-phone-edit.png"), full_page=True)

    page.click("[data-tab=preview]")
    assert page.locator("#builder-preview").is_visible()
    assert not page.locator("#builder-list").is_visible()
    assert "→ 结束问卷" in page.locator("#builder-preview").inner_text()
    _no_sideways_scroll(page)
    page.screenshot(path=str(artifacts / "builder-survey-phone-preview.png"), full_page=True)

    # and back out as text, for power users
    page.click("[data-tab=edit]")
    page.click("text=导出为文本")
    assert page.input_value("textarea[name=questions]").startswith(
        "单选*: 你喝过我们的樱花拿铁吗？\n喝过\n没喝过 -> 结束"
    )
    context.close()


def test_quiz_builder_correct_answers_scores_and_all_errors(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    campaign = live_server.live_campaign(brand)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(**viewport)
        page = context.new_page()
        _login(page, live_server, brand.emails[Role.EDITOR])
        page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}/quiz/new")
        page.fill("#title", f"咖啡知识小测 {size}")
        page.fill("#q-0-text", "咖啡豆其实是咖啡树的什么？")
        page.fill("[name=q-0-opt-0-label]", "果实里的种子")
        page.fill("[name=q-0-opt-1-label]", "豆科植物的豆子")
        page.click("text=+ 添加问题")
        page.fill("#q-1-text", "意式浓缩的萃取时间大约是？")
        page.fill("[name=q-1-opt-0-label]", "25 秒")
        page.fill("[name=q-1-opt-1-label]", "5 分钟")
        page.fill("#q-1-points", "20")
        # no correct answer marked anywhere: both questions say so, at once
        page.click("button.primary:has-text('创建')")
        page.wait_for_selector("#q-0-options-error")
        assert page.locator("#q-0-options-error").inner_text() == (
            "第 1 题还没有正确答案，请勾选一个。"
        )
        assert page.locator("#q-1-options-error").inner_text() == (
            "第 2 题还没有正确答案，请勾选一个。"
        )
        assert page.input_value("#q-1-points") == "20"
        _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / f"builder-quiz-errors-{size}.png"), full_page=True)
        page.check("[name=q-0-correct][value='0']")
        page.check("[name=q-1-correct][value='0']")
        if size == "desktop":
            assert "果实里的种子 ✓" in page.locator("#builder-preview").inner_text()
            assert "答对得 20 分" in page.locator("#builder-preview").inner_text()
        page.click("button.primary:has-text('创建')")
        page.wait_for_url("**/console/w/acme/quiz/*")
        quiz_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        context.close()
        results = httpx.get(
            f"{live_server.url}/api/v1/quizzes/{quiz_id}/results",
            headers=brand.auth(Role.OWNER),
        ).json()
        questions = results["questions"]
        assert [q["points"] for q in questions] == [10, 20]
        for q, right in zip(questions, ("果实里的种子", "25 秒"), strict=True):
            correct = [o["label"] for o in q["options"] if o["correct"]]
            assert correct == [right]


def test_ending_a_campaign_asks_first_in_a_dialog(
    browser: Any, live_server: LiveServer, brand: Brand, artifacts: Path
) -> None:
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        campaign = live_server.live_campaign(brand, slug=f"end-me-{size}")
        context = browser.new_context(**viewport)
        page = context.new_page()
        _login(page, live_server, brand.emails[Role.EDITOR])
        page.goto(f"{live_server.url}/console/w/acme/campaigns/{campaign['id']}")
        page.click(".transitions button:has-text('立即结束')")
        dialog = page.locator("#confirm-dialog")
        assert dialog.is_visible()
        assert "现在结束这个活动？" in dialog.inner_text()
        assert "不能重新上线" in dialog.inner_text()
        _no_sideways_scroll(page)
        page.screenshot(path=str(artifacts / f"confirm-end-{size}.png"))
        dialog.locator("[data-dialog-cancel]").click()
        assert not dialog.is_visible()
        assert "进行中" in page.locator("h1").inner_text()  # nothing happened
        page.click(".transitions button:has-text('立即结束')")
        dialog.locator("[data-dialog-ok]").click()
        page.wait_for_load_state()
        page.wait_for_selector("h1:has-text('已结束')")
        context.close()

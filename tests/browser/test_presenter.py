"""Presenter mode on a real server and Chromium: each of the five formats fills a 1920×1080 and a
1024×768 screen with large type, a join QR and a six-digit code; the keys move, reveal and
hide; votes move the bars live; a phone types the code and lands on the poll; the console's
演示模式 button opens it in a new tab. Screenshots go to test-artifacts/presenter-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from im2.activities.formats.draw import demo as draw_demo
from im2.activities.formats.poll import demo as poll_demo
from im2.activities.formats.qa import demo as qa_demo
from im2.activities.formats.quiz import demo as quiz_demo
from im2.activities.formats.ugc import demo as ugc_demo
from im2.activities.models import Activity
from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor, Role
from tests.conftest import PASSWORD, Brand, LiveServer

pytestmark = pytest.mark.browser
SCREENS = {"1920": {"width": 1920, "height": 1080}, "1024": {"width": 1024, "height": 768}}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
KINDS = ("poll", "quiz", "qa", "ugc", "draw")
# The frame's own words in English: none may show in the Chinese screen.
ENGLISH = ("Scan to join", "Voters", "Question", "Leaderboard", "Entries", "Press", "points")


def _stage(server: LiveServer, brand: Brand, db: Database, clock: ManualClock) -> dict[str, int]:
    """The demo's own poll, quizzes, Q&A, photo wall and draw in one live campaign of `brand`."""
    campaign = server.live_campaign(brand, slug="stage-day")
    later = server.live_campaign(brand, slug="charity-day")  # the demo's second poll and draw
    with db.transaction() as session:
        user_id = workspaces.get_user_id(session, email=brand.emails[Role.OWNER])
        owner = Actor(
            type=ActorType.USER,
            id=user_id,
            label="owner",
            workspace_id=brand.workspace_id,
            workspace_slug=brand.slug,
            role=Role.OWNER,
        )
        ids = {"feedback_live": int(campaign["id"]), "charity_scheduled": int(later["id"])}
        for demo in (poll_demo, quiz_demo, qa_demo, ugc_demo, draw_demo):
            demo.load_demo(session, actor=owner, campaign_ids=ids, now=clock.now())
    with db.session() as session:
        rows = session.execute(
            select(Activity.kind, Activity.id)
            .where(Activity.campaign_id == campaign["id"])
            .order_by(Activity.id)
        ).all()
    found: dict[str, int] = {}
    for kind, activity_id in rows:
        found.setdefault(kind, activity_id)
    assert set(KINDS) <= set(found), found
    return found


def _sign_in(context: Any, base: str, brand: Brand) -> Any:
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.fill("#email", brand.emails[Role.EDITOR])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/w/acme/campaigns")
    return page


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def test_every_format_fills_the_screen_at_16_9_and_4_3(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
) -> None:
    base = live_server.url
    ids = _stage(live_server, brand, db, clock)
    context = browser.new_context(viewport=SCREENS["1920"], locale="zh-CN")
    page = _sign_in(context, base, brand)
    for kind in KINDS:
        page.goto(f"{base}/console/w/acme/activities/{ids[kind]}/present")
        code = page.locator(".pr-code").inner_text().replace(" ", "")
        assert re.fullmatch(r"[1-9]\d{5}", code), code
        if kind == "draw":
            page.keyboard.press("r")  # the names roll, then the winners stay
            page.wait_for_selector(".pr-winners li", state="visible", timeout=10_000)
        if kind == "quiz":
            page.keyboard.press("r")
        for name, size in SCREENS.items():
            page.set_viewport_size(size)
            page.wait_for_timeout(150)
            # Nothing spills over, and the stage takes most of the screen.
            assert page.evaluate("() => document.documentElement.scrollWidth") <= size["width"]
            assert page.evaluate("() => document.documentElement.scrollHeight") <= size["height"]
            stage = _box(page, "#pr-stage")
            assert stage["width"] >= 0.6 * size["width"], (kind, name, stage)
            assert stage["height"] >= 0.45 * size["height"], (kind, name, stage)
            # Readable from the back of the room: the title at least 4 % of the height... at
            # 1920×1080 that is 38 px and more; the code is the largest text on the screen.
            title = page.evaluate(
                "() => parseFloat(getComputedStyle(document.querySelector('.pr-top h1')).fontSize)"
            )
            assert title >= 0.03 * size["height"], (kind, name, title)
            code_size = page.evaluate(
                "() => parseFloat(getComputedStyle(document.querySelector('.pr-code')).fontSize)"
            )
            assert code_size >= 0.045 * size["height"], (kind, name, code_size)
            qr = _box(page, ".pr-qr")
            assert qr["width"] >= 0.13 * size["height"], (kind, name, qr)
            text = page.locator("body").inner_text()
            for word in ENGLISH:
                assert word not in text, (kind, word)
            page.screenshot(path=str(artifacts / f"presenter-{kind}-{name}.png"))
        page.set_viewport_size(SCREENS["1920"])
    context.close()


def test_keys_move_reveal_and_hide(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
) -> None:
    base = live_server.url
    ids = _stage(live_server, brand, db, clock)
    context = browser.new_context(viewport=SCREENS["1920"], locale="zh-CN")
    page = _sign_in(context, base, brand)
    page.goto(f"{base}/console/w/acme/activities/{ids['quiz']}/present")
    current = page.locator(".pr-slide.pr-current")
    assert "第 1 题" in current.inner_text()
    # The countdown runs from the question's seconds.
    first = int(current.locator("[data-countdown]").inner_text())
    page.wait_for_function(
        f"() => document.querySelector('.pr-current [data-countdown]').textContent !== '{first}'"
    )
    # The right answer is not on the screen until R.
    correct = current.locator(".pr-correct .pr-tick")
    assert not correct.is_visible()
    page.keyboard.press("r")
    assert correct.is_visible()
    page.screenshot(path=str(artifacts / "presenter-quiz-revealed.png"))
    # → the next question, unrevealed again; ← back.
    page.keyboard.press("ArrowRight")
    assert "第 2 题" in page.locator(".pr-slide.pr-current").inner_text()
    assert not page.locator(".pr-slide.pr-current .pr-choice-figure").first.is_visible()
    page.keyboard.press("ArrowLeft")
    assert "第 1 题" in page.locator(".pr-slide.pr-current").inner_text()
    # The last slide is the leaderboard.
    for _ in range(60):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("r")
    assert "排行榜" in page.locator(".pr-slide.pr-current").inner_text()
    assert page.locator(".pr-slide.pr-current .pr-leaders li").count() >= 1
    # H hides everything but the frame; Q takes the join panel away; ? shows the keys.
    page.keyboard.press("h")
    assert not page.locator("#pr-stage").is_visible()
    assert "已隐藏" in page.locator(".pr-hidden-note").inner_text()
    page.keyboard.press("h")
    assert page.locator("#pr-stage").is_visible()
    page.keyboard.press("q")
    assert not page.locator(".pr-join").is_visible()
    page.keyboard.press("q")
    page.keyboard.press("?")
    assert page.locator("#pr-help").is_visible()
    assert "揭晓" in page.locator("#pr-help").inner_text()
    page.screenshot(path=str(artifacts / "presenter-help.png"))
    page.keyboard.press("Escape")
    assert not page.locator("#pr-help").is_visible()

    # Q&A: → moves the highlight to the next question.
    page.goto(f"{base}/console/w/acme/activities/{ids['qa']}/present")
    items = page.locator(".pr-q")
    assert "pr-current" in (items.nth(0).get_attribute("class") or "")
    page.keyboard.press("ArrowRight")
    assert "pr-current" in (items.nth(1).get_attribute("class") or "")

    # The wall: → shows one entry large, ← back to the wall.
    page.goto(f"{base}/console/w/acme/activities/{ids['ugc']}/present")
    assert not page.locator(".pr-spot.pr-current").is_visible()
    page.keyboard.press("ArrowRight")
    assert page.locator(".pr-spot.pr-current").is_visible()
    page.screenshot(path=str(artifacts / "presenter-ugc-spotlight.png"))
    context.close()


def test_a_phone_joins_by_code_and_its_vote_moves_the_bars(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
) -> None:
    base = live_server.url
    ids = _stage(live_server, brand, db, clock)
    console = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = _sign_in(console, base, brand)
    page.goto(f"{base}/console/w/acme/poll/{ids['poll']}")
    with console.expect_page() as opened:
        page.click("a[data-presenter]")
    screen = opened.value
    screen.wait_for_load_state()
    assert "/present" in screen.url
    code = screen.locator(".pr-code").inner_text().replace(" ", "")
    voters = int(screen.locator("[data-total]").inner_text().replace(",", ""))
    screen.screenshot(path=str(artifacts / "presenter-poll-1366.png"))

    phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    mobile.goto(f"{base}/j")
    mobile.fill("#join-code", "12")
    mobile.click("button[type=submit]")
    assert "没有活动使用参与码 12" in mobile.locator(".alert").inner_text()
    assert mobile.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    mobile.screenshot(path=str(artifacts / "presenter-join-wrong-390.png"), full_page=True)
    mobile.fill("#join-code", f"{code[:3]} {code[3:]}")
    mobile.click("button[type=submit]")
    mobile.wait_for_url(f"**/poll/{ids['poll']}")
    mobile.check("input[name=option] >> nth=0")
    consent = mobile.locator("input[name=consent]")
    if consent.count():
        consent.first.check()
    mobile.click(".activity-card button[type=submit]")
    mobile.wait_for_selector(".notice")
    # The big screen counts the new voter without a reload.
    screen.wait_for_function(
        f"() => document.querySelector('[data-total]').textContent.replace(/,/g, '') === '{voters + 1}'",
        timeout=10_000,
    )
    screen.screenshot(path=str(artifacts / "presenter-poll-after-vote.png"))

    # A quiz answer from the phone reaches the quiz's screen: the stage is fetched again and
    # keeps its slide.
    screen.goto(f"{base}/console/w/acme/activities/{ids['quiz']}/present")
    answers = screen.locator(".pr-slide.pr-current .pr-count strong")
    before = int(answers.inner_text().replace(",", ""))
    mobile.goto(f"{base}/c/stage-day/quiz/{ids['quiz']}")
    mobile.check("input[name=option] >> nth=0")
    consent = mobile.locator("input[name=consent]")
    if consent.count():
        consent.first.check()
    mobile.click("button[type=submit].primary")
    mobile.wait_for_load_state()
    screen.wait_for_function(
        "() => document.querySelector('.pr-slide.pr-current .pr-count strong')"
        f".textContent.replace(/,/g, '') === '{before + 1}'",
        timeout=10_000,
    )
    assert "第 1 题" in screen.locator(".pr-slide.pr-current").inner_text()

    wrong = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    response = wrong.goto(f"{base}/j/{'999999' if code != '999999' else '999998'}")
    assert response is not None
    assert response.status == 404
    assert "返回控制台" not in wrong.locator("body").inner_text()
    wrong.screenshot(path=str(artifacts / "presenter-join-wrong-1366.png"))
    httpx.get(f"{base}/healthz").raise_for_status()
    phone.close()
    console.close()

"""The check-in, the UGC contest, the lucky draw, 集卡, the group-buy and the referral inside the
widget on a brand's own site (127.0.0.2, the one script tag): what a visitor does through the
frame counts (read back through the brand's API or the database), refusals show next to their
field in Chinese, the frame follows its content's height and is never wider than a phone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from im2.activities.formats.cards.jobs import draw_cards_job
from im2.activities.formats.referral.jobs import qualify_referrals_job
from im2.clock import ManualClock
from im2.db import Database
from im2.workspaces.schemas import Role
from tests.activities.test_cards import add_cards
from tests.activities.test_draw import INSTANT
from tests.activities.test_groupbuy import OFFER
from tests.activities.test_ugc import photo
from tests.activities.test_ugc import settings as settings  # uploads in the test's folder
from tests.browser import test_embed_formats as embed_formats
from tests.browser.test_embed_formats import (
    _chinese_only,
    _embed,
    _fits,
    _look,
    _shot,
    _widget,
    sites,
)
from tests.browser.test_embed_widget import BrandSite
from tests.conftest import Brand, LiveServer

pytestmark = pytest.mark.browser
__all__ = ["settings", "sites"]  # fixtures, used by name
SHOTS = Path("/tmp/shots-widgetsix")  # noqa: S108 (the screenshots the brief asks for)


@pytest.fixture(autouse=True)
def _shots_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared helpers keep their screenshots in this file's folder."""
    monkeypatch.setattr(embed_formats, "SHOTS", SHOTS)


def _owner(live_server: LiveServer, brand: Brand) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, headers=brand.auth(Role.OWNER), timeout=60)


def _both(
    browser: Any, site: BrandSite, problems: list[str], ready: tuple[str, str], kind: str
) -> Any:
    """The widget looked at on a desktop (kept as a screenshot), then opened on a phone."""
    _look(browser, site, "desktop", problems, ready, kind).context.close()
    return _look(browser, site, "phone", problems, ready, kind)


def _frame_token(page: Any) -> str:
    """The widget token the frame uses, as the embed script keeps it in the brand page's own
    storage (`im2:tokens:<IM2 host>`, workspace → token)."""
    _widget(page).locator("#im2-widget").wait_for()
    kept = page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('im2:tokens:'))"
        ".map(k => JSON.parse(localStorage.getItem(k)))"
    )
    tokens = [t for found in kept for t in found.values()]
    assert len(tokens) == 1, kept
    return str(tokens[0])


def _done(page: Any, name: str, problems: list[str]) -> None:
    _fits(page)
    _chinese_only(page)
    # A refusal scrolled the brand's page to its field: the whole page, from the top.
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, name)
    page.context.close()
    assert problems == []


def test_a_check_in_through_the_widget_counts_and_shows_the_streak(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    body = {"title": "早安咖啡打卡", "milestones": [1, 3]}
    _slug, checkin = _embed(live_server, brand, sites, "checkins", body)
    problems: list[str] = []
    page = _both(browser, sites[0], problems, ("button", "今日打卡"), "checkin")
    widget = _widget(page)
    assert widget.locator("table.calendar th").first.inner_text() == "周一"
    widget.locator("button[type=submit]", has_text="今日打卡").click()
    widget.locator("[data-error-for=consent]", has_text="同意").wait_for()
    _shot(page, "checkin-phone-refused")
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]").click()
    widget.locator(".notice", has_text="连续打卡 1 天").wait_for()
    assert widget.locator("[data-streak]").get_attribute("data-streak") == "1"
    assert widget.locator("td[data-checked]").count() == 1
    assert widget.locator("button[type=submit]").count() == 0
    widget.locator("li.reached").first.wait_for()
    _done(page, "checkin-phone-done", problems)
    with _owner(live_server, brand) as api:
        stats = api.get(f"/api/v1/checkins/{checkin}/stats").json()
    assert (stats["checked_in_today"], stats["check_ins"]) == (1, 1)


def test_a_draw_through_the_widget_wins_a_prize(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    _slug, draw = _embed(live_server, brand, sites, "draws", INSTANT)
    problems: list[str] = []
    page = _both(browser, sites[0], problems, ("button", "立即抽奖"), "draw")
    widget = _widget(page)
    widget.locator(".prizes li", has_text="樱花保温杯").wait_for()
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]").click()
    widget.locator("[data-outcome=won]", has_text="樱花保温杯").wait_for()
    assert widget.locator("button[type=submit]").count() == 0
    widget.locator(".prizes li", has_text="1").wait_for()
    _done(page, "draw-phone-won", problems)
    with _owner(live_server, brand) as api:
        results = api.get(f"/api/v1/draws/{draw}/results").json()
    assert results["entries"] == 1
    assert [w["prize"] for w in results["winners"]] == ["樱花保温杯"]


def test_cards_through_the_widget_show_my_set_and_give_a_card(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    sites: tuple[BrandSite, BrandSite],
    db: Database,
    clock: ManualClock,
) -> None:
    slug, checkin = _embed(live_server, brand, sites, "checkins", {"title": "每日打卡"})
    with _owner(live_server, brand) as api:
        campaign_id = api.get(f"/api/v1/activities/{checkin}").json()["campaign_id"]
    cards = add_cards(db, clock, campaign_id)
    for site in sites:
        site.html = site.page(live_server, slug, cards)
    problems: list[str] = []
    page = _both(browser, sites[0], problems, ("li[data-card]", "敬业福"), "cards")
    widget = _widget(page)
    widget.locator("p.meta", has_text="0 / 5").wait_for()
    assert widget.locator("form").count() == 0  # no card to give yet
    # The visitor takes part elsewhere in the campaign with the frame's token: a card is drawn.
    token_value = _frame_token(page)
    with httpx.Client(base_url=live_server.url, timeout=60) as app:
        done = app.post(
            f"/api/v1/public/campaigns/{slug}/checkins/{checkin}/checkins",
            json={"consent": True},
            headers={"X-IM2-Token": token_value},
        )
        assert done.status_code == 201, done.text
    clock.advance(timedelta(minutes=1))
    draw_cards_job(db, clock)
    page.reload()
    widget = _widget(page)
    widget.locator("p.meta", has_text="1 / 5").wait_for()
    widget.locator("button", has_text="生成赠送链接").click()
    widget.locator(".notice", has_text="赠送链接").wait_for()
    link = widget.locator("[data-gift] input").input_value()
    assert f"/c/{slug}/cards/{cards}?gift=" in link
    _done(page, "cards-phone-gift", problems)
    with db.session() as session:
        offered = session.execute(
            text(
                "SELECT count(*) FROM card_gifts WHERE activity_id = :a AND claimed_by_id IS NULL"
            ),
            {"a": cards},
        ).scalar()
    assert offered == 1


def test_a_ugc_entry_through_the_widget_is_sent_and_voted_for(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    body = {"title": "晒出你的春日咖啡", "hashtag": "山野春日"}
    slug, contest = _embed(live_server, brand, sites, "ugcs", body)
    # Someone's photo is in the gallery already.
    with httpx.Client(base_url=live_server.url, timeout=60) as app:
        token = app.post(f"/api/v1/public/campaigns/{slug}/tokens").json()["token"]
        sent = app.post(
            f"/api/v1/public/campaigns/{slug}/ugcs/{contest}/entries",
            data={"consent": "true", "caption": "窗边的樱花拿铁", "nickname": "阿梅"},
            files={"image": ("cup.jpg", photo(), "image/jpeg")},
            headers={"X-IM2-Token": token},
        )
        assert sent.status_code == 201, sent.text
    theirs = sent.json()["entry"]["id"]
    with _owner(live_server, brand) as api:
        api.post(
            f"/api/v1/ugcs/{contest}/entries/{theirs}/moderation", json={"approve": True}
        ).raise_for_status()
    problems: list[str] = []
    page = _both(browser, sites[0], problems, (".ugc-caption", "窗边的樱花拿铁"), "ugc")
    widget = _widget(page)
    # Nothing to send: said by the caption, in Chinese.
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]", has_text="提交作品").click()
    widget.locator("[data-error-for=caption]", has_text="照片").wait_for()
    _shot(page, "ugc-phone-refused")
    widget.locator("textarea[name=caption]").fill("山顶的第一杯咖啡")
    widget.locator("input[type=file]").set_input_files(
        {"name": "summit.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    widget.locator("button[type=submit]", has_text="提交作品").click()
    widget.locator(".notice", has_text="审核").wait_for()
    widget.locator("[data-mine=pending]", has_text="山顶的第一杯咖啡").wait_for()
    widget.locator(f"[data-entry='{theirs}'] button").click()
    widget.locator(".notice", has_text="投票").wait_for()
    widget.locator(f"[data-entry='{theirs}'] [data-votes='1']").wait_for()
    assert widget.locator(f"[data-entry='{theirs}'] button").count() == 0
    _done(page, "ugc-phone-voted", problems)
    with _owner(live_server, brand) as api:
        pending = api.get(f"/api/v1/ugcs/{contest}/entries?status=pending").json()
        approved = api.get(f"/api/v1/ugcs/{contest}/entries?status=approved").json()
    assert [(e["caption"], e["kind"]) for e in pending] == [("山顶的第一杯咖啡", "image")]
    assert [(e["id"], e["votes"]) for e in approved] == [(theirs, 1)]


def test_a_groupbuy_team_through_the_widget_is_opened_and_shared(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    slug, offer = _embed(live_server, brand, sites, "groupbuys", OFFER)
    # Somebody else's team waits for members.
    with httpx.Client(base_url=live_server.url, timeout=60) as app:
        token = app.post(f"/api/v1/public/campaigns/{slug}/tokens").json()["token"]
        other = app.post(
            f"/api/v1/public/campaigns/{slug}/groupbuys/{offer}/teams",
            json={"consent": True},
            headers={"X-IM2-Token": token},
        )
        assert other.status_code == 201, other.text
    problems: list[str] = []
    page = _both(browser, sites[0], problems, ("button", "¥59.00 发起拼团"), "groupbuy")
    widget = _widget(page)
    code = other.json()["code"]
    widget.locator(f"li[data-team='{code}'] button").click()
    widget.locator("[data-error-for=consent]", has_text="同意").wait_for()
    widget.locator("input[name=consent]").check()
    widget.locator(f"li[data-team='{code}'] button").click()
    widget.locator(".notice", has_text="加入").wait_for()
    widget.locator(f"section[data-team='{code}'] .team-line", has_text="2 / 3").wait_for()
    share = widget.locator(".copy-box input").input_value()
    assert code in share
    _done(page, "groupbuy-phone-joined", problems)
    with _owner(live_server, brand) as api:
        teams = api.get(f"/api/v1/groupbuys/{offer}/teams").json()
    assert [(t["code"], t["members"]) for t in teams["rows"]] == [(code, 2)]


def test_a_referral_link_through_the_widget_is_made_copied_and_counts_a_friend(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    sites: tuple[BrandSite, BrandSite],
    db: Database,
    clock: ManualClock,
) -> None:
    body = {
        "title": "邀请好友喝咖啡",
        "inviter_reward": {"kind": "points", "points": 20},
        "milestones": [{"friends": 3, "reward": {"kind": "points", "points": 100}}],
    }
    slug, referral = _embed(live_server, brand, sites, "referrals", body)
    problems: list[str] = []
    page = _both(browser, sites[0], problems, ("button", "获取我的邀请链接"), "referral")
    widget = _widget(page)
    widget.locator("button[type=submit]").click()
    widget.locator("[data-error-for=consent]", has_text="同意").wait_for()
    widget.locator("input[name=consent]").check()
    widget.locator("button[type=submit]").click()
    widget.locator(".notice", has_text="邀请链接").wait_for()
    link = widget.locator(".copy-box input").input_value()
    assert "/s/" in link
    widget.locator("[data-qualified='0']").wait_for()
    widget.locator(".copy-box button").click()
    widget.locator(".copy-box button", has_text="已复制").wait_for()
    _fits(page)
    _chinese_only(page)
    _shot(page, "referral-phone-link")
    # A friend follows the link and joins: the brand counts the invite, the frame shows it.
    with httpx.Client(base_url=live_server.url, timeout=60) as friend:
        assert friend.get("/s/" + link.split("/s/")[1]).status_code == 303
        joined = friend.post(
            f"/api/v1/public/campaigns/{slug}/referrals/{referral}/link", json={"consent": True}
        )
        assert joined.status_code == 200, joined.text
    clock.advance(timedelta(minutes=1))
    qualify_referrals_job(db, clock)
    with _owner(live_server, brand) as api:
        stats = api.get(f"/api/v1/referrals/{referral}/results").json()
    # Qualified, or held for review: both come from one network here (the abuse check's call).
    assert stats["invites"] == 1
    assert stats["qualified"] + stats["held"] == 1
    page.reload()  # the same visitor (the brand page keeps their token)
    widget = _widget(page)
    widget.locator("h3", has_text="我的进度").wait_for()
    assert widget.locator(".friends li").count() == 1
    progress = widget.locator("[data-qualified]").inner_text()
    assert "已有 1 位好友达标" in progress or "1 位审核中" in progress, progress
    _done(page, "referral-phone-friend", problems)


def test_a_consent_text_replaced_while_the_frame_is_open_is_shown_again(
    browser: Any, live_server: LiveServer, brand: Brand, sites: tuple[BrandSite, BrandSite]
) -> None:
    """The brand publishes a new "taking part" text after the visitor opened the widget: the
    first action is not taken under the old one. Through the check-in (its JSON body sends the
    hash it showed) and the UGC entry (a multipart upload: the frame reads the hash again
    before sending)."""
    slug, checkin = _embed(live_server, brand, sites, "checkins", {"title": "每日打卡"})
    with _owner(live_server, brand) as api:
        campaign_id = api.get(f"/api/v1/activities/{checkin}").json()["campaign_id"]
        contest = api.post(
            f"/api/v1/campaigns/{campaign_id}/ugcs", json={"title": "晒出你的春日咖啡"}
        ).json()["id"]
    problems: list[str] = []
    for number, (activity_id, act) in enumerate(((checkin, "checkin"), (contest, "ugc"))):
        sites[0].html = sites[0].page(live_server, slug, activity_id)
        page = _look(browser, sites[0], "phone", problems, ("label", "我同意"), f"consent-{act}")
        widget = _widget(page)
        new_text = f"第 {number + 2} 版参与说明：我们只用你的参与记录来统计结果。"
        with _owner(live_server, brand) as api:
            api.post(
                "/api/v1/consent-texts",
                json={"purpose": "taking_part", "language": "zh_CN", "text": new_text},
            ).raise_for_status()
        if act == "ugc":
            widget.locator("textarea[name=caption]").fill("山顶的第一杯咖啡")
        widget.locator("input[name=consent]").check()
        widget.locator("button[type=submit]").click()
        widget.locator("[data-error-for=consent]", has_text="你同意的说明已更新").wait_for()
        widget.locator(".consent", has_text=new_text).wait_for()
        assert not widget.locator("input[name=consent]").is_checked()
        _fits(page)
        _shot(page, f"consent-{act}-changed")
        widget.locator("input[name=consent]").check()
        widget.locator("button[type=submit]").click()
        widget.locator(".notice", has_text="明天见" if act == "checkin" else "审核").wait_for()
        page.context.close()
    assert problems == []
    with _owner(live_server, brand) as api:
        assert api.get(f"/api/v1/checkins/{checkin}/stats").json()["check_ins"] == 1
        pending = api.get(f"/api/v1/ugcs/{contest}/entries?status=pending").json()
    assert [e["caption"] for e in pending] == ["山顶的第一杯咖啡"]

"""People end to end in real browsers (issue #19, "Done when"): a participant votes on phone A
and verifies a number; later phone B opens the campaign and verifies the same number; the
console (an editor) shows one person with both devices and one timeline; they share, a friend
joins through the link and, after the ladder job, their stage is 传播者; a segment "传播者 in
this campaign" counts them; the people export holds them; the campaign's reach counts A and B
as one person."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from im2.analytics.ladder import ladder_job
from im2.clock import ManualClock
from im2.config import Environment, Settings
from im2.db import Database
from im2.participation.senders import MemorySender
from im2.people.segments.jobs import segment_facts_job
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer, go_live
from tests.test_polls import POLL

pytestmark = pytest.mark.browser
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "locale": "zh-CN",
    "is_mobile": True,
    "has_touch": True,
}
DESK = {"viewport": {"width": 1366, "height": 900}, "locale": "zh-CN"}
NUMBER = "13800138000"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """As tests/conftest.py, behind a proxy that says who the client is: the phones come from
    different networks, as a person's two phones and a friend's do."""
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        trust_forwarded_for=True,
    )


def _phone(browser: Any, ip: str) -> tuple[Any, Any]:
    ctx = browser.new_context(**PHONE, extra_http_headers={"X-Forwarded-For": ip})
    return ctx, ctx.new_page()


def _vote(page: Any, url: str, option: str) -> None:
    page.goto(url)
    form = page.locator("form:has(button:has-text('投票'))")
    form.locator(f"text={option}").check()
    consent = form.locator("input[name=consent]")
    if consent.count():  # a first action asks for consent
        consent.first.check()
    form.locator("button:has-text('投票')").click()
    page.wait_for_selector("text=感谢参与，投票成功！")


def _verify(page: Any, base: str, slug: str, outbox: MemorySender) -> None:
    """Ask for a code to NUMBER on "my page" and type the code the outbox received."""
    page.goto(f"{base}/c/{slug}/me")
    form = page.locator(f"form[action='/c/{slug}/me/code']")
    form.locator("select[name=channel]").select_option("phone")
    form.locator("input[name=destination]").fill(NUMBER)
    consent = form.locator("input[name=consent]")
    if consent.count():  # a phone that never acted joins here
        consent.check()
    before = len(outbox.sent)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/me\?sent=phone"))
    assert len(outbox.sent) == before + 1
    channel, destination, code = outbox.sent[-1]
    assert (channel, destination) == ("phone", NUMBER)
    page.fill("input[name=code]", code)
    page.locator(f"form[action='/c/{slug}/me/verify'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/me\?done=verified"))


def test_two_phones_one_person_spreads_is_segmented_exported_and_reached_once(
    browser: Any,
    live_server: LiveServer,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    artifacts: Path,
) -> None:
    outbox = MemorySender()
    live_server.app.state.code_sender = outbox
    base = live_server.url
    editor = brand.auth(Role.EDITOR)
    with httpx.Client(base_url=base, headers=brand.auth(Role.OWNER), timeout=60) as api:
        campaign = go_live(api, brand)
        cid, slug = campaign["id"], campaign["slug"]
        poll = api.post(f"/api/v1/campaigns/{cid}/polls", json=POLL).json()
    poll_url = f"{base}/c/{slug}/poll/{poll['id']}"

    # 1. Phone A votes and verifies a number; later phone B opens the campaign and verifies it.
    a_ctx, a = _phone(browser, "203.0.113.7")
    _vote(a, poll_url, "樱花拿铁")
    _verify(a, base, slug, outbox)
    a.screenshot(path=str(artifacts / "people-e2e-phone-a-verified.png"), full_page=True)
    clock.advance(timedelta(hours=2))
    b_ctx, b = _phone(browser, "198.51.100.40")
    b.goto(f"{base}/c/{slug}")
    _verify(b, base, slug, outbox)

    # They share (from phone B) and a friend opens the link on a third phone and votes.
    clock.advance(timedelta(minutes=5))
    b.goto(f"{base}/c/{slug}/share")  # someone who took part gets their link at once
    shown = b.locator("#own-link").input_value()
    code = re.search(r"/s/([a-z0-9]+)\?ch=", shown)
    assert code is not None, shown
    clock.advance(timedelta(minutes=5))
    f_ctx, friend = _phone(browser, "192.0.2.99")
    landing = friend.goto(f"{base}/s/{code.group(1)}?ch=wechat")
    assert landing is not None
    assert landing.status == 200
    _vote(friend, poll_url, "抹茶冷萃")

    # The background jobs: the ladder, and the segments' facts from the event log (both read
    # events older than their settling time).
    clock.advance(timedelta(minutes=1))
    ladder_job(db, clock)
    segment_facts_job(db, clock)

    # 2. The console shows one person with both devices and one timeline.
    with httpx.Client(base_url=base, headers=editor, timeout=60) as api:
        listed = api.get("/api/v1/people", params={"q": NUMBER}).json()["items"]
        assert len(listed) == 1, listed
        person = listed[0]
        assert person["identities"]["device"] == 2
        assert person["identities"]["participant"] == 2
        everyone = api.get("/api/v1/people", params={"limit": 100}).json()["items"]
        assert len(everyone) == 2  # the person and the friend
        [friend_id] = [p["id"] for p in everyone if p["id"] != person["id"]]
    pid = person["id"]

    desk_ctx = browser.new_context(**DESK)
    desk = desk_ctx.new_page()
    desk.goto(f"{base}/console/login")
    desk.fill("input[name=email]", brand.emails[Role.EDITOR])
    desk.fill("input[name=password]", PASSWORD)
    desk.click("button[type=submit]")
    desk.wait_for_url(re.compile(r".*/console/w/acme/.*"))
    desk.goto(f"{base}/console/w/acme/people?q={NUMBER}")
    rows = desk.locator("table.people tbody tr")
    assert rows.count() == 1
    assert "2 台设备" in rows.first.inner_text()
    assert "传播者" in rows.first.inner_text()  # 3. their stage after the ladder job
    desk.screenshot(path=str(artifacts / "people-e2e-list-1366.png"), full_page=True)
    desk.goto(f"{base}/console/w/acme/people/{pid}")
    profile = desk.locator("main").inner_text()
    assert "138****8000" in profile
    assert "传播者" in profile
    # One timeline: phone A's vote and phone B's share (and whom it brought) together.
    chinese = {**editor, "Accept-Language": "zh-CN"}  # the labels in the page's language
    with httpx.Client(base_url=base, headers=chinese, timeout=60) as api:
        timeline = api.get(f"/api/v1/people/{pid}/timeline").json()["items"]
    kinds = [item["kind"] for item in timeline]
    assert "vote.cast" in kinds
    assert "share.created" in kinds
    assert "participant.verified" in kinds
    brought = [item["brought_person_id"] for item in timeline if item.get("brought_person_id")]
    assert brought == [friend_id]
    shown_lines = desk.locator("ol.timeline li").all_inner_texts()
    assert len(shown_lines) == len(timeline)
    vote_label = next(i["label"] for i in timeline if i["kind"] == "vote.cast")
    share_label = next(i["label"] for i in timeline if i["kind"] == "share.created")
    assert any(vote_label in line for line in shown_lines)
    assert any(share_label in line for line in shown_lines)
    desk.screenshot(path=str(artifacts / "people-e2e-profile-1366.png"), full_page=True)

    # 4. A segment "传播者 in campaign X" counts them (and not the friend, a participant).
    rule = {
        "match": "all",
        "conditions": [
            {"field": "stage", "values": ["spreader"]},
            {"field": "campaign", "values": [cid]},
        ],
    }
    with httpx.Client(base_url=base, headers=editor, timeout=60) as api:
        saved = api.post("/api/v1/segments", json={"name": "本活动的传播者", "rule": rule})
        assert saved.status_code == 201, saved.text
        sid = saved.json()["id"]
        counted = api.get(f"/api/v1/segments/{sid}/count")
        assert counted.status_code == 200, counted.text
        assert counted.json()["count"] == 1
        members = api.get(f"/api/v1/segments/{sid}/members.csv")
        assert members.status_code == 200, members.text
        assert str(pid) in members.text
    desk.goto(f"{base}/console/w/acme/people/segments")
    assert "本活动的传播者" in desk.locator("main").inner_text()
    desk.screenshot(path=str(artifacts / "people-e2e-segments-1366.png"), full_page=True)

    # 5. The people export contains them (the console's CSV, as the editor downloads it).
    exported = desk.request.get(f"{base}/console/w/acme/people/export.csv")
    assert exported.status == 200
    table = list(csv.reader(io.StringIO(exported.text().lstrip("\ufeff"))))
    ids = [row[0] for row in table[1:]]
    assert str(pid) in ids
    assert len(ids) == 2

    # 6. Reach counts one person for phones A and B (and one for the friend): 2, not 3.
    with httpx.Client(base_url=base, headers=brand.auth(Role.ANALYST), timeout=60) as api:
        read = api.get(f"/api/v1/campaigns/{cid}/metrics", params={"metrics": "reach,participants"})
        assert read.status_code == 200, read.text
        metrics = read.json()["metrics"]
        assert metrics["reach"]["value"] == 2
        assert metrics["participants"]["value"] == 2

    # The phone's view of the same pages, at 390×844.
    phone_desk = browser.new_context(**PHONE)
    small = phone_desk.new_page()
    small.goto(f"{base}/console/login")
    small.fill("input[name=email]", brand.emails[Role.EDITOR])
    small.fill("input[name=password]", PASSWORD)
    small.click("button[type=submit]")
    small.wait_for_url(re.compile(r".*/console/w/acme/.*"))
    small.goto(f"{base}/console/w/acme/people/{pid}")
    small.screenshot(path=str(artifacts / "people-e2e-profile-390.png"), full_page=True)
    small.goto(f"{base}/console/w/acme/people")
    small.screenshot(path=str(artifacts / "people-e2e-list-390.png"), full_page=True)
    for ctx in (a_ctx, b_ctx, f_ctx, desk_ctx, phone_desk):
        ctx.close()

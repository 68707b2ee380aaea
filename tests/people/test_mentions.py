"""A person's social accounts and the mentions matched to them: handles imported from a CRM
file (normalised, merging like other identities), the mentions whose platform and author are
one of the person's accounts on their timeline in order with their actions, and nobody else's."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.clock import ManualClock
from im2.db import Database
from im2.listening.models import Alert, Mention
from im2.participation.senders import MemorySender
from im2.people.models import PersonIdentity
from im2.privacy.erasure import erase_person
from im2.privacy.export import build_export
from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.people.helpers import verify
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _import(client: TestClient, brand: Brand, csv: str) -> dict:
    done = client.post(
        "/api/v1/people/imports",
        files={"file": ("accounts.csv", csv.encode())},
        data={"dry_run": "false"},
        headers=brand.auth(Role.EDITOR),
    )
    assert done.status_code in (200, 201), done.text
    return done.json()


def _mentions(client: TestClient, brand: Brand, mentions: list[dict]) -> None:
    added = client.post(
        "/api/v1/mentions", json={"mentions": mentions}, headers=brand.auth(Role.EDITOR)
    )
    assert added.status_code == 200, added.text
    assert added.json()["imported"] == len(mentions), added.text


def _timeline(client: TestClient, brand: Brand, person_id: int, **params: object) -> dict:
    found = client.get(
        f"/api/v1/people/{person_id}/timeline", params=params, headers=brand.auth(Role.EDITOR)
    )
    assert found.status_code == 200, found.text
    return found.json()


def _person_of(db: Database, kind: str, value: str) -> int:
    with db.session() as session:
        found = session.scalar(
            select(PersonIdentity.person_id).where(
                PersonIdentity.kind == kind, PersonIdentity.value == value
            )
        )
    assert found is not None, (kind, value)
    return int(found)


def test_handles_import_normalised_and_merge_like_other_identities(
    client: TestClient, brand: Brand, db: Database
) -> None:
    report = _import(
        client,
        brand,
        "会员号,微博,抖音,小红书\nC-1, @LiLei ,＠Li_Lei.88,\nC-2,,,XHS123\n",
    )
    assert report["mapping"] == {
        "会员号": "crm",
        "微博": "weibo",
        "抖音": "douyin",
        "小红书": "xiaohongshu",
    }
    assert report["people_created"] == 2
    # Stripped and without the @; Douyin ids ignore case, Weibo screen names keep it.
    first = _person_of(db, "weibo", "LiLei")
    assert _person_of(db, "douyin", "li_lei.88") == first
    assert _person_of(db, "xiaohongshu", "xhs123") == _person_of(db, "crm", "C-2")
    # Another file names C-2's Xiaohongshu account (typed in upper case) with a new CRM id:
    # the holder of the account is found, and C-3 becomes theirs.
    again = _import(client, brand, "会员号,小红书\nC-3,@XHS123\n")
    assert again["people_created"] == 0
    assert _person_of(db, "crm", "C-3") == _person_of(db, "crm", "C-2")
    # A row naming two people's accounts merges them (the older kept).
    merged = _import(client, brand, "微博,小红书\nLiLei,xhs123\n")
    assert merged["merges"] == 1
    assert _person_of(db, "crm", "C-2") == first
    # A handle with a space inside is a row error, and nothing of the file is written.
    bad = client.post(
        "/api/v1/people/imports",
        files={"file": ("bad.csv", "会员号,微博\nC-9,ok\nC-10,two words\n".encode())},
        data={"dry_run": "false"},
        headers=brand.auth(Role.EDITOR),
    )
    assert bad.status_code == 200, bad.text
    assert bad.json()["applied"] is False
    assert [(e["row"], e["column"]) for e in bad.json()["errors"]] == [(3, "微博")]
    assert "two words" in bad.json()["errors"][0]["message"]
    with db.session() as session:
        assert (
            session.scalar(select(PersonIdentity.id).where(PersonIdentity.value == "C-9")) is None
        )


def test_matched_mentions_join_the_timeline_in_order(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,
    clock: ManualClock,
    db: Database,
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    start = clock.now()
    # Li votes, verifies a phone, and (a minute later) the brand's CRM file gives that phone a
    # Weibo account; Han is in the CRM with a Douyin account only.
    assert (
        client.post(
            vote_url(slug, poll_id), json={"options": [options[0]], "consent": True}
        ).status_code
        == 201
    )
    verify(client, slug, outbox, "phone", "13800138000")
    _import(client, brand, "手机,微博,抖音\n13800138000,@LiLei,\n13900139000,,HanMeimei\n")
    li = _person_of(db, "weibo", "LiLei")
    han = _person_of(db, "douyin", "hanmeimei")
    assert li != han
    own = _timeline(client, brand, li, limit=100)["items"]
    assert own
    assert all(i["kind"] != "mention" for i in own)
    vote_at = min(i["occurred_at"] for i in own)

    _mentions(
        client,
        brand,
        [
            {  # Li's Weibo post, an hour later: theirs
                "platform": "weibo",
                "post_id": "w-1",
                "author": " @LiLei",
                "text": "这次的投票活动太好玩了，真喜欢这个品牌！",
                "url": "https://weibo.com/1/w1",
                "posted_at": (start + timedelta(hours=1)).isoformat(),
            },
            {  # the same handle on Douyin: Li's account is a Weibo one, so not theirs
                "platform": "douyin",
                "post_id": "d-1",
                "author": "LiLei",
                "text": "抖音上的另一个人",
                "posted_at": (start + timedelta(hours=2)).isoformat(),
            },
            {  # someone else on Weibo
                "platform": "weibo",
                "post_id": "w-2",
                "author": "ZhangSan",
                "text": "路人甲的微博",
                "posted_at": (start + timedelta(hours=3)).isoformat(),
            },
            {  # Weibo screen names keep their case: "lilei" is another account
                "platform": "weibo",
                "post_id": "w-3",
                "author": "lilei",
                "text": "小写的另一个账号",
                "posted_at": (start + timedelta(hours=4)).isoformat(),
            },
            {  # Han's Douyin id typed in upper case: Douyin ids ignore case
                "platform": "douyin",
                "post_id": "d-2",
                "author": "@HANMEIMEI",
                "text": "韩梅梅的抖音",
                "posted_at": (start - timedelta(days=1)).isoformat(),
            },
        ],
    )

    items = _timeline(client, brand, li, limit=100)["items"]
    mentions = [i for i in items if i["kind"] == "mention"]
    assert [m["detail"] for m in mentions] == ["这次的投票活动太好玩了，真喜欢这个品牌！"]
    mention = mentions[0]
    assert mention["event_id"] is None
    assert mention["platform"] == "weibo"
    assert mention["url"] == "https://weibo.com/1/w1"
    assert mention["label"] == "Posted on Weibo"  # the API speaks English unless asked
    assert mention["sentiment"] in ("positive", "neutral", "negative")
    assert mention["sentiment_label"] in ("Positive", "Neutral", "Negative")
    # Newest first: the post an hour after the vote comes before it.
    assert items[0] == mention
    assert items[-1]["occurred_at"] == vote_at
    assert len(items) == len(own) + 1
    han_items = _timeline(client, brand, han, limit=100)["items"]
    assert [i["detail"] for i in han_items] == ["韩梅梅的抖音"]

    # One item a page, following the cursor: the same items, none twice, none missing.
    walked: list[dict] = []
    cursor = None
    while True:
        page = _timeline(client, brand, li, limit=1, **({"cursor": cursor} if cursor else {}))
        walked.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == items

    # The profile shows the post, its sentiment and a link to it.
    login(client, brand.emails[Role.EDITOR])
    profile = client.get(f"/console/w/acme/people/{li}")
    assert profile.status_code == 200
    assert "这次的投票活动太好玩了" in profile.text
    assert "在微博发帖" in profile.text
    assert 'href="https://weibo.com/1/w1"' in profile.text
    assert "路人甲" not in profile.text
    assert "抖音上的另一个人" not in profile.text


def test_a_mention_and_an_event_at_the_same_time_page_without_loss(
    client: TestClient, brand: Brand, outbox: MemorySender, clock: ManualClock, db: Database
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    verify(client, slug, outbox, "phone", "13800138000")
    _import(client, brand, "手机,小红书\n13800138000,Li88\n")
    li = _person_of(db, "xiaohongshu", "li88")
    own = _timeline(client, brand, li, limit=100)["items"]
    # Two posts at exactly the time of the person's newest event.
    at = own[0]["occurred_at"]
    _mentions(
        client,
        brand,
        [
            {"platform": "xiaohongshu", "post_id": f"x-{n}", "author": "LI88", "text": f"笔记{n}"}
            | {"posted_at": at}
            for n in (1, 2)
        ],
    )
    items = _timeline(client, brand, li, limit=100)["items"]
    assert len(items) == len(own) + 2
    # At one time, events first, then the mentions (newest id first).
    assert [i["detail"] for i in items if i["kind"] == "mention"] == ["笔记2", "笔记1"]
    assert items.index(own[0]) < min(i for i, x in enumerate(items) if x["kind"] == "mention")
    for size in (1, 2):
        walked: list[dict] = []
        cursor = None
        while True:
            page = _timeline(
                client, brand, li, limit=size, **({"cursor": cursor} if cursor else {})
            )
            walked.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert walked == items


def test_export_holds_the_matched_posts_and_erasure_blanks_them(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database, tmp_path: Path
) -> None:
    _import(client, brand, "会员号,微博\nC-1,LiLei\nC-2,ZhangSan\n")
    li = _person_of(db, "weibo", "LiLei")
    zhang = _person_of(db, "weibo", "ZhangSan")
    at = clock.now() - timedelta(hours=1)
    _mentions(
        client,
        brand,
        [
            {"platform": "weibo", "post_id": "w-1", "author": "@LiLei", "text": "李雷的微博"}
            | {"url": "https://weibo.com/1/w1", "posted_at": at.isoformat()},
            {"platform": "douyin", "post_id": "d-1", "author": "LiLei", "text": "同名抖音"}
            | {"posted_at": at.isoformat()},
            {"platform": "weibo", "post_id": "w-2", "author": "ZhangSan", "text": "张三的微博"}
            | {"posted_at": at.isoformat()},
        ],
    )
    with db.session() as session:
        before = {
            m.post_id: (m.platform, m.posted_at, m.sentiment)
            for m in session.scalars(select(Mention))
        }
        path = build_export(
            session,
            workspace_id=brand.workspace_id,
            person_id=li,
            now=clock.now(),
            lake_path=tmp_path / "lake",
            media_path=tmp_path / "media",
            out_dir=tmp_path / "out",
        )
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data.json"))
        posts = data["tables"]["listening_mentions"]
        assert [(p["post_id"], p["text"], p["url"]) for p in posts] == [
            ("w-1", "李雷的微博", "https://weibo.com/1/w1")
        ]
        table = archive.read("csv/listening_mentions.csv").decode("utf-8-sig")
        assert "李雷的微博" in table
        assert "同名抖音" not in table
        assert "张三" not in table
        assert "你在社交平台上被品牌收集的公开帖子" in archive.read("index.html").decode()

    with db.transaction() as session:
        ids = {m.post_id: m.id for m in session.scalars(select(Mention))}
        session.add(
            Alert(
                workspace_id=brand.workspace_id,
                topic_id=None,
                kind="spike",
                window_start=at,
                window_end=clock.now(),
                observed=3.0,
                baseline=1.0,
                score=4.0,
                mentions=3,
                negative_share=0.0,
                top_terms=[],
                samples=[
                    {"mention_id": ids["w-1"], "platform": "weibo", "author": "@LiLei"}
                    | {"text": "李雷的微博", "url": "https://weibo.com/1/w1"},
                    {"mention_id": ids["w-2"], "platform": "weibo", "author": "ZhangSan"}
                    | {"text": "张三的微博", "url": None},
                ],
                top_authors=[
                    {"author": "@LiLei", "followers": 10, "platform": "weibo"},
                    {"author": "LiLei", "followers": 5, "platform": "douyin"},
                ],
                crisis_plan={},
                delivery={},
                raised_at=clock.now(),
            )
        )
    with db.transaction() as session:
        report = erase_person(
            session,
            workspace_id=brand.workspace_id,
            person_id=li,
            now=clock.now(),
            lake_path=tmp_path / "lake",
            media_path=tmp_path / "media",
            reason="request",
        )
    assert report.rows_anonymised["listening_mentions"] == 1
    with db.session() as session:
        after = {m.post_id: m for m in session.scalars(select(Mention))}
        # Li's post: no author, text, link or raw copy; platform, time and sentiment kept.
        assert (after["w-1"].author, after["w-1"].text, after["w-1"].url) == ("", "", None)
        assert after["w-1"].raw == {}
        assert {k: (m.platform, m.posted_at, m.sentiment) for k, m in after.items()} == before
        # Nobody else's post changed, and Li's account went with them.
        assert after["d-1"].author == "LiLei"
        assert after["w-2"].text == "张三的微博"
        assert (
            session.scalar(
                select(PersonIdentity.id).where(
                    PersonIdentity.kind == "weibo", PersonIdentity.value == "LiLei"
                )
            )
            is None
        )
    assert _person_of(db, "weibo", "ZhangSan") == zhang
    # The alert's copies of Li's post and of Li as a loud author are blanked; the others stay.
    with db.session() as session:
        alert = session.scalars(select(Alert)).one()
        assert [(x["author"], x["text"]) for x in alert.samples] == [
            ("", ""),
            ("ZhangSan", "张三的微博"),
        ]
        assert [(x["author"], x["platform"]) for x in alert.top_authors] == [
            ("", "weibo"),
            ("LiLei", "douyin"),
        ]


def test_the_brand_adds_an_account_on_the_profile(
    client: TestClient, brand: Brand, db: Database
) -> None:
    _import(client, brand, "会员号\nC-1\nC-2\n")
    first, second = _person_of(db, "crm", "C-1"), _person_of(db, "crm", "C-2")
    auth = brand.auth(Role.EDITOR)
    url = f"/api/v1/people/{second}/identities"
    added = client.post(url, json={"kind": "douyin", "value": " @HanMeimei "}, headers=auth)
    assert added.status_code == 201, added.text
    assert added.json()["id"] == second
    assert ("douyin", "hanmeimei") in {(i["kind"], i["value"]) for i in added.json()["identities"]}
    # Again, in another case: the same account, nothing changes.
    again = client.post(url, json={"kind": "douyin", "value": "HANMEIMEI"}, headers=auth)
    assert again.status_code == 201
    assert again.json()["merges"] == []
    # The account given to the first person: the two are one now, the older kept.
    merged = client.post(
        f"/api/v1/people/{first}/identities",
        json={"kind": "douyin", "value": "hanmeimei"},
        headers=auth,
    )
    assert merged.status_code == 201, merged.text
    assert merged.json()["id"] == first
    assert [m["reason"] for m in merged.json()["merges"]] == ["shared_identity"]
    assert _person_of(db, "crm", "C-2") == first
    # Bad input: a kind that is not a social account, a handle with a space, another role.
    for body, field in (
        ({"kind": "crm", "value": "C-9"}, "kind"),
        ({"kind": "weibo", "value": "two words"}, "value"),
        ({"kind": "weibo", "value": "@"}, "value"),
    ):
        refused = client.post(f"/api/v1/people/{first}/identities", json=body, headers=auth)
        assert refused.status_code == 422, refused.text
        assert field in refused.text
    viewer = client.post(
        f"/api/v1/people/{first}/identities",
        json={"kind": "weibo", "value": "LiLei"},
        headers=brand.auth(Role.ANALYST),
    )
    assert viewer.status_code == 403

    # The console's form on the profile.
    login(client, brand.emails[Role.EDITOR])
    profile = client.get(f"/console/w/acme/people/{first}")
    assert "添加账号" in profile.text
    token = re.search(
        rf'action="/console/w/acme/people/{first}/identities".*?name="csrf_token" value="([^"]+)"',
        profile.text,
        re.S,
    )
    assert token is not None
    posted = client.post(
        f"/console/w/acme/people/{first}/identities",
        data={"kind": "weibo", "value": "＠LiLei", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    shown = client.get(f"/console/w/acme/people/{first}").text
    assert "微博账号：LiLei" in shown
    assert "抖音账号：hanmeimei" in shown


def test_the_list_finds_a_person_by_a_handle(
    client: TestClient, brand: Brand, db: Database
) -> None:
    _import(client, brand, "会员号,微博,抖音\nC-1,LiLei,\nC-2,,HanMeimei\n")
    li, han = _person_of(db, "weibo", "LiLei"), _person_of(db, "douyin", "hanmeimei")
    auth = brand.auth(Role.EDITOR)

    def found(q: str) -> set[int]:
        page = client.get("/api/v1/people", params={"q": q}, headers=auth)
        assert page.status_code == 200, page.text
        return {p["id"] for p in page.json()["items"]}

    assert found("@LiLei") == {li}
    assert found("＠HANMEIMEI") == {han}  # Douyin ids ignore case
    assert found("lilei") == set()  # a Weibo screen name keeps its case


def test_the_people_export_lists_the_accounts(client: TestClient, brand: Brand) -> None:
    _import(client, brand, "会员号,微博,小红书\nC-1,@LiLei,\nC-2,,XHS123\n")
    answer = client.get("/api/v1/people/export.csv", headers=brand.auth(Role.EDITOR))
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    got = sorted((r["crm_ids"], r["weibo"], r["douyin"], r["xiaohongshu"]) for r in rows)
    assert got == [("C-1", "LiLei", "", ""), ("C-2", "", "", "xhs123")]


@pytest.mark.browser
def test_profile_with_accounts_and_posts_in_a_browser(
    live_server: LiveServer, brand: Brand, browser: Any, clock: ManualClock, artifacts: Path
) -> None:
    """The profile's account form and a matched post on the timeline, on a desk and a phone
    (screenshots in test-artifacts/)."""
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        _import(http, brand, "会员号\nC-1\n")  # type: ignore[arg-type]
        listed = http.get("/api/v1/people", headers=brand.auth(Role.EDITOR)).json()["items"]
        pid = listed[0]["id"]
        post = "今天去门店参加了活动，" * 12 + "推荐大家都去看看！"
        _mentions(
            http,  # type: ignore[arg-type]
            brand,
            [
                {"platform": "weibo", "post_id": "w-1", "author": "@LiLei", "text": post}
                | {
                    "url": "https://weibo.com/1/w1",
                    "posted_at": (clock.now() - timedelta(hours=2)).isoformat(),
                }
            ],
        )
    for size, name in (((1366, 900), "1366"), ((390, 844), "390")):
        context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, locale="zh-CN"
        )
        page = context.new_page()
        page.goto(f"{live_server.url}/console/login")
        page.fill("input[name=email]", brand.emails[Role.EDITOR])
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/w/acme/.*"))
        page.goto(f"{live_server.url}/console/w/acme/people/{pid}")
        if name == "1366":
            page.select_option("#account-kind", "weibo")
            page.fill("#account-value", "@LiLei")
            page.click("button:has-text('添加账号')")
            page.wait_for_selector("text=微博账号：LiLei")
        timeline = page.locator("ol.timeline")
        assert "在微博发帖" in timeline.inner_text()
        assert timeline.locator("a:has-text('查看原帖')").get_attribute("href") == (
            "https://weibo.com/1/w1"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
        page.screenshot(path=str(artifacts / f"people-mentions-{name}.png"), full_page=True)
        context.close()

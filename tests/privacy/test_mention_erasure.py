"""Erasing several people at once blanks exactly their matched mentions: the posts whose platform
and author are one of their social accounts, however the author was written, and nobody else's,
even when another person holds the same handle on another platform (or, where case matters, in
another case). Each person's record counts their own posts. The work does not grow with the
number of people: a few statements on the mentions for the whole batch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from im2.clock import ManualClock
from im2.db import Database
from im2.listening.models import Mention
from im2.people.models import PersonIdentity
from im2.privacy import mentions
from im2.privacy.erasure import erase_people
from im2.privacy.erasures.models import Erasure
from im2.workspaces.schemas import Role
from tests.conftest import Brand

# Who holds which account (the CSV's columns: CRM id, Weibo, Douyin, Xiaohongshu). Weibo screen
# names keep their case; Douyin and Xiaohongshu ids ignore it.
ACCOUNTS = """会员号,微博,抖音,小红书
A,Mei,,
B,,mei,
C,,,MEI
D,mei,,
E,Tom,tom,tom
K,MEI,kept,
L,Lin,,lin
"""
ERASED = ("A", "B", "C", "D", "E", "N")  # N has no account at all
# (post id, platform, author as posted, whose post it is: the ground truth, by hand).
POSTS = [
    ("w1", "weibo", "Mei", "A"),
    ("w2", "weibo", "@Mei", "A"),
    ("w3", "weibo", " ＠Mei ", "A"),
    ("w4", "weibo", "mei", "D"),
    ("w5", "weibo", "@mei", "D"),
    ("w6", "weibo", "MEI", "K"),  # Weibo keeps case: K's, not A's or D's
    ("w7", "weibo", "Tom", "E"),
    ("w8", "weibo", "tom", None),  # nobody's: E's Weibo name is "Tom"
    ("w9", "weibo", "Lin", "L"),
    ("d1", "douyin", "mei", "B"),
    ("d2", "douyin", "@MEI", "B"),  # Douyin ignores case
    ("d3", "douyin", "Tom", "E"),
    ("d4", "douyin", "kept", "K"),
    ("d5", "douyin", "Mei2", None),
    ("x1", "xiaohongshu", "mei", "C"),
    ("x2", "xiaohongshu", "Mei", "C"),
    ("x3", "xiaohongshu", "TOM", "E"),
    ("x4", "xiaohongshu", "lin", "L"),
    ("x5", "xiaohongshu", "meimei", None),
]


def _person_of(db: Database, crm: str) -> int:
    with db.session() as session:
        found = session.scalar(
            select(PersonIdentity.person_id).where(
                PersonIdentity.kind == "crm", PersonIdentity.value == crm
            )
        )
    assert found is not None, crm
    return int(found)


def _mentions(db: Database) -> dict[str, dict[str, Any]]:
    columns = ("platform", "posted_at", "likes", "sentiment", "author", "author_key")
    with db.session() as session:
        return {
            m.post_id: {c: getattr(m, c) for c in columns}
            | {"text": m.text, "url": m.url, "raw": m.raw}
            for m in session.scalars(select(Mention))
        }


def _setup(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    done = client.post(
        "/api/v1/people/imports",
        files={"file": ("accounts.csv", (ACCOUNTS + "N,,,\n").encode())},
        data={"dry_run": "false"},
        headers=brand.auth(Role.EDITOR),
    )
    assert done.status_code in (200, 201), done.text
    assert done.json()["people_created"] == 8, done.text
    at = clock.now() - timedelta(hours=2)
    added = client.post(
        "/api/v1/mentions",
        json={
            "mentions": [
                {
                    "platform": platform,
                    "post_id": post,
                    "author": author,
                    "text": f"帖子 {post}",
                    "url": f"https://example.com/{post}",
                    "posted_at": (at + timedelta(minutes=i)).isoformat(),
                    "likes": i,
                }
                for i, (post, platform, author, _) in enumerate(POSTS)
            ]
        },
        headers=brand.auth(Role.EDITOR),
    )
    assert added.status_code == 200, added.text
    assert added.json()["imported"] == len(POSTS), added.text


@pytest.mark.parametrize("small_chunks", [False, True], ids=["one_pass", "small_chunks"])
def test_a_batch_blanks_each_persons_posts_and_nobody_elses(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    small_chunks: bool,
) -> None:
    if small_chunks:  # the same, with the batch cut into several passes
        monkeypatch.setattr(mentions, "ACCOUNTS_CHUNK", 3)
        monkeypatch.setattr(mentions, "MENTIONS_CHUNK", 4)
    _setup(client, brand, clock)
    people = {crm: _person_of(db, crm) for crm in (*ERASED, "K", "L")}
    before = _mentions(db)

    statements: list[str] = []

    def _count(_conn, _cursor, statement: str, *_args: object) -> None:
        if "listening_mentions" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _count)
    try:
        with db.transaction() as session:
            reports = erase_people(
                session,
                workspace_id=brand.workspace_id,
                person_ids=[people[crm] for crm in ERASED],
                now=clock.now(),
                lake_path=tmp_path / "lake",
                media_path=tmp_path / "media",
                reason="request",
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", _count)

    # Each person's report and record count their own posts (none: no entry).
    expected = {crm: sum(1 for *_, owner in POSTS if owner == crm) for crm in ERASED}
    assert expected == {"A": 3, "B": 2, "C": 2, "D": 2, "E": 3, "N": 0}
    by_person = {r.person_id: r for r in reports}
    with db.session() as session:
        records = {e.person_id: e.summary for e in session.scalars(select(Erasure))}
    for crm, n in expected.items():
        report = by_person[people[crm]]
        assert report.rows_anonymised.get("listening_mentions", 0) == n, crm
        assert records[people[crm]]["anonymised"].get("listening_mentions", 0) == n, crm

    after = _mentions(db)
    for post, _, author, owner in POSTS:
        old, new = before[post], after[post]
        # Platform, post id, time, reach figures and sentiment stay for everyone.
        kept = ("platform", "posted_at", "likes", "sentiment")
        assert {k: new[k] for k in kept} == {k: old[k] for k in kept}, post
        if owner in ERASED:
            blank = {"author": "", "author_key": "", "text": "", "url": None, "raw": {}}
            assert {k: new[k] for k in blank} == blank, post
        else:
            assert (new["author"], new["text"], new["url"]) == (
                author,
                f"帖子 {post}",
                f"https://example.com/{post}",
            ), post
            assert new == old, post
    # The kept people still hold their accounts and their posts.
    assert _person_of(db, "K") == people["K"]
    assert _person_of(db, "L") == people["L"]

    if not small_chunks:
        # A few statements on the mentions for the whole batch of six, not a few per person.
        assert 0 < len(statements) <= 5, statements

"""Mentions stored before the normalised author existed get it from the migration, and match a
person's accounts as new ones do: the platform and the handle (leading @ and spaces dropped;
case ignored on Douyin and Xiaohongshu, kept on Weibo), nobody else's posts."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from im2.db import Database
from im2.listening.people import account_mentions
from im2.migrations import upgrade
from tests.people.test_migration import fresh_url

__all__ = ["fresh_url"]

BEFORE = "29854d10958c"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
FOLDED = {"douyin", "xiaohongshu"}

# (post id, platform, author as the feed gave it, the handle the migration must store)
MENTIONS = [
    ("w-1", "weibo", " @LiLei ", "lilei"),
    ("w-2", "weibo", "lilei", "lilei"),
    ("w-3", "weibo", "＠LiLei", "lilei"),
    ("d-1", "douyin", "@HanMeiMei", "hanmeimei"),
    ("d-2", "douyin", "ÉMILIE", "émilie"),
    ("d-3", "douyin", "LiLei", "lilei"),
    ("x-1", "xiaohongshu", "", ""),
]


def _insert(conn, ws: int, post_id: str, platform: str, author: str, minute: int) -> None:
    conn.execute(
        text(
            "INSERT INTO listening_mentions (workspace_id, platform, post_id, author, "
            "author_followers, text, language, posted_at, posted_minute, likes, reposts, "
            "comments, sentiment_corrected, fingerprint, raw, created_at) VALUES (:ws, :p, "
            ":post, :a, 0, 'text', 'zh', :t, :m, 0, 0, 0, :no, :post, '{}', :t)"
        ),
        {
            "ws": ws, "p": platform, "post": post_id, "a": author,
            "t": T0.replace(minute=minute), "m": minute, "no": False,
        },
    )  # fmt: skip


def test_migration_stores_the_author_key_and_the_match_reads_it(fresh_url: str) -> None:
    upgrade(fresh_url, BEFORE)
    db = Database(fresh_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, name, timezone, created_at) "
                    "VALUES (:id, :s, 'Brand', 'Asia/Shanghai', :t)"
                ),
                [{"id": 1, "s": "b1", "t": T0}, {"id": 2, "s": "b2", "t": T0}],
            )
            for minute, (post_id, platform, author, _key) in enumerate(MENTIONS):
                _insert(conn, 1, post_id, platform, author, minute)
            _insert(conn, 2, "other-ws", "weibo", "LiLei", 30)  # another brand's mention
        upgrade(fresh_url)
        with db.engine.connect() as conn:
            keys = dict(
                conn.execute(
                    text(
                        "SELECT post_id, author_key FROM listening_mentions WHERE workspace_id = 1"
                    )
                ).all()
            )
        assert keys == {post_id: key for post_id, _p, _a, key in MENTIONS}

        def matched(accounts: list[tuple[str, str]]) -> list[str]:
            with db.session() as session:
                found = account_mentions(
                    session, workspace_id=1, accounts=accounts, case_folded=FOLDED
                )
            return [m.post_id for m in found]

        # Weibo keeps case: LiLei's posts, not lilei's; newest first.
        assert matched([("weibo", "LiLei")]) == ["w-3", "w-1"]
        assert matched([("weibo", "lilei")]) == ["w-2"]
        # Douyin ignores case (handles are stored case-folded), beyond ASCII too.
        assert matched([("douyin", "hanmeimei"), ("douyin", "émilie")]) == ["d-2", "d-1"]
        # The same handle on another platform is another account.
        assert matched([("douyin", "lilei")]) == ["d-3"]
        assert matched([("xiaohongshu", "lilei")]) == []
        assert matched([("weibo", "LiLei"), ("douyin", "lilei")]) == ["d-3", "w-3", "w-1"]
    finally:
        db.dispose()

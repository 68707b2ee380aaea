"""The listening API end to end on the real database: ingest, import reports, topics,
dashboards, sentiment corrections, feeds on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from im2.clock import ManualClock
from im2.db import Database
from im2.listening.jobs import poll_feeds_job, score_pending_mentions_job
from im2.listening.models import Mention
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.listening.conftest import loopback_server


def mention(post_id: str, text: str, **extra: object) -> dict[str, object]:
    return {
        "platform": "weibo",
        "post_id": post_id,
        "text": text,
        "author": "用户" + post_id,
        "posted_at": "2026-03-02T01:30:00Z",
        **extra,
    }


def test_batch_ingest_is_idempotent_and_groups_reposts(client: TestClient, brand: Brand) -> None:
    batch = {
        "mentions": [
            mention("1", "西门子冰箱门关不上，质量太差了，客服也不回复"),
            mention("2", "RT @小王: 西门子冰箱门关不上，质量太差了，客服也不回复"),
            mention("3", "西门子冰箱门关不上!!质量太差了，客服也不回复啊"),
            mention("4", "Love my new Siemens fridge", platform="twitter"),
        ]
    }
    first = client.post("/api/v1/mentions", json=batch, headers=brand.auth(Role.EDITOR))
    assert first.status_code == 200, first.text
    assert first.json()["imported"] == 4
    again = client.post("/api/v1/mentions", json=batch, headers=brand.auth(Role.EDITOR))
    assert again.json() == {**again.json(), "imported": 0, "duplicates": 4}

    items = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    by_post = {m["post_id"]: m for m in items}
    assert len(items) == 4
    original = by_post["1"]["id"]
    assert by_post["1"]["duplicate_group"] is None
    assert by_post["2"]["duplicate_group"] == original  # a repost
    assert by_post["3"]["duplicate_group"] == original  # a near copy
    assert by_post["4"]["duplicate_group"] is None
    assert (by_post["1"]["language"], by_post["4"]["language"]) == ("zh", "en")
    assert by_post["1"]["sentiment"] == "negative"


def test_an_ingested_mention_reads_back_as_sent(client: TestClient, brand: Brand) -> None:
    # Given a mention with every field set, posted in another time zone
    sent = mention(
        "77",
        "海尔冰箱很安静 https://t.cn/x",
        url="https://weibo.com/77",
        author_followers=1234,
        likes=5,
        reposts=6,
        comments=7,
        posted_at="2026-03-02T09:15:30.250000+08:00",
    )
    # When it is ingested
    response = client.post(
        "/api/v1/mentions", json={"mentions": [sent]}, headers=brand.auth(Role.EDITOR)
    )
    assert response.status_code == 200, response.text
    # Then it reads back with the same values, its time in UTC
    (item,) = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    assert item["posted_at"].startswith("2026-03-02T01:15:30.25")
    assert {k: item[k] for k in ("url", "author_followers", "likes", "reposts", "comments")} == {
        "url": "https://weibo.com/77",
        "author_followers": 1234,
        "likes": 5,
        "reposts": 6,
        "comments": 7,
    }
    assert (item["text"], item["sentiment"], item["sentiment_corrected"]) == (
        "海尔冰箱很安静 https://t.cn/x",
        "neutral",
        False,
    )


@pytest.mark.real_model
def test_mentions_carry_the_models_positive_probability(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    # Given a clearly positive and a clearly negative mention, scored by the shipped model
    batch = {
        "mentions": [
            mention("p", "I love this phone, the camera is amazing!", platform="twitter"),
            mention("n", "送餐太慢了，等了两个小时，饭都凉了，再也不点了"),
        ]
    }
    response = client.post("/api/v1/mentions", json=batch, headers=brand.auth(Role.EDITOR))
    assert response.status_code == 200, response.text
    # Then each reads back with its P(positive) next to the label, on the right side of one half
    items = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    by_post = {m["post_id"]: m for m in items}
    assert by_post["p"]["sentiment"] == "positive"
    assert by_post["p"]["positive_probability"] > 0.5
    assert by_post["n"]["sentiment"] == "negative"
    assert by_post["n"]["positive_probability"] < 0.5
    # And a mention stored unscored gets one from the pending-scoring job
    with db.transaction() as session:
        session.execute(
            update(Mention)
            .where(Mention.post_id == "p")
            .values(sentiment=None, sentiment_confidence=None, sentiment_positive_probability=None)
        )
    assert score_pending_mentions_job(db, clock) == 1
    items = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    rescored = next(m for m in items if m["post_id"] == "p")
    assert rescored["sentiment"] == "positive"
    assert rescored["positive_probability"] == by_post["p"]["positive_probability"]


def test_viewer_cannot_ingest(client: TestClient, brand: Brand) -> None:
    response = client.post(
        "/api/v1/mentions", json={"mentions": [mention("1", "x")]}, headers=brand.auth(Role.ANALYST)
    )
    assert response.status_code == 403


def test_file_import_reports_broken_rows_and_gbk(client: TestClient, brand: Brand) -> None:
    body = (
        "id,微博正文,用户昵称,粉丝数,发布时间,点赞数,转发数,评论数\n"
        "1,冰箱门关不上，太差了,小王,1.2万,2026-03-02 09:00,3,1,2\n"
        "2,坏行\n"
        "3,外观很好看,小李,10,2026-03-02 09:10,0,0,0\n"
    ).encode("gbk")
    response = client.post(
        "/api/v1/mentions/imports",
        files={"file": ("weibo.csv", body, "text/csv")},
        data={"mapping": "weibo"},
        headers=brand.auth(Role.EDITOR),
    )
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["encoding"], report["imported"], report["failed"]) == ("gb18030", 2, 1)
    assert report["status"] == "done"
    assert report["finished_at"] is not None
    assert report["errors"] == [
        {
            "line": 3,
            "message": "expected 8 columns, found 2",
            "code": "column_count",
            "params": {"n": "8", "m": "2"},
        }
    ]

    missing = client.post(
        "/api/v1/mentions/imports",
        files={"file": ("x.csv", "id,内容\n1,a\n".encode(), "text/csv")},
        data={"mapping": "weibo"},
        headers=brand.auth(Role.EDITOR),
    )
    assert missing.status_code == 422
    assert "posted_at" in missing.json()["error"]["message"]


def test_topics_share_of_voice_and_query_errors(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    owner = brand.auth(Role.OWNER)
    texts = ["西门子冰箱太差了", "西门子洗衣机很好", "海尔冰箱不错", "海尔冰箱坏了", "天气好"]
    client.post(
        "/api/v1/mentions",
        json={"mentions": [mention(str(i), t) for i, t in enumerate(texts)]},
        headers=owner,
    )
    bad = client.post(
        "/api/v1/topics", json={"name": "坏", "query": "西门子 AND (冰箱"}, headers=owner
    )
    assert bad.status_code == 422
    assert "position 9" in bad.json()["error"]["message"]

    ours = client.post(
        "/api/v1/topics",
        json={"name": "西门子", "query": "西门子 OR siemens", "kind": "brand"},
        headers=owner,
    ).json()
    assert ours["mentions"] == 2
    client.post(
        "/api/v1/topics",
        json={"name": "海尔", "query": "海尔", "kind": "competitor"},
        headers=owner,
    )
    client.post("/api/v1/topics", json={"name": "冰箱", "query": "冰箱"}, headers=owner)
    board = client.get(
        "/api/v1/listening/dashboard", params={"topic_id": ours["id"]}, headers=owner
    ).json()
    assert board["total"] == 2
    assert sum(p["negative"] for p in board["timeline"]) == 1
    voice = {s["name"]: round(s["share"], 2) for s in board["share_of_voice"]}
    assert voice == {"西门子": 0.5, "海尔": 0.5}
    topics = {t["name"]: t["mentions"] for t in client.get("/api/v1/topics", headers=owner).json()}
    assert topics == {"西门子": 2, "海尔": 2, "冰箱": 3}  # a mention can match several topics


def test_sentiment_correction_is_kept(client: TestClient, brand: Brand, db: Database) -> None:
    client.post(
        "/api/v1/mentions",
        json={"mentions": [mention("1", "这冰箱真是好得没话说，呵呵")]},
        headers=brand.auth(Role.OWNER),
    )
    item = client.get("/api/v1/mentions", headers=brand.auth(Role.OWNER)).json()["items"][0]
    assert item["sentiment"] == "positive"
    fixed = client.put(
        f"/api/v1/mentions/{item['id']}/sentiment",
        json={"sentiment": "negative"},
        headers=brand.auth(Role.EDITOR),
    ).json()
    assert (fixed["sentiment"], fixed["sentiment_corrected"]) == ("negative", True)
    from im2.listening.service import corrections_for_training

    with db.session() as session:
        assert corrections_for_training(session) == [
            ("这冰箱真是好得没话说，呵呵", "zh", "negative")
        ]


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>科技新闻</title>
<item><guid>n-1</guid><title>西门子冰箱召回</title><link>http://127.0.0.1/n-1</link>
<description>&lt;p&gt;多地用户反映冰箱门&lt;b&gt;关不上&lt;/b&gt;&lt;/p&gt;</description>
<pubDate>Mon, 02 Mar 2026 01:00:00 GMT</pubDate></item>
<item><guid>n-2</guid><title>新品发布</title><link>http://127.0.0.1/n-2</link>
<pubDate>Mon, 02 Mar 2026 01:10:00 GMT</pubDate></item>
</channel></rss>"""


@pytest.fixture
def feed_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = FEED.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with loopback_server(Handler) as url:
        yield f"{url}/feed.xml"


def test_rss_feed_is_polled_once_per_interval(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, feed_server: str
) -> None:
    added = client.post(
        "/api/v1/listening/feeds",
        json={"url": feed_server, "interval_minutes": 15},
        headers=brand.auth(Role.EDITOR),
    )
    assert added.status_code == 201, added.text
    assert poll_feeds_job(db, clock) == 2
    assert poll_feeds_job(db, clock) == 0  # not due yet
    clock.advance(timedelta(minutes=15))
    assert poll_feeds_job(db, clock) == 0  # due, but nothing new
    items = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    recall = next(m for m in items if m["post_id"] == "n-1")
    assert recall["text"] == "西门子冰箱召回\n多地用户反映冰箱门 关不上"
    assert (recall["platform"], recall["author"]) == ("rss", "科技新闻")

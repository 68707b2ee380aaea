"""Near-duplicate grouping: LSH quality on real posts, and groups that span batches."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from im2.listening import dedup
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer

WEIBO = Path("/work/shared/data/weibo_senti_100k_subset/dev.csv")


def _posts() -> list[str]:
    if not WEIBO.exists():
        pytest.skip("shared data folder absent")
    texts = [line.split("\t", 1)[1] for line in WEIBO.read_text().splitlines()[1:] if "\t" in line]
    cores = {dedup.core_text(t): t for t in texts}  # distinct cores only
    return [t for c, t in cores.items() if len(c) >= 40][:600]


def _jaccard(a: str, b: str) -> float:
    x = {a[i : i + 3] for i in range(len(a) - 2)}
    y = {b[i : i + 3] for i in range(len(b) - 2)}
    return len(x & y) / len(x | y)


def test_lsh_groups_near_copies_and_keeps_distinct_posts_apart() -> None:
    rng = random.Random(3)
    posts = _posts()
    # A near copy: one character replaced somewhere in a long post (3-gram Jaccard ≥ 0.85).
    copies = []
    for post in posts:
        core = dedup.core_text(post)
        at = rng.randrange(len(core))
        copies.append(core[:at] + "某" + core[at + 1 :])
    prepared = dedup.prepare(posts + copies)
    groups = dedup.group_batch(prepared).groups
    n = len(posts)
    similar = [i for i in range(n) if _jaccard(dedup.core_text(posts[i]), copies[i]) >= 0.85]
    found = sum(groups[n + i] == ("batch", i) for i in similar)
    assert found / len(similar) >= 0.95, (found, len(similar))
    # Distinct posts of the data set (real, unrelated users) almost never join each other.
    originals_grouped = sum(g is not None for g in groups[:n])
    assert originals_grouped / n <= 0.02


def test_band_keys_stay_the_same_as_the_stored_ones() -> None:
    # Band keys are stored (listening_near_duplicate_bands): if a faster way of computing them
    # changed a single value, copies in later imports would stop finding their groups.
    prepared = dedup.prepare(
        [
            "西门子冰箱门关不上，质量太差了，客服三天都不回复，大家千万别买",
            "I love my new Siemens fridge, quiet and cold",
            "好评",
        ]
    )
    assert prepared.bands == [
        [
            -1869682576032276742,
            1470288499682866470,
            5443839984163284701,
            8591654189065537992,
            6283245902554753504,
        ],
        [
            -7020591517396310823,
            4216727743058212447,
            -5735129311114759371,
            3141831986286402505,
            6959303084126372774,
        ],
        [],  # too short for a near match
    ]


def mention(post_id: str, text: str) -> dict[str, object]:
    return {
        "platform": "weibo",
        "post_id": post_id,
        "text": text,
        "author": "用户" + post_id,
        "posted_at": "2026-03-02T01:30:00Z",
    }


def test_a_near_copy_in_a_later_batch_joins_the_earlier_group(
    client: TestClient, brand: Brand
) -> None:
    headers = brand.auth(Role.EDITOR)
    original = "西门子冰箱门关不上，质量太差了，客服三天都不回复，大家千万别买"
    first = client.post(
        "/api/v1/mentions",
        json={"mentions": [mention("1", original), mention("2", "今天天气很好，出去走走散散心")]},
        headers=headers,
    )
    assert first.status_code == 200, first.text
    # Later batches, each its own request: a near copy (different text, so a different
    # fingerprint), a copy of that copy, and an unrelated post.
    for post_id, text in (
        ("3", "西门子冰箱门关不上!!质量太差了，客服三天都不回复，大家千万别买啊"),
        ("4", "转发：西门子冰箱门关不上!!质量太差了，客服三天都不回复，大家千万别买啊"),
        ("5", "海尔洗衣机用了三年，一直很安静，推荐给大家"),
    ):
        response = client.post(
            "/api/v1/mentions", json={"mentions": [mention(post_id, text)]}, headers=headers
        )
        assert response.json()["imported"] == 1

    items = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"]
    by_post = {m["post_id"]: m for m in items}
    group = by_post["1"]["id"]
    assert by_post["3"]["duplicate_group"] == group
    assert by_post["4"]["duplicate_group"] == group
    assert by_post["2"]["duplicate_group"] is None
    assert by_post["5"]["duplicate_group"] is None


def test_concurrent_batches_make_one_group_and_store_each_post_once(
    live_server: LiveServer, brand: Brand
) -> None:
    """Eight API calls at once on the real server, each with its own near copy of one
    complaint and the same shared repost: one group, each post stored once."""
    headers = brand.auth(Role.EDITOR)
    complaint = (
        "西门子冰箱买回来第三天门就关不上了，冷藏室一直漏冷气，打了四次客服电话都说会安排师傅上门，"
        "到现在一个星期了还没人来，东西全坏了，大家买之前一定要想清楚"
    )
    letters = "ABCDEFGH"

    def send(i: int) -> int:
        batch = [
            mention(f"copy-{i}", complaint + letters[i]),
            mention("shared", "RT @小李: " + complaint),
        ]
        with httpx.Client(timeout=60) as http:
            response = http.post(
                f"{live_server.url}/api/v1/mentions", json={"mentions": batch}, headers=headers
            )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(send, range(8))) == [200] * 8

    items = httpx.get(
        f"{live_server.url}/api/v1/mentions?limit=200", headers=brand.auth(Role.ANALYST)
    ).json()["items"]
    assert sorted(m["post_id"] for m in items) == sorted(
        ["shared", *(f"copy-{i}" for i in range(8))]
    )
    leaders = [m for m in items if m["duplicate_group"] is None]
    assert len(leaders) == 1
    assert {m["duplicate_group"] for m in items if m is not leaders[0]} == {leaders[0]["id"]}


def test_a_post_cut_in_the_middle_of_an_emoji_is_stored(client: TestClient, brand: Brand) -> None:
    # A lone UTF-16 surrogate ("\ud83d" without its pair) is valid JSON but no database or
    # encoder takes it: it becomes U+FFFD, the rest of the post is kept, and nothing fails.
    body = (
        '{"mentions": [{"platform": "twitter", "post_id": "cut", "author": "a\\ud83d",'
        ' "text": "Love this fridge so much \\ud83d", "posted_at": "2026-03-02T01:30:00Z"}]}'
    )
    response = client.post(
        "/api/v1/mentions",
        content=body,
        headers={**brand.auth(Role.EDITOR), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    stored = client.get("/api/v1/mentions", headers=brand.auth(Role.ANALYST)).json()["items"][0]
    assert stored["text"] == "Love this fridge so much \ufffd"
    assert stored["author"] == "a\ufffd"
    assert stored["sentiment"] == "positive"

"""The word cloud shows what people talk about: markup pasted into posts (script, alert, img,
onerror) and the brand's own name (in every post about it) are no keywords."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.listening.terms import compare_terms, tokens
from im2.workspaces.schemas import Role
from tests.conftest import Brand

POSTS = [
    "<script>alert('hacked')</script>Acme 的樱花拿铁真好喝",
    'Acme 樱花拿铁 <img src=x onerror="alert(1)"> 推荐 &amp; 好喝',
    "<b>Acme</b> 新品 樱花拿铁 javascript:alert(2) 好喝",
]


def test_markup_is_not_counted_as_words() -> None:
    words = tokens(POSTS[1])
    assert {"樱花", "推荐", "好喝"} <= set(words)
    assert not {"script", "alert", "img", "src", "onerror", "amp"} & set(words)
    assert "alert" not in tokens(POSTS[0])
    assert "alert" not in tokens(POSTS[2])
    assert tokens("<style>body{color:red}</style>价格合理") == ["价格合理"]


def test_the_brands_name_is_left_out_of_the_keywords() -> None:
    compared = compare_terms(POSTS, [], leave_out="Acme 咖啡")
    terms = {t.term for t in compared.keywords}
    assert "acme" not in terms
    assert {"樱花", "好喝"} <= terms


def test_the_terms_api_drops_markup_and_the_workspaces_name(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    mentions = [
        {
            "platform": "weibo",
            "post_id": str(i),
            "text": text,
            "posted_at": (clock.now() - timedelta(hours=1, minutes=i)).isoformat(),
        }
        for i, text in enumerate(POSTS)
    ]
    client.post(
        "/api/v1/mentions", json={"mentions": mentions}, headers=brand.auth(Role.EDITOR)
    ).raise_for_status()
    since = (clock.now() - timedelta(hours=24)).isoformat()
    board = client.get(
        "/api/v1/listening/terms", params={"since": since}, headers=brand.auth(Role.ANALYST)
    ).json()
    terms = [t["term"] for t in board["keywords"]]
    assert "好喝" in terms
    # The workspace is "Brand acme": neither of its words is a keyword, nor any markup.
    assert not {"acme", "brand", "script", "alert", "img", "onerror"} & set(terms)

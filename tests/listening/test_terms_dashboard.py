"""Keywords and trending terms on the dashboard: a new term that bursts in the period tops the
trending table with the counts and lift a user can check by hand, the baseline can be chosen,
the texts read are capped (and the page says so), and bad periods are refused."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.listening import trending
from im2.listening.terms import compare_terms
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login

BASE = "/console/w/acme/listening"
CALM = "海尔冰箱很好用，制冷快"
BURST = "海尔冰箱自燃了，太吓人"


def _post(client: TestClient, brand: Brand, rows: list[tuple[str, str, datetime]]) -> None:
    mentions = [
        {"platform": "weibo", "post_id": key, "text": text, "posted_at": at.isoformat()}
        for key, text, at in rows
    ]
    client.post(
        "/api/v1/mentions", json={"mentions": mentions}, headers=brand.auth(Role.EDITOR)
    ).raise_for_status()


def _seed(client: TestClient, brand: Brand, clock: ManualClock) -> dict[str, list[str]]:
    """Yesterday (the baseline of the last 24 hours): 20 calm posts. The last 24 hours: 8 calm
    posts, then 12 about a fridge catching fire, the most recent. Returns the texts by period."""
    now = clock.now()
    baseline = [(f"b{i}", f"{CALM} #{i}", now - timedelta(hours=30, minutes=i)) for i in range(20)]
    calm = [(f"c{i}", f"{CALM} #{i}", now - timedelta(hours=20, minutes=i)) for i in range(8)]
    burst = [(f"f{i}", f"{BURST} #{i}", now - timedelta(minutes=5 + i)) for i in range(12)]
    _post(client, brand, baseline + calm + burst)
    return {
        "window": [t for _k, t, _at in calm + burst],
        "baseline": [t for _k, t, _at in baseline],
    }


def _lift(now: int, before: int, n_now: int, n_before: int) -> float:
    return (now + 1) / (before * n_now / n_before + 1)


def test_a_new_term_trends_with_counts_and_lift(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    # Given a quiet day, then a burst of posts about a fridge catching fire
    texts = _seed(client, brand, clock)
    window, baseline = texts["window"], texts["baseline"]
    # When the terms of the last 24 hours are asked for (baseline: the 24 hours before)
    since = (clock.now() - timedelta(hours=24)).isoformat()
    response = client.get(
        "/api/v1/listening/terms", params={"since": since}, headers=brand.auth(Role.ANALYST)
    )
    assert response.status_code == 200, response.text
    board = response.json()
    # Then every post was read, and the baseline is the day before
    assert board["window"]["sampled"] == len(window) == 20
    assert board["window"]["complete"] is True
    assert board["baseline"]["sampled"] == len(baseline) == 20
    assert board["baseline"]["until"] == board["window"]["since"]
    # And the new words lead the trending table, counted as posts containing them
    fire = sum("自燃" in t for t in window)
    assert fire == 12
    assert not any("自燃" in t for t in baseline)
    top = {t["term"]: t for t in board["trending"][:2]}
    assert set(top) == {"自燃", "吓人"}
    assert top["自燃"]["count"] == fire
    assert top["自燃"]["baseline_count"] == 0
    assert top["自燃"]["lift"] == pytest.approx(_lift(fire, 0, len(window), len(baseline)))
    # And a word as common as before is a keyword but not a trend
    keywords = {t["term"]: t for t in board["keywords"]}
    assert keywords["冰箱"]["count"] == 20
    assert keywords["冰箱"]["baseline_count"] == 20
    assert keywords["冰箱"]["lift"] == pytest.approx(1.0)
    assert "冰箱" not in {t["term"] for t in board["trending"]}
    cooling_now = sum("制冷" in t for t in window)
    assert keywords["制冷"]["count"] == cooling_now == 8
    assert keywords["制冷"]["lift"] == pytest.approx(_lift(8, 20, 20, 20))
    assert [t["term"] for t in board["keywords"][:2]] == sorted(["冰箱", "海尔"])


def test_a_chosen_baseline_and_a_topic(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    _seed(client, brand, clock)
    editor = brand.auth(Role.EDITOR)
    now = clock.now()
    # Given a baseline that ends before the calm posts of yesterday began: nothing to compare
    empty = client.get(
        "/api/v1/listening/terms",
        params={
            "since": (now - timedelta(hours=24)).isoformat(),
            "baseline_since": (now - timedelta(days=10)).isoformat(),
            "baseline_until": (now - timedelta(days=9)).isoformat(),
        },
        headers=editor,
    ).json()
    assert empty["baseline"]["sampled"] == 0
    assert empty["trending"] == []
    assert all(t["lift"] is None for t in empty["keywords"])
    # And a topic narrows both periods to its own mentions
    topic = client.post(
        "/api/v1/topics", json={"name": "制冷", "query": "制冷"}, headers=editor
    ).json()
    scoped = client.get(
        "/api/v1/listening/terms",
        params={"since": (now - timedelta(hours=24)).isoformat(), "topic_id": topic["id"]},
        headers=editor,
    ).json()
    assert (scoped["window"]["sampled"], scoped["baseline"]["sampled"]) == (8, 20)
    assert "自燃" not in {t["term"] for t in scoped["keywords"]}


def test_only_the_most_recent_posts_are_read(
    client: TestClient, brand: Brand, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(client, brand, clock)
    monkeypatch.setattr(trending, "TERM_SAMPLE", 5)
    board = client.get(
        "/api/v1/listening/terms",
        params={"since": (clock.now() - timedelta(hours=24)).isoformat()},
        headers=brand.auth(Role.ANALYST),
    ).json()
    # The five newest posts are all about the fire; the calm ones were not read
    assert (board["sample_limit"], board["window"]["sampled"]) == (5, 5)
    assert board["window"]["complete"] is False
    keywords = {t["term"]: t["count"] for t in board["keywords"]}
    assert keywords["自燃"] == 5
    assert "制冷" not in keywords


def test_bad_periods_are_refused(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    viewer = brand.auth(Role.ANALYST)
    now = clock.now()

    def get(**params: object) -> tuple[int, str | None]:
        r = client.get("/api/v1/listening/terms", params=params, headers=viewer)
        return r.status_code, (r.json().get("error") or {}).get("field")

    assert get(since=now.isoformat(), until=(now - timedelta(hours=1)).isoformat()) == (
        422,
        "until",
    )
    overlapping = get(
        since=(now - timedelta(days=1)).isoformat(),
        baseline_until=(now - timedelta(hours=1)).isoformat(),
    )
    assert overlapping == (422, "baseline_until")
    assert get(
        baseline_since=(now - timedelta(days=8)).isoformat(),
        baseline_until=(now - timedelta(days=9)).isoformat(),
    ) == (422, "baseline_until")
    assert get(topic_id=999_999)[0] == 404
    assert get(limit=0)[0] == 422
    assert get(since="yesterday")[0] == 422
    assert get(since="0001-01-02T00:00:00Z") == (422, "since")  # nothing before it
    # A time without an offset is UTC, as for mentions
    assert get(since="2026-03-01T00:00:00")[0] == 200


def test_the_dashboard_shows_the_cloud_and_the_trending_table(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    _seed(client, brand, clock)
    assert login(client, brand.emails[Role.ANALYST]) == 303
    page = client.get(f"{BASE}?range=24h")
    assert page.status_code == 200
    html = page.text
    assert "关键词与热词" in html
    assert 'id="word-cloud"' in html
    assert "/static/vendor/echarts-wordcloud.min.js" in html
    assert "统计了本时段全部 20 条提及" in html
    trending_part = html[html.index('id="trending-table"') :]
    row = trending_part[trending_part.index('data-term="自燃"') :].split("</tr>")[0]
    cells = re.findall(r'class="num">([^<]*)<', row)
    assert cells == ["12", "0", "13.0×"]
    assert "/listening/mentions?q=%E8%87%AA%E7%87%83" in row  # a term opens its mentions
    # The same period a week earlier holds nothing, so there is no trend to show
    week = client.get(f"{BASE}?range=24h&baseline=week").text
    assert "基线时段没有可比较的提及" in week
    # A week earlier cannot be the baseline of 30 days: the previous period is, and it says so
    month = client.get(f"{BASE}?range=30d&baseline=week")
    assert month.status_code == 200
    assert "上一个时段作为基线" in month.text
    assert client.get(f"{BASE}?baseline=forever").status_code == 422


def test_compare_terms_counts_posts_not_occurrences() -> None:
    compared = compare_terms(["自燃 自燃 自燃 冰箱", "冰箱"], ["冰箱"], limit=5)
    counts = {t.term: (t.count, t.baseline_count) for t in compared.keywords}
    assert counts == {"冰箱": (2, 1), "自燃": (1, 0)}
    assert [t.term for t in compared.trending] == ["自燃"]  # 冰箱: (2+1)/(1×2+1) = 1

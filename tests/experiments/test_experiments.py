"""Experiments end to end: the brand sets up two poster texts on a poll, each visitor keeps
seeing one of them, the votes that follow are counted per variant, and the brand concludes."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url

TITLE_A = "你最想喝哪款春季新品？"
TITLE_B = "投票赢樱花拿铁一杯！"


def experiment_body(activity_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "poster-text",
        "name": "海报文案 A/B",
        "activity_id": activity_id,
        "variants": [
            {"key": "control", "name": "原文案", "weight": 1},
            {
                "key": "prize",
                "name": "奖品文案",
                "weight": 1,
                "payload": {
                    "title": TITLE_B,
                    "description": "投票即可参加抽奖。",
                    "button_text": "马上投票",
                },
            },
        ],
        "goal_kinds": ["vote.cast"],
        "start": True,
    }
    body.update(overrides)
    return body


def page_title(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    found = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    assert found is not None
    return html.unescape(found.group(1)).strip()


@pytest.fixture
def setup(client: TestClient, brand: Brand) -> tuple[str, int, list[int]]:
    return live_campaign(client, brand)


def campaign_id_of(client: TestClient, brand: Brand, activity_id: int) -> int:
    found = client.get(f"/api/v1/polls/{activity_id}/results", headers=brand.auth(Role.OWNER))
    assert found.status_code == 200
    campaigns = client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()
    return int(campaigns["items"][0]["id"])


def test_each_visitor_keeps_their_variant_and_results_count_votes_per_variant(
    client: TestClient, brand: Brand, db: Database, setup: tuple[str, int, list[int]]
) -> None:
    slug, activity_id, options = setup
    owner = brand.auth(Role.OWNER)
    campaign_id = campaign_id_of(client, brand, activity_id)
    created = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(activity_id),
        headers=owner,
    )
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["status"] == "running"

    url = f"/c/{slug}/poll/{activity_id}"
    seen: dict[str, int] = {TITLE_A: 0, TITLE_B: 0}
    voted: dict[str, int] = {TITLE_A: 0, TITLE_B: 0}
    for i in range(24):
        phone = TestClient(client.app)
        title = page_title(phone, url)
        assert title in seen, title
        # Sticky: the same phone sees the same text on every visit.
        assert page_title(phone, url) == title
        assert page_title(phone, url) == title
        seen[title] += 1
        page = phone.get(url).text
        if title == TITLE_B:
            assert "投票即可参加抽奖。" in page
            # The button label the variant sets (a script swaps it in, JSON-escaped).
            assert json.dumps("马上投票") in page
        else:
            assert json.dumps("马上投票") not in page
        if i % 3 == 0 or (title == TITLE_B and i % 3 == 1):
            vote = phone.post(
                vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
            )
            assert vote.status_code == 201, vote.text
            voted[title] += 1
    assert seen[TITLE_A] > 0
    assert seen[TITLE_B] > 0

    with db.session() as session:
        exposed = list_events(session, kinds=["experiment.exposed"])
    assert len(exposed) == 24  # once per phone, however often it reloads
    assert {e.properties["variant"] for e in exposed} == {"control", "prize"}

    results = client.get(
        f"/api/v1/experiments/{experiment['id']}/results", headers=brand.auth(Role.ANALYST)
    )
    assert results.status_code == 200, results.text
    body = results.json()
    by_key = {v["key"]: v for v in body["variants"]}
    assert by_key["control"]["exposures"] == seen[TITLE_A]
    assert by_key["prize"]["exposures"] == seen[TITLE_B]
    assert by_key["control"]["conversions"] == voted[TITLE_A]
    assert by_key["prize"]["conversions"] == voted[TITLE_B]
    assert by_key["prize"]["conversion_rate"] == pytest.approx(voted[TITLE_B] / seen[TITLE_B])
    assert sum(v["probability_best"] for v in body["variants"]) == pytest.approx(1)
    # 24 visitors are far from the sample the test needs: no winner, and it says how many more.
    assert body["enough_data"] is False
    assert body["significant"] is False
    need = body["required_per_variant"] - min(seen.values())
    assert f"{need}" in body["verdict"]
    assert by_key["control"]["needed"] == body["required_per_variant"] - seen[TITLE_A]

    # Conclude keeping "prize": its title and description become the activity's own for
    # everybody, its button label goes with the experiment; concluding twice is refused.
    bad = client.post(
        f"/api/v1/experiments/{experiment['id']}/conclude", json={"winner": "nope"}, headers=owner
    )
    assert bad.status_code == 422
    assert "nope" in bad.json()["error"]["message"]
    done = client.post(
        f"/api/v1/experiments/{experiment['id']}/conclude", json={"winner": "prize"}, headers=owner
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "concluded"
    assert done.json()["winner"] == "prize"
    for _ in range(5):
        phone = TestClient(client.app)
        assert page_title(phone, url) == TITLE_B
        page = phone.get(url).text
        assert "投票即可参加抽奖。" in page
        assert json.dumps("马上投票") not in page
    with db.session() as session:
        updates = list_events(session, kinds=["activity.updated", "experiment.concluded"])
    assert [e.kind for e in updates] == ["activity.updated", "experiment.concluded"]
    again = client.post(f"/api/v1/experiments/{experiment['id']}/conclude", json={}, headers=owner)
    assert again.status_code == 409


def test_a_draft_shows_nothing_and_one_experiment_runs_per_activity(
    client: TestClient, brand: Brand, db: Database, setup: tuple[str, int, list[int]]
) -> None:
    slug, activity_id, _options = setup
    owner = brand.auth(Role.OWNER)
    campaign_id = campaign_id_of(client, brand, activity_id)
    draft = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(
            activity_id,
            start=False,
            variants=[
                {"key": "a", "payload": {"title": "甲"}},
                {"key": "b", "payload": {"title": "乙"}},
            ],
        ),
        headers=owner,
    )
    assert draft.status_code == 201, draft.text
    for _ in range(4):
        assert page_title(TestClient(client.app), f"/c/{slug}/poll/{activity_id}") == TITLE_A
    with db.session() as session:
        assert list_events(session, kinds=["experiment.exposed"]) == []
    second = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(activity_id, key="second"),
        headers=owner,
    )
    assert second.status_code == 201
    started = client.post(f"/api/v1/experiments/{draft.json()['id']}/start", headers=owner)
    assert started.status_code == 409
    assert "already running" in started.json()["error"]["message"]
    listed = client.get(f"/api/v1/campaigns/{campaign_id}/experiments", headers=owner).json()
    assert [e["key"] for e in listed] == ["second", "poster-text"]
    # Viewers may read but not write.
    viewer = brand.auth(Role.VIEWER)
    assert (
        client.get(f"/api/v1/experiments/{draft.json()['id']}", headers=viewer).status_code == 200
    )
    assert (
        client.post(f"/api/v1/experiments/{draft.json()['id']}/start", headers=viewer).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"variants": [{"key": "a", "weight": 0}, {"key": "b"}]}, "variants.0.weight", "positive"),
        ({"variants": [{"key": "a", "weight": -2}, {"key": "b"}]}, "variants.0.weight", "positive"),
        ({"variants": [{"key": "only"}]}, "variants", "at least two"),
        ({"variants": [{"key": "a"}, {"key": "a"}]}, "variants.1.key", "both called a"),
        ({"variants": [{"key": "a b"}, {"key": "b"}]}, "variants.0.key", "Variant keys"),
        ({"goal_kinds": ["vote.casted"]}, "goal_kinds", "vote.casted"),
        ({"goal_kinds": []}, "goal_kinds", "at least one goal"),
        ({"key": "Bad Key!"}, "key", "Experiment keys"),
        ({"min_effect": 0}, "min_effect", "lift"),
        ({"activity_id": 999999}, "activity_id", "not in this campaign"),
        (
            {"variants": [{"key": "a", "payload": {"title": ""}}, {"key": "b"}]},
            "variants.0.payload.title",
            "empty",
        ),
    ],
)
def test_bad_experiments_are_refused_and_write_nothing(
    client: TestClient,
    brand: Brand,
    db: Database,
    setup: tuple[str, int, list[int]],
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    _slug, activity_id, _options = setup
    campaign_id = campaign_id_of(client, brand, activity_id)
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json={**experiment_body(activity_id), **change},
        headers=brand.auth(Role.OWNER),
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert message in error["message"]
    with db.session() as session:
        assert list_events(session, kinds=["experiment.created"]) == []
    assert (
        client.get(
            f"/api/v1/campaigns/{campaign_id}/experiments", headers=brand.auth(Role.OWNER)
        ).json()
        == []
    )


def test_duplicate_key_is_a_conflict(
    client: TestClient, brand: Brand, setup: tuple[str, int, list[int]]
) -> None:
    _slug, activity_id, _options = setup
    campaign_id = campaign_id_of(client, brand, activity_id)
    url = f"/api/v1/campaigns/{campaign_id}/experiments"
    body = experiment_body(activity_id, start=False)
    assert client.post(url, json=body, headers=brand.auth(Role.OWNER)).status_code == 201
    again = client.post(url, json=body, headers=brand.auth(Role.OWNER))
    assert again.status_code == 409
    assert "poster-text" in again.json()["error"]["message"]

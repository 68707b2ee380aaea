"""Campaigns through the HTTP API: the happy path and every kind of bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload


def _count(client: TestClient, brand: Brand) -> int:
    body = client.get(
        "/api/v1/campaigns?include_archived=true&limit=100", headers=brand.auth(Role.OWNER)
    ).json()
    return len(body["items"])


def _events(client: TestClient, brand: Brand) -> list[dict[str, object]]:
    return client.get("/api/v1/audit?limit=200", headers=brand.auth(Role.OWNER)).json()


def test_create_read_and_list(client: TestClient, brand: Brand) -> None:
    response = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.EDITOR)
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "draft"
    # Naive times are wall-clock times in the campaign's zone (Shanghai is UTC+8).
    assert created["starts_at"].startswith("2026-03-10T02:00:00")
    assert created["kpi_targets"] == [
        {"metric": "participants", "target_value": 5000.0, "deadline": None}
    ]
    assert created["channels"][0] == {
        "channel": "weibo",
        "media": "paid",
        "budget": 8000.0,
        "currency": "CNY",
    }
    assert created["next_statuses"] == ["scheduled", "archived"]

    fetched = client.get(f"/api/v1/campaigns/{created['id']}", headers=brand.auth(Role.VIEWER))
    assert fetched.json()["name"] == "春季樱花投票"
    listed = client.get("/api/v1/campaigns", headers=brand.auth(Role.ANALYST)).json()
    assert [c["slug"] for c in listed["items"]] == ["spring-vote"]


def test_filters_and_cursor_pagination(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    for i in range(5):
        client.post(
            "/api/v1/campaigns",
            json=campaign_payload(
                slug=f"c{i}",
                name=f"Campaign {i}",
                objective="ugc" if i % 2 else "fission",
                channels=[{"channel": "wechat" if i < 2 else "douyin", "media": "owned"}],
            ),
            headers=auth,
        ).raise_for_status()
    ugc = client.get("/api/v1/campaigns?objective=ugc", headers=auth).json()["items"]
    assert sorted(c["slug"] for c in ugc) == ["c1", "c3"]
    wechat = client.get("/api/v1/campaigns?channel=wechat", headers=auth).json()["items"]
    assert sorted(c["slug"] for c in wechat) == ["c0", "c1"]
    found = client.get("/api/v1/campaigns?q=campaign 4", headers=auth).json()["items"]
    assert [c["slug"] for c in found] == ["c4"]

    seen: list[str] = []
    cursor = None
    while True:
        url = "/api/v1/campaigns?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth).json()
        seen += [c["slug"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["c4", "c3", "c2", "c1", "c0"]
    bad = client.get("/api/v1/campaigns?cursor=not-a-cursor", headers=auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "cursor"


def test_edit_and_duplicate(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.EDITOR)
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=auth).json()["id"]
    patched = client.patch(
        f"/api/v1/campaigns/{cid}",
        json={"name": "秋季投票", "channels": [{"channel": "wechat", "media": "owned"}]},
        headers=auth,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "秋季投票"
    assert [c["channel"] for c in patched.json()["channels"]] == ["wechat"]
    assert patched.json()["kpi_targets"][0]["metric"] == "participants"  # untouched

    copy = client.post(f"/api/v1/campaigns/{cid}/duplicate", json={}, headers=auth)
    assert copy.status_code == 201
    assert copy.json()["slug"] == "spring-vote-copy"
    assert copy.json()["status"] == "draft"
    assert copy.json()["channels"] == patched.json()["channels"]
    again = client.post(f"/api/v1/campaigns/{cid}/duplicate", json={}, headers=auth)
    assert again.json()["slug"] == "spring-vote-copy2"

    audit = _events(client, brand)
    update = next(e for e in audit if e["action"] == "campaign.update")
    assert update["before"]["name"] == "春季樱花投票"
    assert update["after"]["name"] == "秋季投票"
    assert update["actor_label"] == "token:editor token"


def test_status_machine(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    auth = brand.auth(Role.OWNER)
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=auth).json()["id"]

    def move(status: str) -> tuple[int, dict[str, object]]:
        r = client.post(
            f"/api/v1/campaigns/{cid}/transitions", json={"status": status}, headers=auth
        )
        return r.status_code, r.json()

    code, body = move("live")  # draft → live skips scheduling
    assert code == 409
    assert body["error"]["field"] == "status"
    assert move("scheduled")[0] == 200
    assert move("live")[0] == 200  # started early by hand
    code, body = move("paused")
    assert (code, body["status"]) == (200, "paused")
    assert move("live")[1]["status"] == "live"
    clock.advance(timedelta(hours=1))
    code, body = move("ended")
    assert (code, body["status"]) == (200, "ended")
    assert body["ends_at"].startswith("2026-03-02T03:00")  # ended now, not at the planned end
    assert move("live")[0] == 409
    edit = client.patch(f"/api/v1/campaigns/{cid}", json={"name": "x"}, headers=auth)
    assert edit.status_code == 409
    assert move("archived")[1]["status"] == "archived"
    assert _count(client, brand) == 1
    assert client.get("/api/v1/campaigns", headers=auth).json()["items"] == []


def test_schedule_needs_dates_in_the_future(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    no_dates = campaign_payload(slug="no-dates", starts_at=None, ends_at=None)
    cid = client.post("/api/v1/campaigns", json=no_dates, headers=auth).json()["id"]
    r = client.post(
        f"/api/v1/campaigns/{cid}/transitions", json={"status": "scheduled"}, headers=auth
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "starts_at"
    past = campaign_payload(slug="past", starts_at="2025-01-01T10:00", ends_at="2025-02-01T10:00")
    cid = client.post("/api/v1/campaigns", json=past, headers=auth).json()["id"]
    r = client.post(
        f"/api/v1/campaigns/{cid}/transitions", json={"status": "scheduled"}, headers=auth
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "ends_at"


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"ends_at": "2026-03-09T10:00:00"}, 422, "ends_at"),
        ({"timezone": "Mars/Olympus_Mons"}, 422, "timezone"),
        ({"name": "x" * 121}, 422, "name"),
        ({"name": "   "}, 422, "name"),
        ({"slug": "Not A Slug!"}, 422, "slug"),
        ({"objective": "world-domination"}, 422, "objective"),
        ({"starts_at": "next tuesday"}, 422, "starts_at"),
        (
            {"kpi_targets": [{"metric": "participants", "target_value": "many"}]},
            422,
            "kpi_targets.0.target_value",
        ),
        (
            {"kpi_targets": [{"metric": "participants", "target_value": -5}]},
            422,
            "kpi_targets.0.target_value",
        ),
        (
            {
                "channels": [
                    {"channel": "weibo", "media": "paid"},
                    {"channel": "weibo", "media": "owned"},
                ]
            },
            422,
            "channels.1.channel",
        ),
        ({"channels": [{"channel": "myspace", "media": "paid"}]}, 422, "channels.0.channel"),
        ({"unexpected": 1}, 422, "unexpected"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    client: TestClient, brand: Brand, overrides: dict[str, object], status: int, field: str
) -> None:
    response = client.post(
        "/api/v1/campaigns", json=campaign_payload(**overrides), headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"]
    assert _count(client, brand) == 0
    assert not any(e["action"].startswith("campaign.") for e in _events(client, brand))


def test_duplicate_slug_is_a_conflict(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    assert (
        client.post("/api/v1/campaigns", json=campaign_payload(), headers=auth).status_code == 201
    )
    again = client.post("/api/v1/campaigns", json=campaign_payload(name="other"), headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "slug"
    assert _count(client, brand) == 1


def test_malformed_json_and_wrong_types(client: TestClient, brand: Brand) -> None:
    auth = {**brand.auth(Role.OWNER), "Content-Type": "application/json"}
    broken = client.post("/api/v1/campaigns", content=b'{"name": "x",', headers=auth)
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "malformed_json"
    wrong = client.post("/api/v1/campaigns", json=["not", "an", "object"], headers=auth)
    assert wrong.status_code == 422
    assert _count(client, brand) == 0


def test_unknown_campaign_is_404_not_500(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    for method, url, body in [
        ("GET", "/api/v1/campaigns/999", None),
        ("PATCH", "/api/v1/campaigns/999", {"name": "x"}),
        ("POST", "/api/v1/campaigns/999/transitions", {"status": "scheduled"}),
        ("POST", "/api/v1/campaigns/999/duplicate", {}),
    ]:
        response = client.request(method, url, json=body, headers=auth)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/campaigns/abc", headers=auth).status_code == 422


def test_other_workspace_cannot_see_a_campaign(client: TestClient, brand: Brand, db, clock) -> None:
    from tests.conftest import make_brand

    other = make_brand(db, slug="rival", now=clock.now())
    cid = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.OWNER)
    ).json()["id"]
    assert client.get(f"/api/v1/campaigns/{cid}", headers=other.auth(Role.OWNER)).status_code == 404
    assert client.get("/api/v1/campaigns", headers=other.auth(Role.OWNER)).json()["items"] == []


def test_roles_without_the_right_are_refused(client: TestClient, brand: Brand) -> None:
    for role in (Role.VIEWER, Role.ANALYST):
        r = client.post("/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(role))
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
    assert _count(client, brand) == 0
    cid = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.EDITOR)
    ).json()["id"]
    r = client.post(
        f"/api/v1/campaigns/{cid}/transitions",
        json={"status": "scheduled"},
        headers=brand.auth(Role.ANALYST),
    )
    assert r.status_code == 403
    assert (
        client.get(f"/api/v1/campaigns/{cid}", headers=brand.auth(Role.OWNER)).json()["status"]
        == "draft"
    )


def test_idempotency_key_replays_the_first_answer(client: TestClient, brand: Brand) -> None:
    headers = {**brand.auth(Role.OWNER), "Idempotency-Key": "create-spring-vote-1"}
    first = client.post("/api/v1/campaigns", json=campaign_payload(), headers=headers)
    second = client.post("/api/v1/campaigns", json=campaign_payload(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _count(client, brand) == 1
    reused = client.post("/api/v1/campaigns", json=campaign_payload(slug="other"), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert _count(client, brand) == 1


def test_templates_are_listed(client: TestClient) -> None:
    keys = [t["key"] for t in client.get("/api/v1/campaigns/templates").json()]
    assert keys == ["launch_feedback", "charity_vote", "photo_challenge", "invite_coupon"]


def test_slugs_are_unique_across_workspaces(client: TestClient, brand: Brand, db, clock) -> None:
    """Public pages live at /c/<slug>, so two brands cannot share one."""
    from tests.conftest import make_brand

    other = make_brand(db, slug="rival", now=clock.now())
    assert (
        client.post(
            "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.OWNER)
        ).status_code
        == 201
    )
    taken = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=other.auth(Role.OWNER)
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["field"] == "slug"

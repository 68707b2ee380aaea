"""The response inbox: which mentions land in it, assignment, replies, the escalation ladder
moving items up on its own (ManualClock), and response times."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.listening.jobs import escalate_inbox_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand


def _post(client: TestClient, brand: Brand, clock: ManualClock) -> dict[str, dict[str, object]]:
    now = clock.now()
    client.put(
        "/api/v1/listening/settings",
        json={
            "vip_followers": 50_000,
            "inbox_keywords": ["召回"],
            "escalation_ladder": [
                {"name": "公开回复", "minutes": 30},
                {"name": "私信", "minutes": 120},
                {"name": "电话", "minutes": 240},
            ],
        },
        headers=brand.auth(Role.OWNER),
    ).raise_for_status()
    rows = [
        ("neg", "冰箱用了三天就坏了，太差了", 10),
        ("ask", "这款冰箱有没有静音模式？", 10),
        ("vip", "今天去看了新款冰箱", 80_000),
        ("rule", "听说要召回一批冰箱", 10),
        ("calm", "冰箱很好用", 10),
        ("old", "三年前的冰箱太差了", 10),
    ]
    mentions = [
        {
            "platform": "weibo",
            "post_id": key,
            "text": text,
            "author": key,
            "author_followers": followers,
            "posted_at": (now - timedelta(days=30 if key == "old" else 0)).isoformat(),
        }
        for key, text, followers in rows
    ]
    client.post("/api/v1/mentions", json={"mentions": mentions}, headers=brand.auth(Role.OWNER))
    items = client.get("/api/v1/inbox", headers=brand.auth(Role.VIEWER)).json()["items"]
    return {i["mention"]["post_id"]: i for i in items}


def test_what_lands_in_the_inbox(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    items = _post(client, brand, clock)
    assert set(items) == {"neg", "ask", "vip", "rule"}
    assert items["neg"]["reasons"] == ["negative"]
    assert items["ask"]["reasons"] == ["question"]
    assert (items["vip"]["reasons"], items["vip"]["priority"]) == (["vip"], "high")
    assert items["rule"]["reasons"] == ["keyword"]
    assert items["neg"]["escalation_step_name"] == "公开回复"


def test_assign_reply_and_metrics(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    items = _post(client, brand, clock)
    editor = brand.auth(Role.EDITOR)
    members = {
        m["email"]: m["user_id"]
        for m in client.get("/api/v1/users", headers=brand.auth(Role.OWNER)).json()
    }
    item_id = items["neg"]["id"]
    assigned = client.patch(
        f"/api/v1/inbox/{item_id}",
        json={"assignee_id": members["editor@acme.example.com"]},
        headers=editor,
    ).json()
    assert (assigned["status"], assigned["assignee_label"]) == ("in_progress", "Editor")
    bad = client.patch(
        f"/api/v1/inbox/{item_id}",
        json={"assignee_id": members["viewer@acme.example.com"]},
        headers=editor,
    )
    assert bad.status_code == 422

    client.post(
        "/api/v1/reply-templates",
        json={"name": "致歉", "body": "非常抱歉，请私信我们"},
        headers=editor,
    ).raise_for_status()
    clock.advance(timedelta(minutes=12))
    client.post(f"/api/v1/inbox/{item_id}/notes", json={"body": "先查订单"}, headers=editor)
    replied = client.post(
        f"/api/v1/inbox/{item_id}/notes",
        json={"body": "非常抱歉，请私信我们", "reply": True},
        headers=editor,
    ).json()
    assert replied["status"] == "replied"
    assert [n["kind"] for n in replied["notes"]] == ["note", "reply"]
    clock.advance(timedelta(minutes=48))
    client.patch(f"/api/v1/inbox/{item_id}", json={"status": "closed"}, headers=editor)

    metrics = client.get("/api/v1/inbox/metrics", params={"by": "person"}, headers=editor).json()
    mine = next(m for m in metrics if m["key"] == "Editor")
    assert mine["median_first_response_minutes"] == 12
    assert mine["median_resolution_minutes"] == 60


def test_ladder_escalates_by_itself_when_a_step_times_out(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    items = _post(client, brand, clock)
    item_id = items["neg"]["id"]
    answered = items["ask"]["id"]
    client.post(
        f"/api/v1/inbox/{answered}/notes",
        json={"body": "有的，在设置里", "reply": True},
        headers=brand.auth(Role.EDITOR),
    ).raise_for_status()
    clock.advance(timedelta(minutes=29))
    assert escalate_inbox_job(db, clock) == []
    clock.advance(timedelta(minutes=1))
    escalated = escalate_inbox_job(db, clock)
    assert item_id in escalated
    assert answered not in escalated  # an answered item's clock stops
    assert escalate_inbox_job(db, clock) == []  # idempotent
    item = client.get(f"/api/v1/inbox/{item_id}", headers=brand.auth(Role.VIEWER)).json()
    assert (item["status"], item["escalation_step_name"]) == ("escalated", "私信")
    assert item["notes"][-1]["body"] == "Escalated to step 2: 私信"
    clock.advance(timedelta(minutes=120))
    escalate_inbox_job(db, clock)
    clock.advance(timedelta(minutes=240))
    escalate_inbox_job(db, clock)
    item = client.get(f"/api/v1/inbox/{item_id}", headers=brand.auth(Role.VIEWER)).json()
    assert (item["escalation_step_name"], item["priority"]) == ("电话", "urgent")

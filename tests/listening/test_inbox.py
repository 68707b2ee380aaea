"""The response inbox: which mentions land in it, assignment, replies, the escalation ladder
moving items up on its own (ManualClock), and response times."""

from __future__ import annotations

from datetime import timedelta
from statistics import median

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
    items = client.get("/api/v1/inbox", headers=brand.auth(Role.ANALYST)).json()["items"]
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
    item = client.get(f"/api/v1/inbox/{item_id}", headers=brand.auth(Role.ANALYST)).json()
    assert (item["status"], item["escalation_step_name"]) == ("escalated", "私信")
    assert item["notes"][-1]["body"] == "Escalated to step 2: 私信"
    clock.advance(timedelta(minutes=120))
    escalate_inbox_job(db, clock)
    clock.advance(timedelta(minutes=240))
    escalate_inbox_job(db, clock)
    item = client.get(f"/api/v1/inbox/{item_id}", headers=brand.auth(Role.ANALYST)).json()
    assert (item["escalation_step_name"], item["priority"]) == ("电话", "urgent")


def test_response_times_per_topic(client: TestClient, brand: Brand, clock: ManualClock) -> None:
    # Given two topics and four complaints, one of them about both products
    editor = brand.auth(Role.EDITOR)
    for name in ("冰箱", "洗衣机"):
        client.post(
            "/api/v1/topics", json={"name": name, "query": name}, headers=editor
        ).raise_for_status()
    texts = {
        "f1": "冰箱太差了",
        "f2": "冰箱质量差",
        "both": "冰箱和洗衣机都很差",
        "w1": "洗衣机太差了",
    }
    topics_of = {"f1": {"冰箱"}, "f2": {"冰箱"}, "both": {"冰箱", "洗衣机"}, "w1": {"洗衣机"}}
    client.post(
        "/api/v1/mentions",
        json={
            "mentions": [
                {"platform": "weibo", "post_id": k, "text": t, "posted_at": clock.now().isoformat()}
                for k, t in texts.items()
            ]
        },
        headers=editor,
    ).raise_for_status()
    items = {
        i["mention"]["post_id"]: i["id"]
        for i in client.get("/api/v1/inbox", headers=editor).json()["items"]
    }
    assert set(items) == set(texts)
    # When the team replies and closes at these minutes after the complaints arrived (f2 waits)
    schedule = [(10, "f1", "reply"), (25, "both", "reply"), (40, "f1", "close")]
    schedule += [(90, "w1", "reply"), (95, "w1", "close"), (100, "both", "close")]
    elapsed = 0
    for minute, key, action in schedule:
        clock.advance(timedelta(minutes=minute - elapsed))
        elapsed = minute
        if action == "reply":
            r = client.post(
                f"/api/v1/inbox/{items[key]}/notes",
                json={"body": "抱歉，已私信您", "reply": True},
                headers=editor,
            )
        else:
            r = client.patch(
                f"/api/v1/inbox/{items[key]}", json={"status": "closed"}, headers=editor
            )
        r.raise_for_status()

    # Then each topic's medians are those of its own items' first reply and closing times
    first_reply = {
        k: min(m for m, kk, a in schedule if kk == k and a == "reply") for k in ("f1", "both", "w1")
    }
    closed = {k: m for m, k, a in schedule if a == "close"}
    metrics = client.get(
        "/api/v1/inbox/metrics", params={"by": "topic"}, headers=brand.auth(Role.ANALYST)
    ).json()
    assert [m["key"] for m in metrics] == sorted(["冰箱", "洗衣机"])
    for row in metrics:
        mine = [k for k in texts if row["key"] in topics_of[k]]
        answered = [first_reply[k] for k in mine if k in first_reply]
        resolved = [closed[k] for k in mine if k in closed]
        assert row == {
            "key": row["key"],
            "items": len(mine),
            "responded": len(answered),
            "resolved": len(resolved),
            "median_first_response_minutes": median(answered),
            "median_resolution_minutes": median(resolved),
        }
    by_topic = {m["key"]: m for m in metrics}
    # Written out for the reader: 冰箱 = f1, f2, both; 洗衣机 = both, w1
    assert by_topic["冰箱"]["median_first_response_minutes"] == 17.5  # (10 + 25) / 2
    assert by_topic["冰箱"]["median_resolution_minutes"] == 70  # (40 + 100) / 2
    assert by_topic["洗衣机"]["median_first_response_minutes"] == 57.5  # (25 + 90) / 2
    assert by_topic["洗衣机"]["median_resolution_minutes"] == 97.5  # (100 + 95) / 2

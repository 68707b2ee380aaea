"""The listening console: every page renders for an analyst, an editor's forms write, an
analyst's posts are refused, and bad input comes back as inline errors with nothing stored."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.listening.jobs import detect_spikes_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import csrf, login
from tests.test_console import form_token

BASE = "/console/w/acme/listening"


def _seed(client: TestClient, brand: Brand, clock: ManualClock, db: Database) -> dict[str, int]:
    """Two topics (brand, competitor), a calm baseline then a burst of complaints, the alert it
    raises, a reply template; returns ids the tests use."""
    owner = brand.auth(Role.OWNER)
    for name, query, kind in (("海尔", "海尔 OR Haier", "brand"), ("美的", "美的", "competitor")):
        client.post(
            "/api/v1/topics", json={"name": name, "query": query, "kind": kind}, headers=owner
        ).raise_for_status()
    now = clock.now()
    mentions = [
        {
            "platform": "weibo",
            "post_id": f"calm-{i}",
            "text": "海尔冰箱很好用" if i % 2 else "美的空调还行",
            "author": f"user{i}",
            "posted_at": (now - timedelta(hours=2 + i % 10, minutes=i)).isoformat(),
        }
        for i in range(20)
    ] + [
        {
            "platform": "weibo",
            "post_id": f"burst-{i}",
            "text": f"海尔冰箱爆炸了，太差了 #{i}",
            "author": f"angry{i}",
            "author_followers": 1000 * i,
            "posted_at": (now - timedelta(minutes=1 + i)).isoformat(),
        }
        for i in range(30)
    ]
    client.post("/api/v1/mentions", json={"mentions": mentions}, headers=owner).raise_for_status()
    assert detect_spikes_job(db, clock)
    client.post(
        "/api/v1/reply-templates",
        json={"name": "致歉", "body": "非常抱歉给您带来不便，我们已私信您。"},
        headers=owner,
    ).raise_for_status()
    items = client.get("/api/v1/inbox", headers=owner).json()["items"]
    topics = {t["name"]: t["id"] for t in client.get("/api/v1/topics", headers=owner).json()}
    alerts = client.get("/api/v1/alerts", headers=owner).json()
    return {
        "item": items[0]["id"],
        "mention": items[0]["mention"]["id"],
        "topic": topics["海尔"],
        "alert": alerts[0]["id"],
    }


def _post(client: TestClient, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Submit like a browser: with the CSRF token of the form on `page` that posts to `action`."""
    token = form_token(client, page, action)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)


def test_every_page_renders_for_an_analyst(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    ids = _seed(client, brand, clock, db)
    report = client.post(
        "/api/v1/mentions/imports",
        files={"file": ("x.csv", b"platform,post_id,text,posted_at\nweibo,a1,,2026-03-02\n")},
        data={"mapping": "im2"},
        headers=brand.auth(Role.EDITOR),
    ).json()
    assert login(client, brand.emails[Role.ANALYST]) == 303
    pages = {
        BASE: ["舆情监听", "声量与情感走势", 'id="sentiment-timeline"', "声量份额", "负面情绪激增"],
        f"{BASE}?range=30d&topic={ids['topic']}": ["按天"],
        f"{BASE}/import": ["最近的导入", "x.csv"],
        # Imported through the API (English), the report reads in the console's Chinese.
        f"{BASE}/imports/{report['id']}": ["导入报告", "正文为空", "行号"],
        f"{BASE}/mentions?sentiment=negative&platform=weibo&q=爆炸": ["爆炸了", "负面"],
        f"{BASE}/mentions?topic={ids['topic']}&language=zh": ["海尔冰箱"],
        f"{BASE}/topics": ["海尔 OR Haier", "本品牌", "竞品"],
        f"{BASE}/alerts": ["热词", "代表性帖子", "粉丝最多的作者", "危机预案"],
        f"{BASE}/inbox": ["工单收件箱", "公开回复", "响应时长"],
        f"{BASE}/inbox?status=new&priority=normal": ["爆炸了"],
        f"{BASE}/inbox/{ids['item']}": ["升级流程", "回复时限", "备注与回复"],
        f"{BASE}/reply-templates": ["致歉"],
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        for text in expected:
            assert text in response.text, (url, text)
        # An analyst reads everything and is offered no form that would change anything.
        assert not re.search(r'<form method="post"[^>]*listening', response.text), url
    assert 'href="/console/w/acme/listening"' in client.get("/console/w/acme/campaigns").text
    for url in (f"{BASE}/topics/new", f"{BASE}/topics/{ids['topic']}/edit", f"{BASE}/settings"):
        assert client.get(url).status_code == 403, url
    assert client.get(f"{BASE}?range=forever").status_code == 422
    assert client.get(f"{BASE}/inbox/999999").status_code == 404


def test_analyst_posts_are_refused(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    ids = _seed(client, brand, clock, db)
    assert login(client, brand.emails[Role.ANALYST]) == 303
    token = csrf(client, BASE)
    posts: dict[str, dict[str, str]] = {
        f"{BASE}/topics": {"name": "x", "query": "x", "kind": "brand"},
        f"{BASE}/topics/{ids['topic']}/edit": {"name": "x", "query": "x", "kind": "brand"},
        f"{BASE}/topics/{ids['topic']}/delete": {},
        f"{BASE}/mentions/{ids['mention']}/sentiment": {"sentiment": "positive"},
        f"{BASE}/alerts/{ids['alert']}/acknowledge": {},
        f"{BASE}/settings": {"crisis_steps": "x"},
        f"{BASE}/inbox/{ids['item']}": {"status": "closed"},
        f"{BASE}/inbox/{ids['item']}/notes": {"body": "x", "kind": "note"},
        f"{BASE}/reply-templates": {"name": "x", "body": "x"},
    }
    for url, data in posts.items():
        response = client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)
        assert response.status_code == 403, url
    upload = client.post(
        f"{BASE}/import",
        data={"csrf_token": token, "mapping": "im2"},
        files={"file": ("x.csv", b"platform,post_id,text\nweibo,z,hi\n", "text/csv")},
        follow_redirects=False,
    )
    assert upload.status_code == 403
    owner = brand.auth(Role.OWNER)
    assert len(client.get("/api/v1/topics", headers=owner).json()) == 2
    assert client.get(f"/api/v1/inbox/{ids['item']}", headers=owner).json()["notes"] == []
    assert (
        client.get(f"/api/v1/alerts/{ids['alert']}", headers=owner).json()["acknowledged_at"]
        is None
    )
    assert client.get("/api/v1/listening/settings", headers=owner).json()["crisis_steps"] == []


def test_an_editor_works_through_every_form(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    ids = _seed(client, brand, clock, db)
    owner = brand.auth(Role.OWNER)
    assert login(client, brand.emails[Role.EDITOR]) == 303

    body = (
        "platform,post_id,text,author,posted_at\n"
        "weibo,f1,海尔洗衣机真好,阿明,2026-03-02 01:10:00\n"
        "weibo,f2,,阿强,2026-03-02 01:11:00\n"
        "weibo,f1,海尔洗衣机真好,阿明,2026-03-02 01:10:00\n"
    ).encode("gbk")
    token = form_token(client, f"{BASE}/import", f"{BASE}/import")
    response = client.post(
        f"{BASE}/import",
        data={"csrf_token": token, "mapping": "im2", "file_format": ""},
        files={"file": ("品牌.csv", body, "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    report = client.get(response.headers["location"]).text
    assert "品牌.csv" in report
    assert re.search(r"data-imported>1<", report)
    assert "正文为空" in report

    action = f"{BASE}/topics"
    response = _post(client, f"{BASE}/topics/new", action, {
        "name": "格力", "query": "格力 OR Gree", "kind": "competitor",
        "sensitivity": "high", "cooldown_minutes": "60", "alerts_enabled": "on",
    })  # fmt: skip
    assert response.status_code == 303
    edit = f"{BASE}/topics/{ids['topic']}/edit"
    response = _post(client, edit, edit, {
        "name": "海尔品牌", "query": "海尔", "kind": "brand", "sensitivity": "low",
        "cooldown_minutes": "30",
    })  # fmt: skip
    assert response.status_code == 303
    topics = {t["name"]: t for t in client.get("/api/v1/topics", headers=owner).json()}
    assert topics["格力"]["kind"] == "competitor"
    assert topics["海尔品牌"]["alerts_enabled"] is False

    action = f"{BASE}/mentions/{ids['mention']}/sentiment"
    response = _post(client, f"{BASE}/mentions", action, {"sentiment": "neutral", "back": "?q=x"})
    assert response.headers["location"] == f"{BASE}/mentions?q=x"
    mentions = client.get("/api/v1/mentions?sentiment=neutral", headers=owner).json()["items"]
    assert ids["mention"] in [m["id"] for m in mentions]

    action = f"{BASE}/alerts/{ids['alert']}/acknowledge"
    assert _post(client, f"{BASE}/alerts", action, {}).status_code == 303
    assert client.get(f"/api/v1/alerts/{ids['alert']}", headers=owner).json()["acknowledged_at"]

    response = _post(client, f"{BASE}/settings", f"{BASE}/settings", {
        "crisis_steps": "通知公关负责人\n发布致歉声明",
        "crisis_contacts": "王经理 | 公关总监 | 13800000000 | wang@example.com",
        "alert_emails": "pr@example.com", "smtp_port": "25", "vip_followers": "50000",
        "ladder_name_0": "公开回复", "ladder_minutes_0": "30",
        "ladder_name_1": "私信", "ladder_minutes_1": "60",
    })  # fmt: skip
    assert response.status_code == 303
    settings = client.get("/api/v1/listening/settings", headers=owner).json()
    assert settings["crisis_contacts"][0]["role"] == "公关总监"
    assert [s["minutes"] for s in settings["escalation_ladder"]] == [30, 60]
    assert "王经理 | 公关总监" in client.get(f"{BASE}/settings?saved=true").text

    members = client.get(f"{BASE}/inbox/{ids['item']}").text
    editor_id = re.search(r'<option value="(\d+)"[^>]*>Editor<', members)
    assert editor_id
    item_url = f"{BASE}/inbox/{ids['item']}"
    response = _post(client, item_url, item_url, {
        "assignee_id": editor_id.group(1), "status": "new", "was_status": "new",
        "priority": "high",
    })  # fmt: skip
    assert response.status_code == 303
    item = client.get(f"/api/v1/inbox/{ids['item']}", headers=owner).json()
    assert (item["assignee_label"], item["status"], item["priority"]) == (
        "Editor",
        "in_progress",
        "high",
    )
    page = client.get(f"{item_url}?template=").text
    template_id = re.search(r'<option value="(\d+)"[^>]*>致歉<', page)
    assert template_id
    assert "我们已私信您" in client.get(f"{item_url}?template={template_id.group(1)}").text
    notes = f"{item_url}/notes"
    assert _post(client, item_url, notes, {"body": "先核实批次", "kind": "note"}).status_code == 303
    assert _post(client, item_url, notes, {"body": "已私信您", "kind": "reply"}).status_code == 303
    item = client.get(f"/api/v1/inbox/{ids['item']}", headers=owner).json()
    assert [n["kind"] for n in item["notes"]] == ["note", "reply"]
    assert item["status"] == "replied"
    person = re.search(
        r'<table class="stack" data-by="person">.*?</table>', client.get(f"{BASE}/inbox").text, re.S
    )
    assert person
    assert re.search(r">Editor</td>\s*<td[^>]*>1</td>\s*<td[^>]*>0 分钟</td>", person.group(0))

    templates = f"{BASE}/reply-templates"
    response = _post(client, templates, templates, {"name": "感谢", "body": "谢谢支持！"})
    assert response.status_code == 303
    delete = f"{templates}/{template_id.group(1)}/delete"
    assert _post(client, templates, delete, {}).status_code == 303
    names = [t["name"] for t in client.get("/api/v1/reply-templates", headers=owner).json()]
    assert names == ["感谢"]

    delete = f"{BASE}/topics/{topics['格力']['id']}/delete"
    assert (
        _post(client, f"{BASE}/topics/{topics['格力']['id']}/edit", delete, {}).status_code == 303
    )
    assert "格力" not in [t["name"] for t in client.get("/api/v1/topics", headers=owner).json()]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "坏查询", "query": "(海尔 OR 美的", "kind": "brand"}, "query", "第 1 个字符处：括号未闭合。"),
        ({"name": "坏查询", "query": "海尔 AND", "kind": "brand"}, "query", "第 7 个字符处：查询在应有搜索词的地方结束了。"),
        ({"name": "", "query": "海尔", "kind": "brand"}, "name", "此项为必填"),
        ({"name": "x", "query": "海尔", "kind": "brand", "cooldown_minutes": "abc"}, "cooldown_minutes", ""),
        ({"name": "海尔", "query": "海尔", "kind": "brand"}, "name", "已有同名的话题"),
    ],
)  # fmt: skip
def test_bad_topics_show_inline_errors(
    client: TestClient,
    brand: Brand,
    clock: ManualClock,
    db: Database,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    _seed(client, brand, clock, db)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    response = _post(client, f"{BASE}/topics/new", f"{BASE}/topics", data)
    assert response.status_code in (409, 422)
    text = response.text
    assert f'id="{field}-error"' in text, re.findall(r'class="alert"[^>]*>([^<]*)', text)
    assert message in text
    assert data["query"] in text  # what was typed is kept
    assert len(client.get("/api/v1/topics", headers=brand.auth(Role.OWNER)).json()) == 2


def test_other_bad_input_shows_inline_errors_and_writes_nothing(
    client: TestClient, brand: Brand, clock: ManualClock, db: Database
) -> None:
    ids = _seed(client, brand, clock, db)
    owner = brand.auth(Role.OWNER)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    imports_before = client.get(f"{BASE}/import").text.count("/imports/")

    for files, expected in (
        ({"file": ("x.csv", b"id,\xe5\x86\x85\xe5\xae\xb9\n1,a\n", "text/csv")}, "posted_at"),
        ({"file": ("x.csv", b"", "text/csv")}, "文件为空"),
        ({"file": ("x.json", b"{not json", "application/json")}, "不是有效的 JSON"),
        ({}, "请选择要导入的文件"),
    ):
        token = form_token(client, f"{BASE}/import", f"{BASE}/import")
        response = client.post(
            f"{BASE}/import",
            data={"csrf_token": token, "mapping": "weibo"},
            files=files or None,
            follow_redirects=False,
        )
        assert response.status_code == 422, expected
        assert 'id="file-error"' in response.text
        assert expected in response.text
        assert "文件未导入" in response.text
    token = form_token(client, f"{BASE}/import", f"{BASE}/import")
    response = client.post(
        f"{BASE}/import",
        data={"csrf_token": token, "mapping": "no-such-mapping"},
        files={"file": ("x.csv", b"text\nhi\n", "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert 'id="mapping-error"' in response.text
    assert client.get(f"{BASE}/import").text.count("/imports/") == imports_before

    response = _post(client, f"{BASE}/settings", f"{BASE}/settings", {
        "webhook_url": "ftp://x", "alert_emails": "not an address", "vip_followers": "-5",
        "crisis_contacts": "a | b | c | d | e", "ladder_name_0": "", "ladder_minutes_0": "",
    })  # fmt: skip
    assert response.status_code == 422
    for field in ("webhook_url", "alert_emails", "vip_followers", "crisis_contacts"):
        assert f'id="{field}-error"' in response.text, field
    assert "ftp://x" in response.text
    settings = client.get("/api/v1/listening/settings", headers=owner).json()
    assert settings["webhook_url"] is None
    assert len(settings["escalation_ladder"]) == 3

    item_url = f"{BASE}/inbox/{ids['item']}"
    response = _post(client, item_url, f"{item_url}/notes", {"body": "  ", "kind": "note"})
    assert response.status_code == 422
    assert 'id="body-error"' in response.text
    response = _post(client, item_url, item_url, {"assignee_id": "999999", "status": "new"})
    assert response.status_code == 422
    assert 'id="assignee_id-error"' in response.text
    item = client.get(f"/api/v1/inbox/{ids['item']}", headers=owner).json()
    assert item["notes"] == []
    assert item["assignee_id"] is None

    templates = f"{BASE}/reply-templates"
    response = _post(client, templates, templates, {"name": "", "body": ""})
    assert response.status_code == 422
    assert 'id="name-error"' in response.text
    assert 'id="body-error"' in response.text
    response = _post(client, templates, templates, {"name": "致歉", "body": "重复"})
    assert response.status_code == 409
    assert "已有同名的回复模板" in response.text
    assert len(client.get("/api/v1/reply-templates", headers=owner).json()) == 1

    action = f"{BASE}/mentions/{ids['mention']}/sentiment"
    assert _post(client, f"{BASE}/mentions", action, {"sentiment": "angry"}).status_code == 422

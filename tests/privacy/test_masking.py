"""Masking by role: analysts (no people:read) get phones, e-mails, IPs and nicknames masked in
what they download (viewers download nothing); owners and editors get them whole; every download of
participants' rows is in the audit log with who, which file and how many rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from im2.db import Database
from im2.masking import mask_email, mask_ip, mask_name, mask_phone, mask_rows
from im2.workspaces.schemas import Role
from tests.activities.test_qa import ask_url, make_qa
from tests.conftest import PASSWORD, Brand
from tests.test_auth import csrf


def test_each_kind_of_field_is_masked_as_the_issue_shows() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("+8613812341234") == "+86****1234"
    assert mask_phone("12345") == "****"
    assert mask_email("lin@example.com") == "l***@example.com"
    assert mask_email("not-an-address") == "***"
    assert mask_ip("10.1.2.3") == "10.1.*.*"
    assert mask_ip("2001:db8::1") == "2001:db8:*"
    assert mask_ip("garbage") == "*"
    assert mask_name("王小明") == "王*明"
    assert mask_name("Lily") == "L**y"
    assert mask_name("小林") == "小*"
    rows = list(
        mask_rows([{"participant_id": 7, "nickname": "王小明", "first_ip": "10.1.2.3", "votes": 3}])
    )
    assert rows == [{"participant_id": 7, "nickname": "王*明", "first_ip": "10.1.*.*", "votes": 3}]


@pytest.fixture
def consoles(app: FastAPI, brand: Brand) -> Iterator[dict[Role, TestClient]]:
    """One signed-in browser per role."""
    clients: dict[Role, TestClient] = {}
    for role in Role:
        c = TestClient(app)
        c.__enter__()
        signed_in = c.post(
            "/console/login",
            data={"email": brand.emails[role], "password": PASSWORD, "csrf_token": csrf(c)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        clients[role] = c
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


def test_exports_mask_by_role_and_are_audited(
    client: TestClient, brand: Brand, db: Database, consoles: dict[Role, TestClient]
) -> None:
    slug, _campaign_id, qa = make_qa(client, brand)
    asked = TestClient(client.app).post(
        ask_url(slug, qa), json={"text": "有燕麦奶吗？", "nickname": "王小明", "consent": True}
    )
    assert asked.status_code == 201, asked.text

    seen: dict[Role, str] = {}
    for role, browser in consoles.items():
        response = browser.get(f"/console/w/{brand.slug}/qa/{qa}/export.csv")
        if role is Role.VIEWER:  # downloads are not a viewer's at all
            assert response.status_code == 403
            continue
        assert response.status_code == 200, (role, response.status_code)
        rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
        assert [r["question"] for r in rows] == ["有燕麦奶吗？"]  # what was asked stays
        seen[role] = rows[0]["nickname"]
    assert seen == {
        Role.OWNER: "王小明",
        Role.EDITOR: "王小明",
        Role.ANALYST: "王*明",
    }

    with db.engine.connect() as conn:
        entries = conn.execute(
            text(
                "SELECT actor_label, target_type, target_id, summary FROM audit_entries "
                "WHERE action = 'export.download' ORDER BY id"
            )
        ).all()
    labels = [e[0] for e in entries]
    assert len(entries) == 3
    for role in (Role.OWNER, Role.EDITOR, Role.ANALYST):
        assert any(brand.emails[role] in label or role.value.title() in label for label in labels)
    assert {(e[1], e[2]) for e in entries} == {("qa", qa)}
    summaries = sorted(e[3] for e in entries)
    assert summaries == sorted(
        [f"qa-{qa}-questions.csv: 1 rows"] * 2
        + [f"qa-{qa}-questions.csv: 1 rows, personal fields masked"]
    )

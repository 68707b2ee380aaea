"""The people console pages (用户): the list, a profile with tags and merge undo, the import
with its mapping step, and who may see them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import csrf, login
from tests.test_polls import live_campaign, vote_url


def _token(html: str, action: str) -> str:
    form = re.search(
        rf'action="{re.escape(action)}".*?name="csrf_token" value="([^"]+)"', html, re.S
    )
    assert form, html[:2000]
    return form.group(1)


def test_list_profile_tags_and_undo(client: TestClient, brand: Brand) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    auth = brand.auth(Role.EDITOR)
    client.post(
        "/api/v1/people/imports",
        files={"file": ("c.csv", "会员号,手机\nC-1,13800138000\n".encode())},
        headers=auth,
    )
    people = client.get("/api/v1/people", headers=auth).json()["items"]
    voter = next(p["id"] for p in people if "participant" in p["identities"])
    crm = next(p["id"] for p in people if p["id"] != voter)
    merged = client.post(f"/api/v1/people/{crm}/merge", json={"into": voter}, headers=auth)
    assert merged.status_code == 201

    login(client, brand.emails[Role.EDITOR])
    listing = client.get("/console/w/acme/people")
    assert listing.status_code == 200
    assert "<h1>用户</h1>" in listing.text
    assert f'href="/console/w/acme/people/{voter}"' in listing.text
    assert "导出 Excel" in listing.text
    assert 'aria-current="page">用户</a>' in listing.text
    searched = client.get("/console/w/acme/people", params={"q": "C-1"})
    assert f'href="/console/w/acme/people/{voter}"' in searched.text  # merged into the voter
    bad = client.get("/console/w/acme/people", params={"attribute": "city"})
    assert bad.status_code == 422
    assert "名称=值" in bad.text

    profile = client.get(f"/console/w/acme/people/{voter}")
    assert profile.status_code == 200
    assert "用户画像" in profile.text
    assert "138****8000" in profile.text
    assert "13800138000" not in profile.text
    assert "跨活动时间线" in profile.text
    assert "投了票" in profile.text or "投票" in profile.text
    base = f"/console/w/acme/people/{voter}"
    added = client.post(
        f"{base}/tags",
        data={"tag": "门店会员", "csrf_token": _token(profile.text, f"{base}/tags")},
        follow_redirects=False,
    )
    assert added.status_code == 303
    profile = client.get(base)
    assert '<span class="chip">门店会员' in profile.text
    removed = client.post(
        f"{base}/tags/remove",
        data={"tag": "门店会员", "csrf_token": _token(profile.text, f"{base}/tags/remove")},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    profile = client.get(base)
    assert '<span class="chip">门店会员' not in profile.text
    assert "撤销合并" in profile.text
    merge_id = client.get(f"/api/v1/people/{voter}", headers=auth).json()["merges"][0]["id"]
    undo = f"/console/w/acme/people/merges/{merge_id}/undo"
    undone = client.post(
        undo, data={"csrf_token": _token(profile.text, undo)}, follow_redirects=False
    )
    assert undone.status_code == 303
    assert undone.headers["location"] == f"/console/w/acme/people/{crm}"
    assert len(client.get("/api/v1/people", headers=auth).json()["items"]) == 2


def test_import_with_the_mapping_step(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.EDITOR])
    page = client.get("/console/w/acme/people/import")
    assert page.status_code == 200
    token = csrf(client, "/console/w/acme/people/import")
    preview = client.post(
        "/console/w/acme/people/import",
        data={"csrf_token": token},
        files={"file": ("crm.csv", "编号,电话,等级\nC-7,13800138000,金卡\n".encode())},
    )
    assert preview.status_code == 200, preview.text[:500]
    assert "选择每一列的内容" in preview.text
    assert "金卡" in preview.text  # the preview rows
    held = re.search(r'name="token" value="([0-9a-f]{64})"', preview.text)
    assert held
    form = {
        "csrf_token": _token(preview.text, "/console/w/acme/people/import"),
        "token": held.group(1),
        "filename": "crm.csv",
        "mapped": "1",
        "action": "apply",
    }
    # 编号 is not a known header: the user says it is the CRM id.
    fields = {"column": ["编号", "电话", "等级"], "target": ["crm", "phone", "attribute"]}
    done = client.post("/console/w/acme/people/import", data={**form, **fields})
    assert done.status_code == 200, done.text[:500]
    assert "已导入" in done.text
    [person] = client.get(
        "/api/v1/people", params={"q": "C-7"}, headers=brand.auth(Role.EDITOR)
    ).json()["items"]
    detail = client.get(f"/api/v1/people/{person['id']}", headers=brand.auth(Role.EDITOR))
    assert detail.json()["attributes"] == {"等级": "金卡"}
    # The held file is gone once imported.
    again = client.post(
        "/console/w/acme/people/import",
        data={**form, "csrf_token": csrf(client, "/console/w/acme/people/import"), **fields},
    )
    assert again.status_code == 422
    assert "请选择 CSV 或 Excel 文件" in again.text


def test_row_errors_on_the_page(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.EDITOR])
    token = csrf(client, "/console/w/acme/people/import")
    checked = client.post(
        "/console/w/acme/people/import",
        data={"csrf_token": token},
        files={"file": ("crm.csv", b"crm,phone\nC-1,12ab\n")},
    )
    form = {
        "csrf_token": _token(checked.text, "/console/w/acme/people/import"),
        "token": re.search(r'name="token" value="([0-9a-f]{64})"', checked.text).group(1),
        "mapped": "1",
        "action": "apply",
    }
    fields = {"column": ["crm", "phone"], "target": ["crm", "phone"]}
    refused = client.post("/console/w/acme/people/import", data={**form, **fields})
    assert refused.status_code == 422
    assert "没有导入任何数据" in refused.text
    assert "“12ab”不是手机号" in refused.text
    assert client.get("/api/v1/people", headers=brand.auth(Role.EDITOR)).json()["items"] == []


def test_analysts_and_viewers_do_not_see_people(client: TestClient, brand: Brand) -> None:
    for role in (Role.ANALYST, Role.VIEWER):
        login(client, brand.emails[role])
        assert client.get("/console/w/acme/people").status_code == 403
        assert 'href="/console/w/acme/people"' not in client.get("/console/w/acme/campaigns").text

"""Saved column mappings: saved through the API or the import page, listed with the ready
ones, used by an import of a file whose columns no ready mapping knows, replaced, deleted,
and refused with a clear message when they could not work."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_console import form_token

BASE = "/console/w/acme/listening"
# An export from a monitoring tool nobody ships a mapping for: naive Beijing times.
EXPORT = (
    "编号,舆情内容,发帖人,发帖时间,点赞\n"
    "a1,海尔冰箱门关不上,小王,2026-03-01 09:30:00,12\n"
    "a2,海尔冰箱很安静,小李,2026-03-01 10:00:00,3\n"
).encode()
SPEC = {
    "name": "舆情通导出",
    "platform": "weibo",
    "columns": {
        "post_id": ["编号"],
        "text": ["舆情内容", "内容"],
        "author": ["发帖人"],
        "posted_at": ["发帖时间"],
        "likes": ["点赞"],
    },
    "required": ["text", "post_id", "posted_at"],
    "timezone": "Asia/Shanghai",
}


def test_save_list_use_replace_and_delete_through_the_api(client: TestClient, brand: Brand) -> None:
    editor = brand.auth(Role.EDITOR)
    # Given a mapping saved for the export
    saved = client.post("/api/v1/listening/mappings", json=SPEC, headers=editor)
    assert saved.status_code == 201, saved.text
    assert saved.json() == {
        **SPEC,
        "title": "舆情通导出",
        "preset": False,
        "required": sorted(SPEC["required"]),  # type: ignore[arg-type]
    }
    # Then it is listed after the ready mappings
    listed = client.get("/api/v1/listening/mappings", headers=brand.auth(Role.ANALYST)).json()
    assert listed[-1]["name"] == "舆情通导出"
    assert {m["name"] for m in listed if m["preset"]} >= {"weibo", "twitter", "im2"}

    # When a file with those columns is imported with it
    report = client.post(
        "/api/v1/mentions/imports",
        files={"file": ("export.csv", EXPORT)},
        data={"mapping": "舆情通导出"},
        headers=editor,
    )
    assert report.status_code == 201, report.text
    assert (report.json()["imported"], report.json()["mapping"]) == (2, "舆情通导出")
    # Then the columns land in the right fields, the times read in Beijing time
    items = client.get("/api/v1/mentions", headers=editor).json()["items"]
    first = next(m for m in items if m["post_id"] == "a1")
    assert (first["platform"], first["author"], first["likes"]) == ("weibo", "小王", 12)
    assert first["text"] == "海尔冰箱门关不上"
    assert first["posted_at"].startswith("2026-03-01T01:30:00")

    # A mapping saved again under the same name replaces it
    changed = {**SPEC, "columns": {**SPEC["columns"], "likes": ["赞"]}}  # type: ignore[dict-item]
    assert client.post("/api/v1/listening/mappings", json=changed, headers=editor).status_code == (
        201
    )
    again = client.get("/api/v1/listening/mappings", headers=editor).json()
    assert [m["columns"]["likes"] for m in again if m["name"] == "舆情通导出"] == [["赞"]]

    # And deleting it leaves only the ready mappings; an import can no longer name it
    path = f"/api/v1/listening/mappings/{quote('舆情通导出')}"
    assert client.delete(path, headers=brand.auth(Role.ANALYST)).status_code == 403
    assert client.delete(path, headers=editor).status_code == 204
    assert client.delete(path, headers=editor).status_code == 404
    assert all(m["preset"] for m in client.get("/api/v1/listening/mappings", headers=editor).json())
    refused = client.post(
        "/api/v1/mentions/imports",
        files={"file": ("export.csv", EXPORT)},
        data={"mapping": "舆情通导出"},
        headers=editor,
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "mapping"


def test_mappings_that_could_not_work_are_refused(client: TestClient, brand: Brand) -> None:
    editor = brand.auth(Role.EDITOR)

    def save(**changes: object) -> tuple[int, str | None]:
        r = client.post("/api/v1/listening/mappings", json={**SPEC, **changes}, headers=editor)
        return r.status_code, (r.json().get("error") or {}).get("field")

    assert save(name="weibo") == (422, "name")  # a ready mapping's name
    assert save(name="   ") == (422, "name")
    assert save(timezone="Mars/Olympus") == (422, "timezone")
    assert save(columns={"author": ["发帖人"]}) == (422, "spec")  # no text column
    assert save(columns={"text": ["内容"], "mood": ["心情"]}) == (422, "spec")
    assert save(required=["text", "posted_at"], columns={"text": ["内容"]}) == (422, "spec")
    assert save(columns={"text": [""]}) == (422, "spec")
    assert save(platform="myspace")[0] == 422
    assert save(name="x" * 65)[0] == 422
    assert client.delete("/api/v1/listening/mappings/weibo", headers=editor).status_code == 422
    assert (
        client.post(
            "/api/v1/listening/mappings", json=SPEC, headers=brand.auth(Role.ANALYST)
        ).status_code
        == 403
    )
    assert client.get("/api/v1/listening/mappings", headers=editor).json()[-1]["preset"]


def test_the_import_page_saves_picks_and_deletes_a_mapping(
    client: TestClient, brand: Brand
) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = f"{BASE}/import"
    # Given the editor filled from the Weibo mapping, with one column changed and a new name
    filled = client.get(page, params={"start": "weibo"}).text
    assert 'value="微博正文, 正文, 内容, text, content"' in filled
    token = form_token(client, page, f"{BASE}/import/mappings")
    form = {
        "csrf_token": token,
        "name": "舆情通导出",
        "platform": "weibo",
        "timezone": "Asia/Shanghai",
        "col_text": "舆情内容，内容",
        "col_post_id": "编号",
        "col_author": "发帖人",
        "col_posted_at": "发帖时间",
        "req_posted_at": "on",
        "col_likes": "点赞",
    }
    # A required field without its column comes back with the message at that field
    missing = client.post(f"{BASE}/import/mappings", data={**form, "col_posted_at": ""})
    assert missing.status_code == 422
    assert re.search(r'id="col_posted_at-error"[^>]*>文件必须包含的字段', missing.text)
    assert 'value="舆情通导出"' in missing.text  # what was typed is kept
    bad_zone = client.post(f"{BASE}/import/mappings", data={**form, "timezone": "北京"})
    assert bad_zone.status_code == 422
    assert "未知时区" in bad_zone.text
    # When it is saved
    saved = client.post(f"{BASE}/import/mappings", data=form, follow_redirects=False)
    assert saved.status_code == 303
    # Then the import form has it picked, and the list of saved mappings shows it
    html = client.get(saved.headers["location"]).text
    assert re.search(r'<option value="舆情通导出"\s+selected', html)
    row = html[html.index('data-mapping="舆情通导出"') :].split("</tr>")[0]
    assert "舆情内容, 内容" in row
    assert "Asia/Shanghai" in row
    # And importing the export with it stores both rows
    token = form_token(client, page, f"{BASE}/import")
    imported = client.post(
        f"{BASE}/import",
        data={"csrf_token": token, "mapping": "舆情通导出"},
        files={"file": ("export.csv", EXPORT, "text/csv")},
        follow_redirects=False,
    )
    assert imported.status_code == 303
    report = client.get(imported.headers["location"]).text
    assert re.search(r"data-imported[^>]*>2<", report)
    # And deleting it takes it off the page
    token = form_token(client, page, f"{BASE}/import/mappings/delete")
    deleted = client.post(
        f"{BASE}/import/mappings/delete",
        data={"csrf_token": token, "name": "舆情通导出"},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    after = client.get(page).text
    assert 'data-mapping="舆情通导出"' not in after
    assert "还没有保存的列映射" in after
    assert client.get(page, params={"start": "舆情通导出"}).status_code == 404

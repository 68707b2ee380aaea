"""One time-zone rule for imported mentions: a time without a zone is the workspace's
wall-clock time unless the file (an offset in the value) or the importer (a zone chosen on
the import page or in the API) says otherwise. The page says which zone it will use."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_console import form_token

BASE = "/console/w/acme/listening"  # the brand's workspace is in Asia/Shanghai
FILE = (
    "platform,post_id,text,author,posted_at\n"
    "weibo,tz1,樱花拿铁真好喝,小明,2026-03-01 08:00\n"
    "weibo,tz2,刚在门店喝到,小红,2026-03-02 09:30\n"  # half an hour before the tests' now
    "weibo,tz3,带时差的时间,小刚,2026-03-01T08:00:00+00:00\n"
).encode()


def _import(client: TestClient, **fields: str) -> str:
    token = form_token(client, f"{BASE}/import", f"{BASE}/import")
    done = client.post(
        f"{BASE}/import",
        data={"csrf_token": token, "mapping": "im2", "file_format": "", **fields},
        files={"file": ("mentions.csv", FILE, "text/csv")},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return done.headers["location"]


def _shown_times(client: TestClient) -> dict[str, str]:
    page = client.get(f"{BASE}/mentions").text
    rows = re.findall(r"<tr.*?</tr>", page, re.S)
    times = {}
    for post, text in (("tz1", "樱花拿铁真好喝"), ("tz2", "刚在门店喝到"), ("tz3", "带时差的时间")):
        row = next(r for r in rows if text in r)
        times[post] = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row).group(0)
    return times


def test_times_without_a_zone_are_the_workspaces_and_the_page_says_so(
    client: TestClient, brand: Brand
) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    page = client.get(f"{BASE}/import").text
    assert "工作区时区 Asia/Shanghai" in page
    assert 'name="timezone"' in page

    _import(client)
    assert _shown_times(client) == {
        "tz1": "2026-03-01 08:00",
        "tz2": "2026-03-02 09:30",
        "tz3": "2026-03-01 16:00",  # 08:00 UTC, as the value says
    }
    week = client.get(f"{BASE}?range=7d").text
    assert re.search(r'id="total-mentions">3<', week)  # none of them is in the future


def test_a_zone_chosen_for_the_import_wins_over_the_workspaces(
    client: TestClient, brand: Brand
) -> None:
    assert login(client, brand.emails[Role.OWNER]) == 303
    _import(client, timezone="UTC")
    assert _shown_times(client)["tz1"] == "2026-03-01 16:00"

    token = form_token(client, f"{BASE}/import", f"{BASE}/import")
    refused = client.post(
        f"{BASE}/import",
        data={"csrf_token": token, "mapping": "im2", "timezone": "北京"},
        files={"file": ("mentions.csv", FILE, "text/csv")},
    )
    assert refused.status_code == 422
    assert 'id="timezone-error"' in refused.text
    assert 'value="北京"' in refused.text


def test_the_api_takes_the_same_rule(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    made = client.post(
        "/api/v1/mentions/imports",
        data={"mapping": "im2", "timezone": "Asia/Tokyo"},
        files={"file": ("mentions.csv", FILE, "text/csv")},
        headers=owner,
    )
    assert made.status_code == 201, made.text
    listed = client.get("/api/v1/mentions?limit=10", headers=owner).json()
    times = {m["post_id"]: m["posted_at"] for m in listed["items"]}
    assert times["tz1"].startswith("2026-02-28T23:00")  # 08:00 in Tokyo
    bad = client.post(
        "/api/v1/mentions/imports",
        data={"mapping": "im2", "timezone": "Mars/Olympus"},
        files={"file": ("mentions.csv", FILE, "text/csv")},
        headers=owner,
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "timezone"

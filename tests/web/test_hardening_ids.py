"""Ids and moments in URLs are bounded: a number no database column holds is a 422, not a 500."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from im2.types import MAX_ID
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login

TOO_BIG = "99999999999999999999"  # > 2**63 - 1: SQLite cannot bind it
LARGEST = MAX_ID  # 2**31 - 1: PostgreSQL INTEGER ids end there


def _int_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    if schema.get("type") == "integer":
        return schema
    for option in schema.get("anyOf", []):
        if option.get("type") == "integer":
            return dict(option)
    return None


def test_every_id_parameter_in_the_api_declares_its_range(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    unbounded, checked = [], 0
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for param in operation.get("parameters", []):
                name = param["name"]
                integer = _int_schema(param.get("schema", {}))
                if integer is None or not (name.endswith("id") or name == "activity"):
                    continue
                checked += 1
                if integer.get("minimum") != 1 or integer.get("maximum") != LARGEST:
                    unbounded.append(f"{path} {name}")
    assert checked > 100
    assert unbounded == []


def test_an_id_beyond_64_bits_is_refused_with_the_api_error_body(
    client: TestClient, brand: Brand
) -> None:
    editor = brand.auth(Role.EDITOR)
    response = client.post(f"/api/v1/alerts/{TOO_BIG}/acknowledge", headers=editor)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "alert_id"
    assert response.json()["error"]["code"] == "invalid"

    assert client.get("/api/v1/campaigns/0", headers=editor).status_code == 422
    assert client.get(f"/api/v1/campaigns/{LARGEST}", headers=editor).status_code == 404
    # Beyond PostgreSQL's INTEGER, within SQLite's: refused on both databases alike.
    assert client.get(f"/api/v1/campaigns/{LARGEST + 1}", headers=editor).status_code == 422
    listed = client.get(f"/api/v1/mentions?topic_id={TOO_BIG}", headers=editor)
    assert listed.status_code == 422
    assert listed.json()["error"]["field"] == "topic_id"


def test_an_id_beyond_64_bits_on_a_page_shows_the_error_page(
    client: TestClient, brand: Brand
) -> None:
    public = client.get(f"/c/no-such-campaign/poll/{TOO_BIG}")
    assert public.status_code == 422
    assert public.headers["content-type"].startswith("text/html")

    assert login(client, brand.emails[Role.EDITOR]) == 303
    console = client.get(f"/console/w/{brand.slug}/campaigns/{TOO_BIG}")
    assert console.status_code == 422
    assert console.headers["content-type"].startswith("text/html")


def test_a_query_moment_must_be_a_date_time(client: TestClient, brand: Brand) -> None:
    analyst = brand.auth(Role.ANALYST)
    url = "/api/v1/listening/dashboard"
    for bad in ("0.5", "1700000000", "tomorrow", "2026-13-01", "0001-01-02T00:00:00"):
        response = client.get(url, params={"until": bad}, headers=analyst)
        assert response.status_code == 422, bad
        assert response.json()["error"]["field"] == "until"
    fine = client.get(url, params={"until": "2026-03-01T10:00:00+08:00"}, headers=analyst)
    assert fine.status_code == 200, fine.text

"""Ids in JSON bodies are bounded like ids in URLs (one type, `im2.types.DbId`), and a query
moment that is not one says so in the caller's language."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from im2.types import MAX_ID
from im2.workspaces.schemas import Role
from tests.conftest import Brand

TOO_BIG = 99999999999999999999  # > 2**63 - 1: SQLite cannot bind it
BOUND = (MAX_ID, float(MAX_ID))


def _integers(schema: dict[str, Any], components: dict[str, Any], seen: set[str]):
    """(property name, integer schema) for every integer or integer list in a body schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen.add(name)
        yield from _integers(components[name], components, seen)
        return
    for option in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
        yield from _integers(option, components, seen)
    if "items" in schema:
        yield from _integers(schema["items"], components, seen)
    for name, prop in schema.get("properties", {}).items():
        for candidate in [prop, *prop.get("anyOf", [])]:
            if candidate.get("type") == "integer":
                yield name, candidate
            elif candidate.get("type") == "array" and candidate["items"].get("type") == "integer":
                yield name, candidate["items"]
        yield from _integers(prop, components, seen)


def test_every_id_in_a_request_body_declares_its_range(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    checked, unbounded = 0, set()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for name, integer in _integers(content["schema"], components, set()):
                    if not (name.endswith(("_id", "_ids")) or name == "options"):
                        continue
                    checked += 1
                    # FastAPI's OpenAPI model types `maximum` as a float, so the components
                    # print 2**63 - 1 rounded to 2**63 (path parameters keep the int).
                    if integer.get("minimum") != 1 or integer.get("maximum") not in BOUND:
                        unbounded.add(f"{method.upper()} {path} {name}")
    assert checked > 10
    assert unbounded == set()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/participants/1/points",
            {"campaign_id": TOO_BIG, "points": 5, "key": "k"},
            "campaign_id",
        ),
        (
            "/api/v1/participants/1/purchases",
            {"campaign_id": 1, "item": "prize", "item_id": TOO_BIG, "key": "k"},
            "item_id",
        ),
        (
            "/api/v1/conversions",
            {
                "order_id": "A-1",
                "amount": "10.00",
                "currency": "CNY",
                "occurred_at": "2026-03-02T10:00:00+08:00",
                "participant_id": TOO_BIG,
            },
            "participant_id",
        ),
        ("/api/v1/coupon-pools/1/issue", {"participant_id": TOO_BIG, "key": "k"}, "participant_id"),
        ("/api/v1/public/campaigns/x/polls/1/votes", {"options": [1, TOO_BIG]}, "options.1"),
        (
            "/api/v1/public/campaigns/x/quizzes/1/answers",
            {"question_id": TOO_BIG, "option_id": 1},
            "question_id",
        ),
    ],
)
def test_a_body_id_beyond_64_bits_is_a_422_on_its_field(
    client: TestClient, brand: Brand, path: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(path, json=body, headers=brand.auth(Role.OWNER))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_an_assignee_beyond_64_bits_is_refused(client: TestClient, brand: Brand) -> None:
    response = client.patch(
        "/api/v1/inbox/1", json={"assignee_id": TOO_BIG}, headers=brand.auth(Role.OWNER)
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "assignee_id"


@pytest.mark.parametrize("bad", ["0.5", "tomorrow", "2026-13-01", "2026-02-30T25:00"])
def test_a_moment_that_is_not_one_is_explained_in_the_callers_language(
    client: TestClient, brand: Brand, bad: str
) -> None:
    analyst = brand.auth(Role.ANALYST)
    url = "/api/v1/listening/dashboard"

    english = client.get(url, params={"until": bad}, headers=analyst)
    chinese = client.get(
        url, params={"until": bad}, headers={**analyst, "Accept-Language": "zh-CN"}
    )

    assert english.status_code == chinese.status_code == 422
    assert english.json()["error"]["field"] == "until"
    assert english.json()["error"]["message"] == (
        "Expected a date and time in ISO 8601, such as 2026-03-02T10:00:00+08:00."
    )
    assert chinese.json()["error"]["message"] == (
        "应为 ISO 8601 格式的日期时间，例如 2026-03-02T10:00:00+08:00。"
    )


def test_a_moment_out_of_range_is_explained_in_the_callers_language(
    client: TestClient, brand: Brand
) -> None:
    headers = {**brand.auth(Role.ANALYST), "Accept-Language": "zh-CN"}
    for far in ("0001-01-02T00:00:00", "2200-01-01"):
        response = client.get("/api/v1/listening/dashboard", params={"since": far}, headers=headers)
        assert response.status_code == 422, far
        assert response.json()["error"]["field"] == "since"
        assert response.json()["error"]["message"] == "时间必须在 2000 年到 2100 年之间。"

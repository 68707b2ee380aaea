"""The OpenAPI document declares the error answers the API really gives, in their real shape."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from im2.web.openapi import ErrorBody
from im2.workspaces.schemas import Role
from tests.conftest import Brand


def _operation(client: TestClient, method: str, path: str) -> dict[str, Any]:
    document = client.get("/openapi.json").json()
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def _error_ref(operation: dict[str, Any], status: int) -> str:
    response = operation["responses"][str(status)]
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref


def test_an_unknown_campaign_answers_a_documented_404_in_the_documented_shape(
    client: TestClient, brand: Brand
) -> None:
    answer = client.get("/api/v1/campaigns/987654", headers=brand.auth(Role.OWNER))
    assert answer.status_code == 404
    ErrorBody.model_validate(answer.json())
    operation = _operation(client, "get", "/api/v1/campaigns/{campaign_id}")
    assert _error_ref(operation, 404) == "#/components/schemas/ErrorBody"
    assert operation["security"] == [{"bearerAuth": []}]


def test_a_viewer_refused_a_write_gets_a_documented_403(client: TestClient, brand: Brand) -> None:
    answer = client.post(
        "/api/v1/topics", json={"name": "x", "query": "x"}, headers=brand.auth(Role.VIEWER)
    )
    assert answer.status_code == 403
    ErrorBody.model_validate(answer.json())
    operation = _operation(client, "post", "/api/v1/topics")
    for status in (401, 403, 409, 413, 422):
        assert _error_ref(operation, status) == "#/components/schemas/ErrorBody"


def test_validation_errors_are_documented_in_the_shape_they_are_sent(
    client: TestClient, brand: Brand
) -> None:
    answer = client.get("/api/v1/campaigns/abc", headers=brand.auth(Role.OWNER))
    assert answer.status_code == 422
    body = ErrorBody.model_validate(answer.json())
    assert body.error.field == "campaign_id"
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    operation = document["paths"]["/api/v1/campaigns/{campaign_id}"]["get"]
    assert _error_ref(operation, 422) == "#/components/schemas/ErrorBody"


def test_a_participant_action_documents_the_device_cookie_and_rate_limits(
    client: TestClient,
) -> None:
    path = "/api/v1/public/campaigns/{slug}/polls/{activity_id}/votes"
    operation = _operation(client, "post", path)
    assert operation["security"] == [{"deviceCookie": []}]
    assert {"400", "401", "429"} <= set(operation["responses"])
    document = client.get("/openapi.json").json()
    cookie = document["components"]["securitySchemes"]["deviceCookie"]
    assert cookie == {**cookie, "type": "apiKey", "in": "cookie", "name": "im2_device"}


def test_a_json_body_that_is_not_utf8_is_malformed_json_not_a_bare_400(
    client: TestClient, brand: Brand
) -> None:
    # Found by the fuzzer: FastAPI answered 400 "There was an error parsing the body" (in
    # English, undocumented) where broken JSON gets 422 malformed_json.
    headers = {**brand.auth(Role.OWNER), "Content-Type": "application/json"}
    answer = client.post("/api/v1/reply-templates", content=b"k\xc4\x81\xff7j", headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "malformed_json"


def test_a_405_lists_every_method_the_address_serves(client: TestClient, brand: Brand) -> None:
    # Found by the fuzzer: Starlette's Allow named only the first matching route's methods
    # (OPTIONS /api/v1/campaigns → "Allow: GET", though POST creates one).
    answer = client.request("OPTIONS", "/api/v1/campaigns", headers=brand.auth(Role.OWNER))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    answer = client.delete("/api/v1/campaigns/1", headers=brand.auth(Role.OWNER))
    assert answer.headers["allow"] == "GET, PATCH"
    assert answer.json()["error"]["code"] == "method_not_allowed"

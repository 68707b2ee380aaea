"""`JsonBodyRoute` (the vote's route class) answers every request as FastAPI's own route does:
the same endpoint behind both, the same requests, byte-identical answers, and the same OpenAPI
operation. The ground truth is FastAPI's handling, not a copy of it."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from im2.web.errors import install_error_handlers
from im2.web.json_route import JsonBodyRoute


class Ballot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    options: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=3)
    consent: bool = False
    note: str | None = Field(default=None, max_length=8)


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)  # the app's one error body, as the vote route has it
    seen: list[dict[str, Any]] = []
    app.state.seen = seen
    # Under /api/: the error handlers answer there in JSON.
    for prefix, route_class in (("/api/fast", JsonBodyRoute), ("/api/plain", None)):
        router = APIRouter(prefix=prefix, **({"route_class": route_class} if route_class else {}))

        @router.post("/c/{slug}/polls/{poll_id}/votes", status_code=201)
        async def vote(
            slug: str,
            poll_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
            body: Ballot,
            request: Request,
        ) -> Response:
            seen.append({"slug": slug, "poll_id": poll_id, "body": body.model_dump()})
            return JSONResponse({"slug": slug, "poll": poll_id, **body.model_dump()}, 201)

        app.include_router(router)
    return app


CASES: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("good", "/c/s1/polls/7/votes", b'{"options": [1, 2], "consent": true}', {}),
    ("good, strings for numbers", "/c/s1/polls/7/votes", b'{"options": ["3"]}', {}),
    ("good, charset", "/c/s1/polls/7/votes", b'{"options": [1]}', {"charset": "utf-8"}),
    ("a key twice", "/c/s1/polls/7/votes", b'{"options": [1], "options": [2]}', {}),
    (
        "floats and text for booleans",
        "/c/s1/polls/7/votes",
        b'{"options": [1.0], "consent": "yes"}',
        {},
    ),
    ("a fraction", "/c/s1/polls/7/votes", b'{"options": [1.5]}', {}),
    ("null consent", "/c/s1/polls/7/votes", b'{"options": [1], "consent": null}', {}),
    ("malformed JSON", "/c/s1/polls/7/votes", b'{"options": [1,', {}),
    ("not UTF-8", "/c/s1/polls/7/votes", b'{"options": [1], "note": "\xff"}', {}),
    ("NaN", "/c/s1/polls/7/votes", b'{"options": [NaN]}', {}),
    ("no body", "/c/s1/polls/7/votes", b"", {}),
    ("a list, not an object", "/c/s1/polls/7/votes", b"[1, 2]", {}),
    ("extra field", "/c/s1/polls/7/votes", b'{"options": [1], "x": 1}', {}),
    ("empty options", "/c/s1/polls/7/votes", b'{"options": []}', {}),
    ("id too big", "/c/s1/polls/7/votes", b'{"options": [99999999999999999999]}', {}),
    ("note too long", "/c/s1/polls/7/votes", b'{"options": [1], "note": "123456789"}', {}),
    ("path id not a number", "/c/s1/polls/x/votes", b'{"options": [1]}', {}),
    ("path id zero and a bad body", "/c/s1/polls/0/votes", b'{"options": "a"}', {}),
    ("text/plain", "/c/s1/polls/7/votes", b'{"options": [1]}', {"type": "text/plain"}),
    ("no content type", "/c/s1/polls/7/votes", b'{"options": [1]}', {"type": ""}),
    ("a +json type", "/c/s1/polls/7/votes", b'{"options": [1]}', {"type": "application/x+json"}),
]


@pytest.mark.parametrize(("case", "path", "body", "how"), CASES, ids=[c[0] for c in CASES])
def test_every_answer_is_the_one_fastapi_gives(
    case: str, path: str, body: bytes, how: dict[str, str]
) -> None:
    app = _app()
    client = TestClient(app)
    content_type = how.get("type", "application/json")
    if "charset" in how:
        content_type += f"; charset={how['charset']}"
    headers = {"content-type": content_type} if content_type else {}
    fast = client.post("/api/fast" + path, content=body, headers=headers)
    plain = client.post("/api/plain" + path, content=body, headers=headers)
    assert (fast.status_code, fast.content) == (plain.status_code, plain.content), case
    assert fast.status_code in (201, 422), case
    assert fast.status_code == 201 or fast.json()["error"]["message"], case
    # A refused request never reached the endpoint; an accepted one did, once per route.
    assert len(app.state.seen) == (2 if fast.status_code == 201 else 0)


def test_the_openapi_operation_is_the_one_fastapi_makes() -> None:
    paths = _app().openapi()["paths"]
    fast = paths["/api/fast/c/{slug}/polls/{poll_id}/votes"]["post"]
    plain = paths["/api/plain/c/{slug}/polls/{poll_id}/votes"]["post"]
    for operation in (fast, plain):
        operation.pop("operationId")
    assert fast == plain


def test_an_endpoint_that_needs_more_than_path_and_body_keeps_fastapis_handler() -> None:
    """A query parameter (or anything beyond path, body and request) is FastAPI's to solve:
    the route class leaves such a route as it is, and it still works."""
    app = FastAPI()
    router = APIRouter(route_class=JsonBodyRoute)

    @router.post("/p/{slug}")
    async def post(slug: str, body: Ballot, page: int = 1) -> Response:
        return JSONResponse({"slug": slug, "page": page, "options": body.options})

    app.include_router(router)
    answer = TestClient(app).post("/p/a?page=3", json={"options": [2]})
    assert answer.json() == {"slug": "a", "page": 3, "options": [2]}
    refused = TestClient(app).post("/p/a?page=x", json={"options": [2]})
    assert refused.status_code == 422

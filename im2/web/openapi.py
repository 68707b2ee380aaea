"""The OpenAPI document, with the error answers every operation can give declared once.

FastAPI documents each route's success answer and a 422 in its own validation-error shape. The
app answers errors in one shape of its own (`{"error": {"code", "message", "field"}}`, see
`im2.web.errors`), and which errors an operation can give follows from what the route is, not
from each route's code: a route behind the API token can answer 401 and 403, every route 404
(an unknown id in the path, the query or the body), a write 409 (a conflict, or an
Idempotency-Key still in progress) and 503 (the database stayed busy), a request with a body
413 and 408 (`im2.web.limits_body`), a form upload 400 (a broken multipart body), a
participant's action 400 (refused) and 429 (rate limits). `openapi_schema` adds those to
FastAPI's document, replaces the 422 shape with the real one, and names the two ways to
authenticate (the bearer token, and the participant's device cookie), so clients and the
fuzzer (`tests/test_fuzz_api.py`) know what each answer can be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from im2.web.context import DEVICE_COOKIE
from im2.web.deps import api_actor, get_visitor


class FieldError(BaseModel):
    field: str | None = Field(description="The input the message is about (dotted path).")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: not_found, invalid, conflict …")
    message: str = Field(description="For people, in the request's language.")
    field: str | None = Field(description="The input at fault, when there is one.")
    details: list[FieldError] | None = Field(
        default=None, description="Every invalid input, on a 422 from request validation."
    )


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


BEARER = "bearerAuth"
DEVICE = "deviceCookie"
PARTICIPANTS = "participants"  # the tag of the participant's routes
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})  # what the body limits apply to

ERRORS: dict[int, str] = {
    400: "The request cannot be accepted as sent (a broken form, or the action was refused).",
    401: "No valid credentials: an API token (Authorization: Bearer …) or the device cookie.",
    403: "The token's role does not allow this.",
    404: "Something named in the path, the query or the body does not exist here.",
    408: "The body stopped arriving before it was complete.",
    409: "It conflicts with the current state, or its Idempotency-Key is still in progress.",
    413: "The body is larger than this address accepts.",
    422: "An input is not valid; `field` names it.",
    429: "Too many attempts; wait a moment and try again.",
    503: "The database stayed busy; nothing was saved. Retry after the Retry-After seconds.",
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _participant(route: APIRoute, method: str, calls: set[Callable[..., Any]]) -> bool:
    """A participant's route (tag "participants") that identifies the device: every action
    (a write) does, and the reads that depend on the visitor."""
    return PARTICIPANTS in route.tags and (method in WRITES or get_visitor in calls)


def error_codes(route: APIRoute, method: str) -> set[int]:
    """The error statuses `method` on `route` can answer, beside its own declared ones."""
    calls = set(_calls(route.dependant))
    codes = {404, 422}
    if api_actor in calls:
        codes |= {401, 403}
    if _participant(route, method, calls):
        codes.add(401)
    if method in WRITES:
        codes |= {409, 503}
        if PARTICIPANTS in route.tags:
            codes |= {400, 429}  # an action refused, or over the rate limits
    if method in WITH_BODY:
        codes |= {408, 413}
        if any(isinstance(p.field_info, params.Form) for p in route.dependant.body_params):
            codes.add(400)  # a multipart body that cannot be parsed
    return codes


def _response(status: int) -> dict[str, Any]:
    return {
        "description": ERRORS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for `app`, with the errors, the error shape and the auth declared."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: create one in the console or with `im2 token create`.",
        },
        DEVICE: {
            "type": "apiKey",
            "in": "cookie",
            "name": DEVICE_COOKIE,
            "description": "A participant's browser: the cookie its first page view sets.",
        },
    }

    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = schema["paths"].get(context.path_format or route.path_format, {})
        calls = set(_calls(route.dependant))
        for method in route.methods or ():
            operation = path.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(error_codes(route, method)):
                responses[str(status)] = _response(status)
            if api_actor in calls:
                operation["security"] = [{BEARER: []}]
            elif _participant(route, method, calls):
                operation["security"] = [{DEVICE: []}]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def install_openapi(app: FastAPI) -> None:
    """`app.openapi()` (served at /openapi.json) gives `openapi_schema`, built once."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi_schema(app)
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]

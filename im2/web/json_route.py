"""A route class for hot JSON writes (the vote): the body is validated by pydantic straight from
its bytes, without FastAPI's dependency solver, and every refusal is still FastAPI's own.

`JsonBodyRoute` is an `APIRoute` (FastAPI's documented way to customise how a route handles its
request): the OpenAPI document, the path and the status are made as for any route. At run time,
for an endpoint whose parameters are path parameters, one pydantic model body and the
`Request`, and nothing else (no dependencies, query, header or cookie parameters), an async
endpoint that returns its own `Response`, a request with a JSON content type goes the short
way: each path parameter through its FastAPI field's
own validation, the body through `Model.model_validate_json`, then the endpoint. Anything else
(another content type, a path parameter or a body that does not validate, a body that could not
be read, FastAPI's telemetry switched on) is handed to the handler FastAPI made for the route,
which answers exactly as it always did: the same 422 with the same `loc`, `msg` and `type`.

Why: FastAPI's solver (`solve_dependencies`, `request_params_to_args`, its JSON parse and then
the model's validation of the parsed dict) was ~60 µs of the vote's event-loop time, about a
fifth (benchmarks/README.md, Participation).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

import fastapi.routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})


class JsonBodyRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        full = super().get_route_handler()
        dependant = _effective_dependant(self)
        model = _body_model(dependant) if dependant is not None else None
        if dependant is None or model is None or not _answers_itself(dependant.call):
            return full
        return _short_way(full, dependant, model)


def _effective_dependant(route: APIRoute) -> Dependant | None:
    """The dependant FastAPI itself runs for this route: an included router's may add
    dependencies (FastAPI sets the inclusion's context while it builds the handler). None
    when this FastAPI no longer says: then the route always takes FastAPI's way."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    if context_var is None:
        return None
    context = context_var.get()
    if context is not None and getattr(context, "original_route", None) is route:
        found = getattr(context, "dependant", None)
        return found if isinstance(found, Dependant) else None
    return route.dependant


def _answers_itself(call: Callable[..., Any] | None) -> bool:
    """An async endpoint that returns its own `Response` (FastAPI would send it as it is)."""
    if call is None or not inspect.iscoroutinefunction(call):
        return False
    try:
        returns = get_type_hints(call).get("return")
    except (NameError, TypeError):
        return False
    return isinstance(returns, type) and issubclass(returns, Response)


def _body_model(dependant: Dependant) -> type[BaseModel] | None:
    """The body's model when the endpoint takes only path parameters, that body and the
    request; else None (the route keeps FastAPI's handler)."""
    others = (
        dependant.dependencies,
        dependant.query_params,
        dependant.header_params,
        dependant.cookie_params,
    )
    named = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if any(others) or any(named) or len(dependant.body_params) != 1:
        return None
    annotation = dependant.body_params[0].field_info.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _short_way(full: Handler, dependant: Dependant, model: type[BaseModel]) -> Handler:
    call = dependant.call
    assert call is not None
    body_name = dependant.body_params[0].name
    path_fields = [(f.name, f.alias, f) for f in dependant.path_params]
    request_name = dependant.request_param_name
    telemetry = getattr(fastapi.routing, "get_telemetry_data", None)

    async def handler(request: Request) -> Response:
        if telemetry is None or telemetry() is not None:
            return await full(request)
        if request.headers.get("content-type", "").lower() not in JSON_TYPES:
            return await full(request)
        values: dict[str, Any] = {}
        params = request.path_params
        for name, alias, field in path_fields:
            value, errors = field.validate(params.get(alias), values, loc=("path", alias))
            if errors:
                return await full(request)
            values[name] = value
        try:
            raw = await request.body()
        except HTTPException:  # the body limits' refusals, as FastAPI passes them on
            raise
        except Exception:
            return await full(request)  # it says what went wrong, its own way
        try:
            values[body_name] = model.model_validate_json(raw)
        except ValidationError:
            return await full(request)  # the body (read once, kept) judged FastAPI's way
        if request_name is not None:
            values[request_name] = request
        response: Response = await call(**values)
        return response

    return handler

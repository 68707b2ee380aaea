"""What the formats' JSON participant routes share: the rate limit, one transaction, and the
keywords every participant write of a format's service takes (as `ParticipantPost.rules` does
for the public pages' forms).

A route asks for `ParticipantApiDep` and writes
`act.write(lambda session: service.do_x(session, ..., **act.rules(body.consent)), consent=body)`
(`consent=`: a body with `GivesConsent`'s fields, whose text hash is checked first).
The dependency only gathers the request's visitor, database, limiter, settings and time, so the
OpenAPI document is what it was when every route named them.

The routes of that one shape, and the brand's reads of one activity, are made here from what a
format names (`add_participant_write`, `add_console_read`); each keeps its operation id by the
`name` given, the one its function had when the format wrote it out. A write's route may take
more path parameters than the slug and the activity (`{question_id}`, `{code}`), each passed on
to the service by its name, and may push the live views once the write is committed.
"""

# No `from __future__ import annotations` here: FastAPI reads the body's model from each
# generated route's annotations, which must be the format's classes, not strings.

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from im2.activities.formats.pages import Refresh
from im2.activities.schemas import GivesConsent
from im2.config import Settings
from im2.db import Database
from im2.live.hub import Hub
from im2.participation.limits import ActionLimiter
from im2.participation.schemas import Visitor
from im2.web.deps import ApiActor, DbDep, HubDep, LimiterDep, NowDep, SettingsDep, VisitorDep
from im2.web.params import Id
from im2.web.participant_forms import check_consent_text

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParticipantApi:
    visitor: Visitor
    db: Database
    limiter: ActionLimiter
    settings: Settings
    now: datetime
    request: Request
    hub: Hub

    def rules(self, consented: bool) -> dict[str, Any]:
        """The keywords every participant write takes (no page, so no time on it)."""
        return {
            "visitor": self.visitor,
            "consented": consented,
            "seconds_on_page": None,
            "risk_threshold": self.settings.risk_hold_threshold,
            "identities_per_ip_hour": self.settings.risk_identities_per_ip_hour,
            "now": self.now,
        }

    def write(self, write: Callable[[Session], T], *, consent: GivesConsent | None = None) -> T:
        """The rate limit (429 before anything is read); the consent text's hash when `consent`
        (the request's body) ticks the box and says what it showed (422 on its field when the
        brand has replaced that text since); then `write` in one transaction."""
        self.limiter.hit(device_id=self.visitor.device_id, ip=self.visitor.ip)
        if consent is not None and consent.consent and consent.consent_sha256:
            check_consent_text(self.request, consent.model_dump(), field="consent_sha256")
        with self.db.transaction() as session:
            return write(session)


def participant_api(
    visitor: VisitorDep,
    db: DbDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    now: NowDep,
    request: Request,
    hub: HubDep,
) -> ParticipantApi:
    return ParticipantApi(visitor, db, limiter, settings, now, request, hub)


ParticipantApiDep = Annotated[ParticipantApi, Depends(participant_api)]


def _add_post(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    more: Mapping[str, Any] | None,
    **route: Any,
) -> None:
    """POST `path` to `endpoint`, with `route`'s options. FastAPI reads a route's parameters
    from its function's signature: `more`'s path parameters (name: type) stand in place of the
    function's `**ids`, after the activity's id, as they do in the path."""
    params = [p for p in inspect.signature(endpoint).parameters.values() if p.kind != p.VAR_KEYWORD]
    at = [p.name for p in params].index("activity_id") + 1
    named = [
        inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind)
        for key, kind in (more or {}).items()
    ]
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*params[:at], *named, *params[at:]]
    )
    router.add_api_route(path, endpoint, methods=["POST"], **route)


def add_console_read(
    router: APIRouter,
    path: str,
    read: Callable[..., Any],
    *,
    name: str,
    response_model: Any,
    summary: str,
    at_now: bool = False,
) -> None:
    """GET `path` (with `{activity_id}`): `read(session, actor=, activity_id=)` (and `now=`
    when `at_now`), which checks the actor may read the activity."""

    def endpoint(activity_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Any:
        timed = {"now": now} if at_now else {}
        with db.session() as session:
            return read(session, actor=actor, activity_id=activity_id, **timed)

    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        response_model=response_model,
        summary=summary,
        name=name,
    )


def add_console_write(
    router: APIRouter,
    path: str,
    write: Callable[..., Any],
    *,
    name: str,
    body: type[BaseModel],
    response_model: Any,
    summary: str,
    fields: Callable[[Any], Mapping[str, Any]],
    more: Mapping[str, Any] | None = None,
    refresh: Refresh | None = None,
) -> None:
    """POST `path` (with `{activity_id}` and the path parameters `more` names), the brand's
    write `write(session, actor=, activity_id=, **more, **fields(body), now=)` in one
    transaction, which `refresh` (the format's live views) ends."""
    body_model = body

    def endpoint(
        activity_id: Id,
        body: body_model,  # type: ignore[valid-type]
        actor: ApiActor,
        db: DbDep,
        hub: HubDep,
        now: NowDep,
        **ids: Any,
    ) -> Any:
        given = fields(body)
        with db.transaction() as session:
            result = write(session, actor=actor, activity_id=activity_id, **ids, **given, now=now)
            if refresh is not None:
                refresh(session, db=db, hub=hub, activity_id=activity_id)
        return result

    _add_post(
        router, path, endpoint, more, response_model=response_model, summary=summary, name=name
    )


def add_participant_write(
    router: APIRouter,
    path: str,
    write: Callable[..., Any],
    *,
    name: str,
    body: type[GivesConsent],
    response_model: Any,
    summary: str,
    fields: Callable[[Any], Mapping[str, Any]] | None = None,
    more: Mapping[str, Any] | None = None,
    refresh: Refresh | None = None,
) -> None:
    """POST `path` (with `{slug}` and `{activity_id}`, and the path parameters `more` names
    with their types, e.g. `{"question_id": Id}`), 201: the participant's write
    `write(session, slug=, activity_id=, **more, **fields(body), **act.rules(body.consent))`,
    rate limited, in one transaction, which `refresh` (the format's live views) ends."""
    body_model = body

    def endpoint(
        slug: str,
        activity_id: Id,
        body: body_model,  # type: ignore[valid-type]
        act: ParticipantApiDep,
        **ids: Any,
    ) -> Any:
        data: Any = body
        given = dict(fields(data)) if fields is not None else {}

        def written(session: Session) -> Any:
            result = write(
                session,
                slug=slug,
                activity_id=activity_id,
                **ids,
                **given,
                **act.rules(data.consent),
            )
            if refresh is not None:
                refresh(session, db=act.db, hub=act.hub, activity_id=activity_id)
            return result

        return act.write(written, consent=data)

    _add_post(
        router,
        path,
        endpoint,
        more,
        response_model=response_model,
        status_code=201,
        tags=["participants"],
        summary=summary,
        name=name,
    )

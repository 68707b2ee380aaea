"""Console routes and answers several formats share, made from what each names (as
`im2.activities.console` makes the create, detail, edit and export routes from the format's
declaration).

    POST /console/w/<ws>/<kind>/<activity id>/review/<row id>   count or discard a held row
    POST /console/w/<ws>/<kind>/import-text                       the builder's text import
    POST /console/w/<ws>/<kind>/<activity id>/settings             the rules form on its page

The review form posts `decision=approve` (anything else discards); the editor goes back to the
activity's page. The moderation queues (Q&A, UGC) answer a button pressed in the queue with
the queue alone (`queue_or_back`), and stream it as it changes (`live_snapshots`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse
from starlette.responses import JSONResponse, RedirectResponse, Response

from im2.activities.editing import activity_url
from im2.activities.formats.common import HeldReview
from im2.activities.protocol import UpdateActivity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.db import Database
from im2.errors import InvalidInput
from im2.live.hub import Hub
from im2.live.sse import stream
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep
from im2.web.forms import FormState, field_errors, raw_values, save_or_show_again, see_other
from im2.web.params import Id
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

T = TypeVar("T")


class Refresh(Protocol):
    """What to push to the live views once the review is committed."""

    def __call__(self, session: Session, *, db: Database, hub: Hub, activity_id: int) -> None: ...


class ActivityPage(Protocol):
    """An activity's console page with its form in `state` (`FormState()` when first shown)."""

    def __call__(
        self, request: Request, actor: Actor, activity_id: int, db: Database, *, state: FormState
    ) -> Response: ...


def back_to_activity(
    actor: Actor, kind: ActivityKind, activity_id: int, rest: str = ""
) -> RedirectResponse:
    """After a console form: the activity's page again (`rest`: a query or an anchor)."""
    return see_other(activity_url(actor, kind, activity_id) + rest)


def queue_or_back(
    request: Request, queue: Callable[[], Response], back: RedirectResponse
) -> Response:
    """A moderation button pressed inside the live queue (htmx) gets the `queue` alone to swap
    in; a plain form post goes `back` to the page."""
    return queue() if request.headers.get("hx-request") == "true" else back


def first_snapshot(hub: Hub, channel: str, snapshot: Callable[[], Any]) -> str:
    """What a live view is sent first: the channel's latest message, else a snapshot read now."""
    return hub.latest(channel) or json.dumps(snapshot(), ensure_ascii=False)


def live_snapshots(
    request: Request, hub: Hub, channel: str, snapshot: Callable[[], Any], *, event: str
) -> EventSourceResponse:
    """Server-sent `event`s with each snapshot published on `channel`, the first one at once."""
    first = first_snapshot(hub, channel, snapshot)
    return EventSourceResponse(stream(request, hub, channel, first, event=event))


def posted(form: Mapping[str, Any], name: str, parse: Callable[[str], T], message: str) -> T:
    """The posted field `name` read by `parse` (`int`, an enum), or 422 with `message` (in
    the user's language) on that field."""
    try:
        return parse(str(form.get(name) or ""))
    except ValueError:
        raise InvalidInput(message, field=name) from None


def add_review(router: APIRouter, review: HeldReview, *, refresh: Refresh | None = None) -> None:
    """POST `/<kind>/{activity_id}/review/{row_id}`: the format's `review` (its `do_review_*`)
    of one held row, in one transaction."""
    kind = review.kind.value

    @router.post(f"/{kind}/{{activity_id}}/review/{{row_id}}", name=f"review_{kind}")
    def review_route(
        activity_id: Id,
        row_id: Id,
        form: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        hub: HubDep,
        now: NowDep,
    ) -> Response:
        keywords = {review.row: row_id}
        with db.transaction() as session:
            review(
                session,
                actor=actor,
                activity_id=activity_id,
                approve=form.get("decision") == "approve",
                now=now,
                **keywords,
            )
            if refresh is not None:
                refresh(session, db=db, hub=hub, activity_id=activity_id)
        return back_to_activity(actor, review.kind, activity_id)


def add_text_import(
    router: APIRouter,
    kind: ActivityKind,
    *,
    fields: Mapping[str, str],
    check: Callable[[dict[str, str]], object],
    state: Callable[[dict[str, str]], dict[str, Any]],
) -> None:
    """POST `/<kind>/import-text`, the question builder's "import from text": the posted
    `fields` (each its default when blank) are `check`ed (the text format's parser) and
    answered as the builder's `state`, or 422 with the parser's message; nothing is stored."""

    @router.post(f"/{kind.value}/import-text", name=f"import_text_{kind.value}")
    def import_text(form: CsrfForm, actor: ConsoleActor) -> Response:
        require(actor, Permission.WRITE_CAMPAIGNS)
        values = {name: str(form.get(name) or default) for name, default in fields.items()}
        try:
            check(values)
        except InvalidInput as exc:
            return JSONResponse({"error": exc.message}, status_code=422)
        return JSONResponse(state(values))


def add_settings_form(
    router: APIRouter,
    kind: ActivityKind,
    page: ActivityPage,
    *,
    parse: Callable[[dict[str, str]], BaseModel],
    update: UpdateActivity,
    invalid: Callable[[ValidationError], dict[str, str]] = field_errors,
) -> None:
    """POST `/<kind>/{activity_id}/settings`, the rules form on the activity's `page`: the
    posted text `parse`d into the format's update model and written by `update`, then the page
    again (303); refused, the `page` with what was typed and each error by its field."""

    @router.post(f"/{kind.value}/{{activity_id}}/settings")
    def update_settings(
        request: Request,
        activity_id: Id,
        form: CsrfForm,
        actor: ConsoleActor,
        db: DbDep,
        now: NowDep,
    ) -> Response:
        raw = raw_values(form)

        def save() -> ActivityRead:
            data = parse(raw)
            with db.transaction() as session:
                return update(session, actor=actor, activity_id=activity_id, data=data, now=now)

        return save_or_show_again(
            save,
            again=partial(page, request, actor, activity_id, db),
            done=activity_url(actor, kind, activity_id),
            values=raw,
            invalid=invalid,
        )

"""Console pages of live Q&A that are its own: moderate questions as they arrive (the queue
updates live), change pre-moderation (adding one, the text editor and the export are the
shared console routes, made from `format.FORMAT`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from im2.activities.editing import activity_and_campaign, activity_context, activity_url
from im2.activities.formats.pages import (
    add_settings_form,
    back_to_activity,
    first_snapshot,
    live_snapshots,
    posted,
    queue_or_back,
)
from im2.activities.formats.qa import service
from im2.activities.formats.qa.live import board_snapshot, refresh_boards_on_commit
from im2.activities.formats.qa.schemas import (
    STATUS_LABELS,
    Moderation,
    QaUpdate,
    QuestionSort,
)
from im2.activities.schemas import ActivityKind
from im2.i18n import _
from im2.live.hub import Hub
from im2.live.sse import HEARTBEAT_SECONDS, KEEP_ALIVE, RECONNECT_MS, encoded
from im2.masking import mask_all, masked_for
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep
from im2.web.forms import FormState
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


def _sort(request: Request) -> QuestionSort:
    return QuestionSort.TIME if request.query_params.get("sort") == "time" else QuestionSort.VOTES


def _queue_context(
    request: Request, *, actor: Actor, activity_id: int, db: DbDep
) -> dict[str, Any]:
    with db.session() as session:
        board = service.moderation_board(
            session, actor=actor, activity_id=activity_id, sort=_sort(request)
        )
        held = service.held_upvotes(session, activity_id=activity_id)
        activity, campaign = activity_and_campaign(session, actor, activity_id, ActivityKind.QA)
    return {
        **activity_context(request, actor, activity, campaign),
        "board": board,
        "held": held,
        "status_labels": STATUS_LABELS,
        "sort": _sort(request).value,
        "base": activity_url(actor, ActivityKind.QA, activity_id),
    }


def _page(
    request: Request, actor: Actor, activity_id: int, db: DbDep, *, state: FormState
) -> Response:
    """The moderation page; the pre-moderation form shows `state` (what was sent, its error)."""
    context = _queue_context(request, actor=actor, activity_id=activity_id, db=db)
    stored = "on" if context["activity"].settings.get("premoderation") else ""
    context.update(state.shown({"premoderation": stored}))
    return render(request, "activities/qa/detail.html", context, status_code=state.status_code)


@router.get("/qa/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    return _page(request, actor, activity_id, db, state=FormState())


@router.get("/qa/{activity_id}/queue")
def queue(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    """The moderation queue alone, fetched again when the live stream says it changed."""
    context = _queue_context(request, actor=actor, activity_id=activity_id, db=db)
    return render(request, "activities/qa/queue.html", context)


@router.post("/qa/{activity_id}/questions/{question_id}")
def moderate(
    request: Request,
    activity_id: Id,
    question_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    action = posted(form, "action", Moderation, _("Choose one of the options."))
    with db.transaction() as session:
        service.do_moderate(
            session,
            actor=actor,
            activity_id=activity_id,
            question_id=question_id,
            action=action,
            now=now,
        )
        refresh_boards_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return queue_or_back(
        request,
        partial(queue, request, activity_id, actor, db),
        back_to_activity(actor, ActivityKind.QA, activity_id, f"?sort={_sort(request).value}"),
    )


def _premoderation(raw: dict[str, str]) -> QaUpdate:
    """An unticked box is not sent; anything but a yes or a no is refused on the box."""
    return QaUpdate.model_validate({"premoderation": raw.get("premoderation", "off")})


add_settings_form(router, ActivityKind.QA, _page, parse=_premoderation, update=service.do_update_qa)


@router.get("/qa/{activity_id}/live")
def live_queue(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:  # 404 / 403 first
        service.moderation_board(
            session, actor=actor, activity_id=activity_id, sort=QuestionSort.VOTES
        )
    channel = service.queue_channel(activity_id)
    snapshot = partial(board_snapshot, db, activity_id, moderator=True)
    if masked_for(actor):  # the snapshots carry askers' nicknames: masked for this reader
        first = first_snapshot(hub, channel, snapshot)
        return EventSourceResponse(_masked_stream(request, hub, channel, first))
    return live_snapshots(request, hub, channel, snapshot, event="queue")


def _mask_board(message: str) -> str:
    board = json.loads(message)
    board["questions"] = mask_all(board.get("questions") or [], masked=True)
    return json.dumps(board, ensure_ascii=False)


async def _masked_stream(
    request: Request, hub: Hub, channel: str, first: str
) -> AsyncIterator[bytes]:
    """`im2.live.sse.stream` for a reader without people:read: each snapshot masked."""
    async for message in hub.subscribe(channel, first=first, heartbeat=HEARTBEAT_SECONDS):
        yield KEEP_ALIVE if message is None else encoded(_mask_board(message), "queue")
    yield ServerSentEvent(comment="reconnect", retry=RECONNECT_MS[1]).encode()

"""The participant's Q&A page (ask and upvote with plain form POSTs, HTMX swaps with
JavaScript), the presenter view for the stage screen, and the live stream of the board."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.qa import service
from im2.activities.formats.qa.live import board_snapshot, refresh_boards_on_commit
from im2.activities.formats.qa.schemas import AskReceipt, QuestionSort
from im2.errors import IM2Error
from im2.i18n import _
from im2.live.sse import stream
from im2.web import participant_forms as forms
from im2.web.deps import DbDep, HubDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import PageAt, PageAtDep, ParticipantPostDep, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
NOTICES = {
    "asked": lambda: _("Thank you, your question is in!"),
    "waiting": lambda: _("Thank you! Your question will be shown once a moderator approves it."),
    "upvoted": lambda: _("Your upvote is counted."),
}


def qa_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/qa/{activity_id}"


def _sort(request: Request) -> QuestionSort:
    return QuestionSort.TIME if request.query_params.get("sort") == "time" else QuestionSort.VOTES


PAGE, BOX = "activities/qa/public_qa.html", "activities/qa/qa_box.html"


def _page(
    at: PageAt,
    *,
    template: str = PAGE,
    values: dict[str, str] | None = None,
    refusal: forms.Refusal = forms.NOTHING_REFUSED,
    consent_for: str | None = None,
    notice: str | None = None,
) -> Response:
    sort = _sort(at.request)
    with at.db.session() as session:
        view = service.view_qa(session, **at.keywords(), sort=sort)
    return render(
        at.request,
        template,
        {
            "view": view,
            **form_context(at.request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "values": values or {},
            "consent_for": consent_for,
            "notice": notice,
            "base": qa_path(at.slug, at.activity_id),
            "sort": sort.value,
        },
        status_code=refusal.status_code,
    )


@router.get("/c/{slug}/qa/{activity_id}")
def qa_page(at: PageAtDep) -> Response:
    done = NOTICES.get(at.request.query_params.get("done", ""))
    response = _page(at, notice=done() if done else None)
    return remember_channel(at.request, response)


@router.get("/c/{slug}/qa/{activity_id}/list")
def qa_list(at: PageAtDep) -> Response:
    """The question list alone, fetched again when the live stream says the board changed."""
    return _page(at, template="activities/qa/question_list.html")


def _done(at: PageAt, done: str) -> Response:
    if at.htmx:
        return _page(at, template=BOX, notice=NOTICES[done]())
    # Post/redirect/get: a reload does not send the question again.
    return RedirectResponse(f"{qa_path(at.slug, at.activity_id)}?done={done}", status_code=303)


@router.post("/c/{slug}/qa/{activity_id}/ask")
def ask(slug: str, activity_id: Id, post: ParticipantPostDep, hub: HubDep) -> Response:
    values = {"text": post.text("text"), "nickname": post.text("nickname")}

    def write(session: Session) -> AskReceipt:
        receipt = service.do_ask(
            session,
            slug=slug,
            activity_id=activity_id,
            text=values["text"],
            nickname=values["nickname"],
            **post.rules(),
        )
        refresh_boards_on_commit(session, db=post.db, hub=hub, activity_id=activity_id)
        return receipt

    at = post.at(slug, activity_id)
    try:
        receipt = post.run(
            write, refused=_("Your question could not be accepted."), activity_id=activity_id
        )
    except IM2Error as exc:
        again = post.again(exc, slug=slug, values=values)
        return _page(at, template=BOX if post.htmx else PAGE, **again)
    return _done(at, "asked" if receipt.visible else "waiting")


@router.post("/c/{slug}/qa/{activity_id}/questions/{question_id}/upvote")
def upvote(
    slug: str, activity_id: Id, question_id: Id, post: ParticipantPostDep, hub: HubDep
) -> Response:
    def write(session: Session) -> None:
        service.do_upvote(
            session, slug=slug, activity_id=activity_id, question_id=question_id, **post.rules()
        )
        refresh_boards_on_commit(session, db=post.db, hub=hub, activity_id=activity_id)

    at = post.at(slug, activity_id)
    try:
        post.run(write, refused=_("Your upvote could not be accepted."), activity_id=activity_id)
    except IM2Error as exc:
        consent_for = f"{qa_path(slug, activity_id)}/questions/{question_id}/upvote"
        again = post.again(exc, slug=slug, consent_for=consent_for)
        return _page(at, template=BOX if post.htmx else PAGE, **again)
    return _done(at, "upvoted")


@router.get("/c/{slug}/qa/{activity_id}/present")
def presenter(request: Request, slug: str, activity_id: Id, db: DbDep) -> Response:
    """For the stage screen: big type, pinned question first, updating live, no controls."""
    template = (
        "activities/qa/present_list.html"
        if request.query_params.get("fragment") == "1"
        else "activities/qa/present.html"
    )
    with db.session() as session:
        view = service.presenter_board(session, slug=slug, activity_id=activity_id)
    return render(request, template, {"view": view, "base": qa_path(slug, activity_id)})


@router.get("/live/c/{slug}/qa/{activity_id}")
def live_board(
    request: Request, slug: str, activity_id: Id, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:
        service.presenter_board(session, slug=slug, activity_id=activity_id)  # 404 first
    channel = service.questions_channel(activity_id)
    first = hub.latest(channel) or json.dumps(
        board_snapshot(db, activity_id, moderator=False), ensure_ascii=False
    )
    return EventSourceResponse(stream(request, hub, channel, first, event="questions"))

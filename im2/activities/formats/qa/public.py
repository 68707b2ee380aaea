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
from im2.web.deps import DbDep, HubDep, VisitorDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import ParticipantPost, ParticipantPostDep, form_context, is_htmx
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


def _page(
    request: Request,
    *,
    slug: str,
    activity_id: int,
    db: DbDep,
    device_id: str,
    sort: QuestionSort,
    template: str = "activities/qa/public_qa.html",
    values: dict[str, str] | None = None,
    refusal: forms.Refusal = forms.NOTHING_REFUSED,
    consent_for: str | None = None,
    notice: str | None = None,
) -> Response:
    with db.session() as session:
        view = service.view_qa(
            session, slug=slug, activity_id=activity_id, device_id=device_id, sort=sort
        )
    base = qa_path(slug, activity_id)
    return render(
        request,
        template,
        {
            "view": view,
            **form_context(request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "values": values or {},
            "consent_for": consent_for,
            "notice": notice,
            "base": base,
            "sort": sort.value,
        },
        status_code=refusal.status_code,
    )


@router.get("/c/{slug}/qa/{activity_id}")
def qa_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep
) -> Response:
    done = NOTICES.get(request.query_params.get("done", ""))
    response = _page(
        request,
        slug=slug,
        activity_id=activity_id,
        db=db,
        device_id=visitor.device_id,
        sort=_sort(request),
        notice=done() if done else None,
    )
    return remember_channel(request, response)


@router.get("/c/{slug}/qa/{activity_id}/list")
def qa_list(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep
) -> Response:
    """The question list alone, fetched again when the live stream says the board changed."""
    return _page(
        request,
        slug=slug,
        activity_id=activity_id,
        db=db,
        device_id=visitor.device_id,
        sort=_sort(request),
        template="activities/qa/question_list.html",
    )


def _refused(
    request: Request,
    post: ParticipantPost,
    exc: IM2Error,
    *,
    slug: str,
    activity_id: int,
    values: dict[str, str] | None = None,
    consent_for: str | None = None,
) -> Response:
    """The page again with every error of the refused submit and what was typed."""
    return _page(
        request,
        slug=slug,
        activity_id=activity_id,
        db=post.db,
        device_id=post.visitor.device_id,
        sort=_sort(request),
        template="activities/qa/qa_box.html" if post.htmx else "activities/qa/public_qa.html",
        values=values,
        refusal=post.refusal(exc, slug=slug),
        consent_for=consent_for if exc.field == "consent" else None,
    )


def _done(
    request: Request, *, slug: str, activity_id: int, db: DbDep, device_id: str, done: str
) -> Response:
    if is_htmx(request):
        return _page(
            request,
            slug=slug,
            activity_id=activity_id,
            db=db,
            device_id=device_id,
            sort=_sort(request),
            template="activities/qa/qa_box.html",
            notice=NOTICES[done](),
        )
    # Post/redirect/get: a reload does not send the question again.
    return RedirectResponse(f"{qa_path(slug, activity_id)}?done={done}", status_code=303)


@router.post("/c/{slug}/qa/{activity_id}/ask")
def ask(
    request: Request, slug: str, activity_id: Id, post: ParticipantPostDep, hub: HubDep
) -> Response:
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

    try:
        receipt = post.run(
            write, refused=_("Your question could not be accepted."), activity_id=activity_id
        )
    except IM2Error as exc:
        return _refused(request, post, exc, slug=slug, activity_id=activity_id, values=values)
    done = "asked" if receipt.visible else "waiting"
    return _done(
        request,
        slug=slug,
        activity_id=activity_id,
        db=post.db,
        device_id=post.visitor.device_id,
        done=done,
    )


@router.post("/c/{slug}/qa/{activity_id}/questions/{question_id}/upvote")
def upvote(
    request: Request,
    slug: str,
    activity_id: Id,
    question_id: Id,
    post: ParticipantPostDep,
    hub: HubDep,
) -> Response:
    def write(session: Session) -> None:
        service.do_upvote(
            session, slug=slug, activity_id=activity_id, question_id=question_id, **post.rules()
        )
        refresh_boards_on_commit(session, db=post.db, hub=hub, activity_id=activity_id)

    try:
        post.run(write, refused=_("Your upvote could not be accepted."), activity_id=activity_id)
    except IM2Error as exc:
        consent_for = f"{qa_path(slug, activity_id)}/questions/{question_id}/upvote"
        return _refused(
            request, post, exc, slug=slug, activity_id=activity_id, consent_for=consent_for
        )
    return _done(
        request,
        slug=slug,
        activity_id=activity_id,
        db=post.db,
        device_id=post.visitor.device_id,
        done="upvoted",
    )


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

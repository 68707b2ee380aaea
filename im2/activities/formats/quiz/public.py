"""The participant's quiz page: one question at a time, a plain form POST without JavaScript
(HTMX swaps the box with it), instant feedback for a quiz, and the public leaderboard."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.quiz import reports, service
from im2.activities.formats.quiz.schemas import QuizMode
from im2.errors import IM2Error, InvalidInput
from im2.i18n import _
from im2.web import participant_forms as forms
from im2.web.deps import DbDep, NowDep, VisitorDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import PageAtDep, ParticipantPostDep, as_int, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


def quiz_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/quiz/{activity_id}"


def shown_view(
    db: DbDep, *, slug: str, activity_id: int, device_id: str, now: NowDep
) -> service.QuizView:
    """The quiz as this device sees it; showing a question starts its clock (time bonus)."""
    with db.session() as session:
        view = service.view_quiz(
            session, slug=slug, activity_id=activity_id, device_id=device_id, now=now
        )
    if view.needs_stamp and view.state.current_question_id is not None:
        with db.transaction() as session:
            service.do_mark_shown(
                session, question_id=view.state.current_question_id, device_id=device_id, now=now
            )
    return view


def _page(
    at: forms.PageAt,
    *,
    answered: int | None = None,
    refusal: forms.Refusal = forms.NOTHING_REFUSED,
    fragment: bool = False,
) -> Response:
    view = shown_view(at.db, **at.keywords(), now=at.now)
    path = quiz_path(at.slug, at.activity_id)
    state = view.state
    current = next((q for q in state.questions if q.id == state.current_question_id), None)
    last = next((q for q in state.questions if q.id == answered and q.my_option_id), None)
    return render(
        at.request,
        "activities/quiz/quiz_box.html" if fragment else "activities/quiz/public_quiz.html",
        {
            "view": view,
            "state": state,
            "current": current,
            "last": last,
            "labels": {oid: label for q in state.questions for oid, label in q.options},
            "prediction": state.mode is QuizMode.PREDICTION,
            "answered_count": sum(1 for q in state.questions if q.my_option_id),
            **form_context(at.request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "action": path + "/answer",
            "board_url": path + "/leaderboard",
        },
        status_code=refusal.status_code,
    )


@router.get("/c/{slug}/quiz/{activity_id}")
def quiz_page(at: PageAtDep) -> Response:
    answered = at.request.query_params.get("answered")
    response = _page(at, answered=as_int(answered) if answered else None)
    return remember_channel(at.request, response)


@router.post("/c/{slug}/quiz/{activity_id}/answer")
def answer(slug: str, activity_id: Id, post: ParticipantPostDep) -> Response:
    page = partial(_page, post.at(slug, activity_id))
    question_id = as_int(post.form.get("question_id"))
    try:
        if not post.form.get("option"):
            raise InvalidInput(_("Choose an answer first."), field="option")
        post.run(
            lambda session: service.do_answer(
                session,
                slug=slug,
                activity_id=activity_id,
                question_id=question_id,
                option_id=as_int(post.form.get("option")),
                nickname=post.text("nickname", limit=20) or None,
                **post.rules(),
            ),
            refused=_("Your answer could not be accepted."),
            activity_id=activity_id,
        )
    except IM2Error as exc:
        return page(refusal=post.refusal(exc, slug=slug), fragment=post.htmx)
    if post.htmx:
        return page(answered=question_id, fragment=True)
    # Post/redirect/get: a reload does not send the answer again.
    return RedirectResponse(
        quiz_path(slug, activity_id) + f"?answered={question_id}", status_code=303
    )


@router.get("/c/{slug}/quiz/{activity_id}/leaderboard")
def leaderboard_page(
    request: Request, slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep
) -> Response:
    with db.session() as session:
        campaign, board = reports.public_leaderboard(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id
        )
    fragment = request.headers.get("hx-request") == "true"
    return render(
        request,
        "activities/quiz/board_live.html"
        if fragment
        else "activities/quiz/public_leaderboard.html",
        {
            "campaign": campaign,
            "board": board,
            "back": quiz_path(slug, activity_id),
            "board_url": quiz_path(slug, activity_id) + "/leaderboard",
        },
    )

"""The participant's survey: one question per page, a plain form POST without JavaScript
(HTMX swaps the box with it). Each step is saved on the server, so a reload, a new tab or a
return visit continues where the participant stopped."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from im2.activities.formats.survey import service
from im2.activities.formats.survey.logic import Q
from im2.activities.formats.survey.schemas import QuestionKind
from im2.errors import IM2Error, InvalidInput
from im2.i18n import _
from im2.web import participant_forms as forms
from im2.web.deps import remember_channel
from im2.web.params import Id
from im2.web.participant_forms import PageAtDep, ParticipantPostDep, as_int, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)


def survey_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/survey/{activity_id}"


def form_answer(question: Q, form: FormData) -> Any:
    """The posted fields of one question as the service expects its answer."""
    if question.kind is QuestionKind.MULTIPLE:
        return [as_int(v) for v in form.getlist("answer")]
    if question.kind is QuestionKind.RANKING:
        places = {o.id: str(form.get(f"rank_{o.id}") or "").strip() for o in question.options}
        if not any(places.values()):
            return None
        ranks = {oid: as_int(p) for oid, p in places.items()}
        if sorted(ranks.values()) != list(range(1, len(ranks) + 1)):
            raise InvalidInput(
                _("Give every item its own place, from 1 to {n}.").format(n=len(ranks)),
                field=f"q{question.id}",
            )
        return sorted(ranks, key=lambda oid: ranks[oid])
    value = str(form.get("answer") or "")
    if question.kind is QuestionKind.TEXT or not value.strip():
        return value
    return as_int(value)


def _page(
    at: forms.PageAt,
    *,
    position: int | None,
    refusal: forms.Refusal = forms.NOTHING_REFUSED,
    fragment: bool = False,
) -> Response:
    with at.db.session() as session:
        view = service.view_survey(session, **at.keywords())
    path = view.route()
    # Only questions on the participant's route can be shown; anything else resumes.
    current = next((q for q in path if q.position == position), None) or view.resume_at()
    previous = None
    if current is not None and current in path and path.index(current) > 0:
        previous = path[path.index(current) - 1]
    return render(
        at.request,
        "activities/survey/survey_box.html" if fragment else "activities/survey/public_survey.html",
        {
            "view": view,
            "current": None if view.submitted or view.closed_reason else current,
            "answer": view.answers.get(current.id) if current else None,
            "previous": previous,
            "step": (path.index(current) + 1) if current in path else 1,
            # The last question on the route so far (a later skip choice may still end it).
            "last": current is not None and bool(path) and path[-1] == current,
            "total": len(view.questions),
            **form_context(at.request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "action": survey_path(at.slug, at.activity_id) + "/answer",
            "kinds": QuestionKind,
        },
        status_code=refusal.status_code,
    )


@router.get("/c/{slug}/survey/{activity_id}")
def survey_page(at: PageAtDep) -> Response:
    q = at.request.query_params.get("q")
    response = _page(at, position=as_int(q) if q else None)
    return remember_channel(at.request, response)


@router.post("/c/{slug}/survey/{activity_id}/answer")
def answer(slug: str, activity_id: Id, post: ParticipantPostDep) -> Response:
    page = partial(_page, post.at(slug, activity_id))
    back = post.form.get("nav") == "back"
    question_id = as_int(post.form.get("question_id"))
    position: int | None = None
    try:
        with post.db.session() as session:
            view = service.view_survey(
                session, slug=slug, activity_id=activity_id, device_id=post.visitor.device_id
            )
        question = next((q for q in view.questions if q.id == question_id), None)
        if question is None:
            raise InvalidInput(_("That is not a question of this survey."), field="question_id")
        position = question.position
        value = form_answer(question, post.form)
        answers = {} if back and value in (None, "", []) else {question.id: value}
        step = None
        if answers or not back:
            step = post.run(
                lambda session: service.do_save(
                    session,
                    slug=slug,
                    activity_id=activity_id,
                    answers=answers,
                    submit=False,
                    step_from=None if back else question.id,
                    **post.rules(),
                ),
                refused=_("Your answer could not be accepted."),
                activity_id=activity_id,
            )
    except IM2Error as exc:
        return page(position=position, refusal=post.refusal(exc, slug=slug), fragment=post.htmx)
    if back:
        path = view.route()
        index = next((i for i, q in enumerate(path) if q.id == question.id), 0)
        target: int | None = path[max(index - 1, 0)].position
    else:
        target = step.next_question.position if step and step.next_question else None
    if post.htmx:
        return page(position=target, fragment=True)
    # Post/redirect/get: a reload does not send the step again.
    where = f"?q={target}" if target else "?done=1"
    return RedirectResponse(survey_path(slug, activity_id) + where, status_code=303)

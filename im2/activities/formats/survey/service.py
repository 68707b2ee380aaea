"""Surveys: the brand builds one, participants answer step by step (their draft is kept on
the server, so a reload or a new tab resumes where they were), then submit once.

"One submission per participant" is a unique index on (survey, participant), and submitting
flips `submitted_at` with a conditional UPDATE, so two racing submissions cannot both land.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import HeldReview, acting_event, add_activity, update_texts
from im2.activities.formats.survey.logic import (
    Answers,
    Opt,
    Q,
    check_structure,
    clean_answer,
    first_missing,
    next_on_route,
    on_route_only,
    route,
)
from im2.activities.formats.survey.models import SurveyOption, SurveyQuestion, SurveyResponse
from im2.activities.formats.survey.schemas import (
    ProgressRead,
    QuestionKind,
    SubmissionReceipt,
    SurveyCreate,
)
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.errors import Conflict, InvalidInput
from im2.events.schemas import EventKind
from im2.i18n import N_, _
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

# --- reading -----------------------------------------------------------------------------------


def questions_of(session: Session, *, activity_id: int) -> list[Q]:
    rows = list(
        session.scalars(
            select(SurveyQuestion)
            .where(SurveyQuestion.activity_id == activity_id)
            .order_by(SurveyQuestion.position)
        )
    )
    options: dict[int, list[Opt]] = {}
    for o in session.scalars(
        select(SurveyOption)
        .where(SurveyOption.question_id.in_([r.id for r in rows]))
        .order_by(SurveyOption.question_id, SurveyOption.position)
    ):
        options.setdefault(o.question_id, []).append(Opt(id=o.id, label=o.label, skip_to=o.skip_to))
    return [
        Q(
            id=r.id,
            position=r.position,
            kind=QuestionKind(r.kind),
            text=r.text,
            required=r.required,
            options=tuple(options.get(r.id, [])),
        )
        for r in rows
    ]


def stored(answers: dict[str, Any]) -> Answers:
    """JSON keys are strings; the code speaks question ids."""
    return {int(k): v for k, v in answers.items()}


def clean_all(questions: list[Q], raw: dict[int, Any]) -> Answers:
    by_id = {q.id: q for q in questions}
    cleaned: Answers = {}
    for qid, value in raw.items():
        question = by_id.get(qid)
        if question is None:
            raise InvalidInput(
                _("Question {id} is not part of this survey.").format(id=qid), field="answers"
            )
        cleaned[qid] = clean_answer(question, value)
    return cleaned


# --- console ----------------------------------------------------------------------------------


def do_create_survey(
    session: Session, *, actor: Actor, campaign_id: int, data: SurveyCreate, now: datetime
) -> ActivityRead:
    check_structure(data.questions)
    row = add_activity(
        session,
        ActivityKind.SURVEY,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings={"questions": len(data.questions)},
        now=now,
    )
    for position, question in enumerate(data.questions, start=1):
        q = SurveyQuestion(
            activity_id=row.id,
            position=position,
            kind=question.kind.value,
            text=question.text,
            required=question.required,
        )
        session.add(q)
        session.flush()
        session.add_all(
            SurveyOption(question_id=q.id, position=i, label=o.label, skip_to=o.skip_to)
            for i, o in enumerate(question.options)
        )
    session.flush()
    return activities.to_read(row)


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurveyView:
    campaign: CampaignRead
    activity: ActivityRead
    questions: list[Q]
    answers: Answers
    submitted: bool
    participant_id: int | None
    closed_reason: str | None

    def route(self) -> list[Q]:
        return route(self.questions, self.answers)

    def resume_at(self) -> Q | None:
        """Where a returning participant continues: the first unanswered question on their
        route, or the last one when everything is answered."""
        path = self.route()
        return next((q for q in path if self.answers.get(q.id) is None), path[-1] if path else None)


def _response(session: Session, *, activity_id: int, participant_id: int) -> SurveyResponse | None:
    return session.scalar(
        select(SurveyResponse).where(
            SurveyResponse.activity_id == activity_id,
            SurveyResponse.participant_id == participant_id,
        )
    )


def view_survey(session: Session, *, slug: str, activity_id: int, device_id: str) -> SurveyView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.SURVEY
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    response = (
        _response(session, activity_id=row.id, participant_id=participant.id)
        if participant
        else None
    )
    return SurveyView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        questions=questions_of(session, activity_id=row.id),
        answers=stored(response.answers) if response else {},
        submitted=bool(response and response.submitted_at),
        participant_id=participant.id if participant else None,
        closed_reason=activities.closed_reason(public.campaign),
    )


def progress(view: SurveyView) -> ProgressRead:
    nxt = view.resume_at()
    return ProgressRead(
        activity_id=view.activity.id,
        answers=view.answers,
        submitted=view.submitted,
        next_question_id=None if view.submitted or nxt is None else nxt.id,
    )


@dataclass(frozen=True, slots=True)
class Step:
    response_id: int
    next_question: Q | None
    submitted_at: datetime | None
    held: bool


def do_save(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    answers: dict[int, Any],
    submit: bool,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
    step_from: int | None = None,
) -> Step:
    """Merge `answers` into this participant's draft (an empty answer clears one); with
    `submit`, check the required questions on their route and submit. `step_from` is the
    question a page just answered to move on: it must be answered if required, and when the
    route ends there the survey is submitted. Every check runs before anything is written;
    the caller's transaction rolls back on any error."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.SURVEY
    )
    activities.require_open(public)
    questions = questions_of(session, activity_id=row.id)
    cleaned = clean_all(questions, answers)
    # The answers are judged before joining, so a blank required question and a missing
    # consent are both reported (the page lists every fault at once); a visitor who has not
    # joined has no draft yet.
    known = activities.participant_for(session, public=public, device_id=visitor.device_id)
    draft = _response(session, activity_id=row.id, participant_id=known.id) if known else None
    asked = submit
    merged, nxt, submit = _judged(questions, draft, cleaned, step_from=step_from, submit=asked)
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    pid = acting.participant.id
    response = draft
    if known is None or known.id != pid:  # joined just now, or a race joined first
        response = _response(session, activity_id=row.id, participant_id=pid)
        if response is not None:
            merged, nxt, submit = _judged(
                questions, response, cleaned, step_from=step_from, submit=asked
            )
    payload = {str(qid): value for qid, value in merged.items()}
    submitted_at = now if submit else None
    reasons = "; ".join(acting.risk.reasons)[:500] or None
    response = _store_response(
        session,
        response=response,
        activity_id=row.id,
        participant_id=pid,
        payload=payload,
        submit=submit,
        held=acting.held,
        reasons=reasons,
        now=now,
    )
    if submit:
        acting_event(
            session,
            EventKind.SURVEY_SUBMITTED,
            activity=row,
            acting=acting,
            now=now,
            visitor=visitor,
            answered=len(merged),
            questions=len(questions),
        )
    return Step(
        response_id=response.id, next_question=nxt, submitted_at=submitted_at, held=acting.held
    )


def _judged(
    questions: list[Q],
    response: SurveyResponse | None,
    cleaned: dict[int, Any],
    *,
    step_from: int | None,
    submit: bool,
) -> tuple[dict[int, Any], Q | None, bool]:
    """The draft with these answers merged, the next question on its route, and whether this
    save submits; raises on a survey already submitted or a required answer missing."""
    if response is not None and response.submitted_at is not None:
        raise Conflict(_("You have already submitted this survey."), field="answers")
    merged = {**(stored(response.answers) if response else {}), **cleaned}
    merged = {qid: value for qid, value in merged.items() if value is not None}
    nxt = next((q for q in route(questions, merged) if q.id not in merged), None)
    current = next((q for q in questions if q.id == step_from), None)
    if current is not None:
        if current.required and current.id not in merged:
            raise InvalidInput(_("This question needs an answer."), field=f"q{current.id}")
        nxt = next_on_route(questions, merged, current)
        submit = submit or nxt is None
    if submit:
        missing = first_missing(questions, merged)
        if missing is not None:
            raise InvalidInput(
                _("Question {n} needs an answer.").format(n=missing.position),
                field=f"q{missing.id}",
            )
        merged = on_route_only(questions, merged)
    return merged, nxt, submit


def _store_response(
    session: Session,
    *,
    response: SurveyResponse | None,
    activity_id: int,
    participant_id: int,
    payload: dict[str, Any],
    submit: bool,
    held: bool,
    reasons: str | None,
    now: datetime,
) -> SurveyResponse:
    """Write the draft (or the submission) as one row per person: the first save inserts it
    (a unique index settles two racing first saves), later ones update it only while it is
    not submitted, so a response is submitted once."""
    if response is None:
        response = SurveyResponse(
            activity_id=activity_id,
            participant_id=participant_id,
            answers=payload,
            started_at=now,
            updated_at=now,
            submitted_at=now if submit else None,
            held=held if submit else False,
            risk_reasons=reasons if submit else None,
        )
        try:
            with session.begin_nested():
                session.add(response)
                session.flush()
        except IntegrityError:
            # The same person in a racing request; they get a clear answer, and nothing here.
            message = (
                _("You have already submitted this survey.")
                if submit
                else _("Your answers were saved from another tab; reload the page.")
            )
            raise Conflict(message, field="answers") from None
    else:
        values: dict[str, Any] = {"answers": payload, "updated_at": now}
        if submit:
            values.update(submitted_at=now, held=held, risk_reasons=reasons)
        done = session.execute(
            update(SurveyResponse)
            .where(SurveyResponse.id == response.id, SurveyResponse.submitted_at.is_(None))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if getattr(done, "rowcount", 0) != 1:
            raise Conflict(_("You have already submitted this survey."), field="answers")
        session.expire(response)
    return response


def receipt(step: Step, *, activity_id: int) -> SubmissionReceipt:
    assert step.submitted_at is not None
    return SubmissionReceipt(
        response_id=step.response_id,
        activity_id=activity_id,
        submitted_at=step.submitted_at,
        held_for_review=step.held,
    )


# A held submission reviewed in the console: counted when approved, deleted when rejected (the
# person may then fill in the survey again).
do_review_response = HeldReview(
    ActivityKind.SURVEY,
    SurveyResponse,
    "response_id",
    N_("No such response waiting for review."),
    "survey_response",
)


do_update_survey = update_texts(ActivityKind.SURVEY)

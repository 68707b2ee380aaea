"""JSON API of surveys: the brand's side, and the participant's progress and submission."""

from __future__ import annotations

from fastapi import APIRouter

from im2.activities.formats.api import ParticipantApiDep, add_console_read
from im2.activities.formats.survey import reports, service
from im2.activities.formats.survey.schemas import (
    AnswersIn,
    ProgressRead,
    SubmissionReceipt,
    SurveyPublic,
    SurveyQuestionPublic,
    SurveySummary,
)
from im2.web.deps import DbDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["surveys"])


add_console_read(
    router,
    "/surveys/{activity_id}/summary",
    reports.survey_summary,
    name="summary",
    response_model=SurveySummary,
    summary="Per-question summary of the submitted responses (held ones counted apart)",
)


@router.get(
    "/public/campaigns/{slug}/surveys/{activity_id}",
    response_model=SurveyPublic,
    tags=["participants"],
    summary="The questions (with their skip rules), this device's saved answers, and state",
)
def public_survey(slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep) -> SurveyPublic:
    with db.session() as session:
        view = service.view_survey(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id
        )
    return SurveyPublic(
        **service.progress(view).model_dump(),
        title=view.activity.title,
        open=view.closed_reason is None,
        closed_reason=view.closed_reason,
        questions=[
            SurveyQuestionPublic.model_validate(q, from_attributes=True) for q in view.questions
        ],
    )


@router.get(
    "/public/campaigns/{slug}/surveys/{activity_id}/progress",
    response_model=ProgressRead,
    tags=["participants"],
    summary="This device's saved answers and where to continue",
)
def get_progress(slug: str, activity_id: Id, visitor: VisitorDep, db: DbDep) -> ProgressRead:
    with db.session() as session:
        view = service.view_survey(
            session, slug=slug, activity_id=activity_id, device_id=visitor.device_id
        )
    return service.progress(view)


@router.put(
    "/public/campaigns/{slug}/surveys/{activity_id}/progress",
    response_model=ProgressRead,
    tags=["participants"],
    summary="Save answers so far (merged into the draft; an empty answer clears one)",
)
def save_progress(
    slug: str,
    activity_id: Id,
    body: AnswersIn,
    act: ParticipantApiDep,
) -> ProgressRead:
    act.write(
        lambda session: service.do_save(
            session,
            slug=slug,
            activity_id=activity_id,
            answers=dict(body.answers),
            submit=False,
            **act.rules(body.consent),
        ),
        consent=body,
    )
    return get_progress(slug, activity_id, act.visitor, act.db)


@router.post(
    "/public/campaigns/{slug}/surveys/{activity_id}/responses",
    response_model=SubmissionReceipt,
    status_code=201,
    tags=["participants"],
    summary="Submit (answers merged into any saved draft); once per participant",
)
def submit(
    slug: str,
    activity_id: Id,
    body: AnswersIn,
    act: ParticipantApiDep,
) -> SubmissionReceipt:
    step = act.write(
        lambda session: service.do_save(
            session,
            slug=slug,
            activity_id=activity_id,
            answers=dict(body.answers),
            submit=True,
            **act.rules(body.consent),
        ),
        consent=body,
    )
    return service.receipt(step, activity_id=activity_id)

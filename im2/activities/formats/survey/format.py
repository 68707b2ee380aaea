"""The survey format's declaration (`im2.activities.protocol`): the shared console makes its
create, detail, edit and export routes from it; the review of held responses is its own page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from im2.activities.formats.builder import has_builder_fields
from im2.activities.formats.declare import Shown, detail_page, json_api, texts
from im2.activities.formats.survey import builder, reports, service
from im2.activities.formats.survey.demo import load_demo
from im2.activities.formats.survey.logic import parse_questions
from im2.activities.formats.survey.schemas import (
    KIND_NAMES,
    QuestionKind,
    SurveyCreate,
    SurveyUpdate,
)
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import QUESTIONS_HINT, ActivityKind
from im2.campaigns.schemas import CampaignRead
from im2.workspaces.schemas import Actor

EXAMPLE = (
    "单选*: 你喝过我们的樱花拿铁吗？\n喝过\n没喝过 -> 3\n\n"
    "评分*: 你给樱花拿铁打几分？\n\n"
    "NPS: 你有多大可能把我们推荐给朋友？\n\n"
    "填空: 还有什么想对我们说的？"
)


class SurveySettings(BaseModel):
    """`Activity.settings` of a survey (its questions are rows of their own)."""

    model_config = ConfigDict(extra="forbid")

    questions: int = 0


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    """The console's create form as `SurveyCreate` input: the visual builder's fields
    (`builder.parse_builder`, every problem at once), or the questions in the text format
    (`logic.parse_questions`) when the builder sent none."""
    if has_builder_fields(raw):
        return builder.parse_builder(raw)
    questions = parse_questions(raw.get("questions", ""))
    return {
        **texts(raw),
        "questions": [q.model_dump() for q in questions],
    }


def detail_context(shown: Shown) -> dict[str, Any]:
    summary = shown.read(reports.survey_summary)
    started = summary.responses + summary.in_progress
    return {
        "summary": summary,
        "held": shown.read(reports.list_held),
        "completion": summary.responses / started if started else 0.0,
        "kind_names": KIND_NAMES,
        "kinds": QuestionKind,
    }


def export_table(
    session: Session, *, actor: Actor, activity_id: int, now: datetime
) -> tuple[Sequence[str], Iterable[Mapping[str, Any]]]:
    """One row per response, one column per question (so the columns are the survey's)."""
    return reports.export_survey(session, actor=actor, activity_id=activity_id)


def choices_only(answers: Any) -> dict[str, Any]:
    """A response's answers without the free text, for an erased person's response: choices,
    ratings, scores and ranks are option ids and numbers (`logic.clean_answer`), which tell
    nothing about who gave them on their own and keep every tally true; a text answer is the
    person's own words."""
    if not isinstance(answers, Mapping):
        return {}

    def choice(value: Any) -> bool:
        if isinstance(value, list):
            return all(choice(v) for v in value)
        return isinstance(value, int) and not isinstance(value, bool)

    return {key: value for key, value in answers.items() if choice(value)}


FORMAT = ActivityFormat(
    kind=ActivityKind.SURVEY,
    settings=SurveySettings,
    package=__package__ or "",
    people_data=(
        # Answers can be free text in the person's own words: erasure clears those and keeps
        # the choices, so the tallies stay true (docs/privacy.md).
        PeopleData(
            table="survey_responses",
            participant_columns=("participant_id",),
            personal_columns=("answers",),
            kept_in_part=(("answers", choices_only),),
        ),
    ),
    actions=(PublicAction(path="answer", summary="Save an answer and go to the next question"),),
    create=CreateForm(
        template="activities/survey/survey_form.html",
        model=SurveyCreate,
        parse=parse_form,
        create=service.do_create_survey,
        context={"example": EXAMPLE, "builder_state": builder.state, "kind_names": KIND_NAMES},
    ),
    detail=detail_page("activities/survey/detail.html", detail_context),
    export=Export(filename="survey-{id}-responses.csv", table=export_table),
    text_editor_hint=QUESTIONS_HINT,
    api=json_api(
        "surveys",
        (SurveyCreate, service.do_create_survey, "Add a survey to a campaign"),
        (SurveyUpdate, service.do_update_survey, "Edit the texts"),
    ),
    demo=load_demo,
)

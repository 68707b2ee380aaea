"""The quiz and prediction format's declaration (`im2.activities.protocol`): the shared console
makes its create, detail, edit and export routes from it; closing questions, settling
predictions, reviewing held answers and the leaderboard download are its own pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from im2.activities.formats.builder import has_builder_fields
from im2.activities.formats.declare import Shown, detail_page, json_api, texts
from im2.activities.formats.quiz import builder, reports, service
from im2.activities.formats.quiz.demo import load_demo
from im2.activities.formats.quiz.schemas import MODE_LABELS, QuizCreate, QuizMode, QuizUpdate
from im2.activities.formats.quiz.scoring import parse_questions
from im2.activities.protocol import (
    ActivityFormat,
    CreateForm,
    Export,
    PeopleData,
    PublicAction,
)
from im2.activities.schemas import QUESTIONS_HINT, ActivityKind
from im2.campaigns.schemas import CampaignRead
from im2.errors import InvalidInput
from im2.i18n import _

EXAMPLE = "咖啡豆其实是咖啡树的什么？\n* 果实里的种子\n豆科植物的豆子\n树根"


class QuizSettings(BaseModel):
    """`Activity.settings` of a quiz or prediction."""

    model_config = ConfigDict(extra="forbid")

    mode: QuizMode = QuizMode.QUIZ
    time_bonus: bool = False
    bonus_seconds: int = 20
    closes_at: str | None = None


def parse_form(raw: Mapping[str, str], campaign: CampaignRead) -> dict[str, Any]:
    """The console's create form as `QuizCreate` input: the visual builder's questions
    (`builder.parse_builder`, every problem at once), or questions as text, one option a line,
    the correct one starred (`scoring.parse_questions`), when the builder sent none."""
    mode = QuizMode.PREDICTION if raw.get("mode") == "prediction" else QuizMode.QUIZ
    base: dict[str, Any] = {
        **texts(raw),
        "mode": mode,
        "time_bonus": raw.get("time_bonus") == "on",
        "bonus_seconds": raw.get("bonus_seconds") or 20,
        "closes_at": raw.get("closes_at") or None,
    }
    if has_builder_fields(raw):
        return builder.parse_builder(raw, base)
    try:
        points = int(raw.get("points") or 10)
    except ValueError:
        raise InvalidInput(_("Enter a number."), field="points") from None
    if not 1 <= points <= 1000:
        raise InvalidInput(_("Must be at most {n}.").format(n=1000), field="points")
    questions = parse_questions(raw.get("questions", ""), mode=mode, points=points)
    return {**base, "questions": [q.model_dump() for q in questions]}


def detail_context(shown: Shown) -> dict[str, Any]:
    results = shown.read(reports.quiz_results)
    return {
        "results": results,
        "board": shown.read(reports.quiz_leaderboard, limit=50),
        "held": shown.read(reports.list_held),
        "mode_labels": MODE_LABELS,
        "prediction": results.mode is QuizMode.PREDICTION,
    }


FORMAT = ActivityFormat(
    kind=ActivityKind.QUIZ,
    settings=QuizSettings,
    package=__package__ or "",
    people_data=(
        PeopleData(table="quiz_shown", device_columns=("device_id",)),
        PeopleData(
            table="quiz_entries",
            participant_columns=("participant_id",),
            personal_columns=("nickname",),
        ),
        PeopleData(table="quiz_answers", participant_columns=("participant_id",)),
    ),
    actions=(PublicAction(path="answer", summary="Answer a question"),),
    create=CreateForm(
        template="activities/quiz/quiz_form.html",
        model=QuizCreate,
        parse=parse_form,
        create=service.do_create_quiz,
        defaults={"mode": QuizMode.QUIZ.value, "points": "10", "bonus_seconds": "20"},
        context={
            "modes": list(QuizMode),
            "mode_labels": MODE_LABELS,
            "example": EXAMPLE,
            "builder_state": builder.state,
        },
    ),
    detail=detail_page("activities/quiz/detail.html", detail_context),
    export=Export(
        columns=(
            "answer_id",
            "participant_id",
            "nickname",
            "question_no",
            "question",
            "option",
            "correct",
            "points",
            "seconds",
            "answered_at",
            "held_for_review",
            "risk_reasons",
        ),
        rows=reports.export_quiz,
        filename="quiz-{id}-answers.csv",
    ),
    text_editor_hint=QUESTIONS_HINT,
    api=json_api(
        "quizzes",
        (QuizCreate, service.do_create_quiz, "Add a quiz or a prediction game to a campaign"),
        (QuizUpdate, service.do_update_quiz, "Edit the texts"),
    ),
    demo=load_demo,
)

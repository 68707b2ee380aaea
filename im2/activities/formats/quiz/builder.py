"""The quiz's visual builder on the server side: its numbered form fields as `QuizCreate` input
with every problem reported at once under its field, and the builder's starting state (what was
typed, or the text format turned into questions).

Fields, `i` the question's place on screen and `j` the option's (both from 0): `q-i-text`,
`q-i-points`, `q-i-correct` (the `j` of the correct option; quizzes only) and `q-i-opt-j-label`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from im2.activities.formats.builder import (
    Problem,
    check_all,
    has_builder_fields,
    option_indexes,
    question_indexes,
)
from im2.activities.formats.quiz.schemas import QuizCreate, QuizMode
from im2.activities.formats.quiz.scoring import parse_questions
from im2.errors import InvalidInput
from im2.i18n import _


def questions_from_fields(raw: Mapping[str, str], *, mode: QuizMode) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = []
    for i in question_indexes(raw):
        labels = [raw.get(f"q-{i}-opt-{j}-label", "") for j in option_indexes(raw, i)]
        correct_raw = raw.get(f"q-{i}-correct", "").strip()
        correct: int | None = None
        if mode is QuizMode.QUIZ and correct_raw.isdigit():
            # the option's place among those posted (a gap in the numbers is closed up)
            posted = option_indexes(raw, i)
            if int(correct_raw) in posted:
                correct = posted.index(int(correct_raw))
        questions.append(
            {
                "text": raw.get(f"q-{i}-text", ""),
                "options": labels,
                "correct": correct,
                "points": raw.get(f"q-{i}-points", "").strip() or "10",
            }
        )
    return questions


def parse_builder(raw: Mapping[str, str], base: dict[str, Any]) -> dict[str, Any]:
    """The builder's fields (and the form's other fields, `base`) as `QuizCreate` input, or a
    ValidationError naming every field that is wrong."""
    mode = QuizMode(base["mode"])
    data = {**base, "questions": questions_from_fields(raw, mode=mode)}
    check_all(QuizCreate, data, lambda: _option_problems(data["questions"], mode))
    return data


def _option_problems(questions: list[dict[str, Any]], mode: QuizMode) -> Iterator[Problem]:
    """A question with two options of the same text, or a quiz question with none marked."""
    for i, question in enumerate(questions):
        labels = [label.strip() for label in question["options"] if label.strip()]
        number = i + 1
        if len(set(labels)) != len(labels):
            yield (
                f"q-{i}-options",
                _("Question {n} has two options with the same text.").format(n=number),
            )
        elif mode is QuizMode.QUIZ and question["correct"] is None:
            yield (
                f"q-{i}-correct",
                _("Question {n} has no correct option: mark one.").format(n=number),
            )


def state(values: Mapping[str, str]) -> dict[str, Any]:
    """What the builder starts with: the posted fields (a form shown again keeps everything
    typed), else the text format's questions, else nothing (the page adds an empty one)."""
    mode = QuizMode.PREDICTION if values.get("mode") == "prediction" else QuizMode.QUIZ
    if has_builder_fields(values):
        questions = []
        for i in question_indexes(values):
            posted = option_indexes(values, i)
            correct = values.get(f"q-{i}-correct", "")
            questions.append(
                {
                    "text": values.get(f"q-{i}-text", ""),
                    "points": values.get(f"q-{i}-points", "10"),
                    "correct": posted.index(int(correct))
                    if correct.isdigit() and int(correct) in posted
                    else None,
                    "options": [values.get(f"q-{i}-opt-{j}-label", "") for j in posted],
                }
            )
        return {"questions": questions}
    try:
        points = int(values.get("points") or 10)
        parsed = parse_questions(values.get("questions", ""), mode=mode, points=points)
    except (InvalidInput, ValueError):
        parsed = []
    return {
        "questions": [
            {
                "text": q.text,
                "points": str(q.points),
                "correct": q.correct,
                "options": list(q.options),
            }
            for q in parsed
        ]
    }

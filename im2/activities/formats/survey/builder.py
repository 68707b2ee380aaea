"""The survey's visual builder on the server side: its numbered form fields as `SurveyCreate`
input with every problem reported at once under its field, the builder's starting state (what
was typed, or the text format turned into questions), and the text format written back.

Fields, `i` the question's place on screen and `j` the option's (both from 0):
`q-i-kind`, `q-i-text`, `q-i-required` ("on"), `q-i-opt-j-label`, and for single choices
`q-i-opt-j-skip` ("" for the next question, "end", or the number of a later question)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from im2.activities.formats.builder import (
    Problem,
    check_all,
    has_builder_fields,
    option_indexes,
    question_indexes,
)
from im2.activities.formats.survey.logic import parse_questions, structure_problems
from im2.activities.formats.survey.schemas import (
    END,
    WITH_OPTIONS,
    QuestionKind,
    SurveyCreate,
    SurveyQuestionIn,
)
from im2.errors import InvalidInput


def _skip(value: str) -> int | str | None:
    value = value.strip()
    if not value:
        return None
    if value == "end":
        return END
    return int(value) if value.isdigit() else value  # anything else: the model refuses it


def questions_from_fields(raw: Mapping[str, str]) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = []
    for i in question_indexes(raw):
        kind = raw.get(f"q-{i}-kind", "")
        options = []
        for j in option_indexes(raw, i):
            option: dict[str, Any] = {"label": raw.get(f"q-{i}-opt-{j}-label", "")}
            skip = _skip(raw.get(f"q-{i}-opt-{j}-skip", ""))
            if skip is not None and kind == QuestionKind.SINGLE.value:
                option["skip_to"] = skip
            options.append(option)
        questions.append(
            {
                "kind": kind,
                "text": raw.get(f"q-{i}-text", ""),
                "required": raw.get(f"q-{i}-required") == "on",
                "options": options if kind in {k.value for k in WITH_OPTIONS} else [],
            }
        )
    return questions


def parse_builder(raw: Mapping[str, str]) -> dict[str, Any]:
    """The builder's fields as `SurveyCreate` input, or a ValidationError naming every field
    that is wrong (the title, each question's text, each option, each skip rule)."""
    questions = questions_from_fields(raw)
    data = {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "questions": questions,
    }
    check_all(SurveyCreate, data, lambda: _structure_problems(questions))
    return data


def _structure_problems(questions: list[dict[str, Any]]) -> Iterator[Problem]:
    """The structure rules (options, skips), on the valid questions: one not valid counts as
    a text question so that the others keep their numbers."""
    valid: list[SurveyQuestionIn] = []
    for question in questions:
        try:
            valid.append(SurveyQuestionIn.model_validate(question))
        except ValidationError:
            valid.append(SurveyQuestionIn(kind=QuestionKind.TEXT, text="-"))
    for where, message in structure_problems(valid):
        field = f"q-{where[0]}-options" if len(where) == 1 else f"q-{where[0]}-opt-{where[1]}-skip"
        yield field, message


def state(values: Mapping[str, str]) -> dict[str, Any]:
    """What the builder starts with: the posted fields (a form shown again keeps everything
    typed), else the text format's questions, else one empty single-choice question."""
    if has_builder_fields(values):
        questions = questions_from_fields(values)
    else:
        try:
            parsed = parse_questions(values.get("questions", ""))
        except InvalidInput:
            parsed = []
        questions = [q.model_dump(mode="json") for q in parsed]
    out = []
    for q in questions:
        out.append(
            {
                "kind": str(q.get("kind") or QuestionKind.SINGLE.value),
                "text": q.get("text", ""),
                "required": bool(q.get("required")),
                "options": [
                    {
                        "label": o.get("label", ""),
                        "skip": ""
                        if o.get("skip_to") is None
                        else ("end" if o.get("skip_to") == END else str(o.get("skip_to"))),
                    }
                    for o in q.get("options", [])
                ],
            }
        )
    return {"questions": out}

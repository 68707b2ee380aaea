"""Pure rules of a survey: checking one answer, the route a participant takes through the skip
rules, the summary of many responses, and the console's text editor. Plain data in and out."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from im2.activities.formats.survey.schemas import (
    END,
    WITH_OPTIONS,
    NpsSummary,
    OptionCount,
    QuestionKind,
    QuestionSummary,
    RankRow,
    SurveyOptionIn,
    SurveyQuestionIn,
)
from im2.errors import InvalidInput
from im2.i18n import _

TEXT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class Opt:
    id: int
    label: str
    skip_to: int | None


@dataclass(frozen=True, slots=True)
class Q:
    id: int
    position: int
    kind: QuestionKind
    text: str
    required: bool
    options: tuple[Opt, ...]


Answers = dict[int, Any]  # question id → cleaned answer


def _bad(question: Q, message: str) -> InvalidInput:
    return InvalidInput(message, field=f"q{question.id}")


def clean_answer(question: Q, raw: Any) -> Any:
    """The answer in its stored form, None for "no answer", or InvalidInput for anything that
    does not fit the question (an option of another question, a rating of 7, a partial rank)."""
    if raw is None or raw == "" or raw == []:
        return None
    ids = {o.id for o in question.options}
    kind = question.kind
    if kind is QuestionKind.SINGLE:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw not in ids:
            raise _bad(question, _("That is not an option of this question."))
        return raw
    if kind in (QuestionKind.MULTIPLE, QuestionKind.RANKING):
        if not isinstance(raw, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in raw
        ):
            raise _bad(question, _("The answer is not valid."))
        if len(set(raw)) != len(raw) or not set(raw) <= ids:
            raise _bad(question, _("That is not an option of this question."))
        if kind is QuestionKind.RANKING and set(raw) != ids:
            raise _bad(
                question, _("Give every item its own place, from 1 to {n}.").format(n=len(ids))
            )
        return list(raw)
    if kind is QuestionKind.TEXT:
        if not isinstance(raw, str):
            raise _bad(question, _("The answer is not valid."))
        text = raw.strip()[:TEXT_LIMIT]
        return text or None
    low, high = (1, 5) if kind is QuestionKind.RATING else (0, 10)
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise _bad(question, _("Choose a number from {low} to {high}.").format(low=low, high=high))
    return raw


def route(questions: list[Q], answers: Answers) -> list[Q]:
    """The questions this participant goes through, following the skip rules of the single
    choices they made; questions jumped over are not asked and not required."""
    by_position = {q.position: q for q in questions}
    path: list[Q] = []
    position = min(by_position, default=1)
    while position in by_position:
        question = by_position[position]
        path.append(question)
        position += 1
        chosen = answers.get(question.id)
        if question.kind is QuestionKind.SINGLE and chosen is not None:
            jump = next((o.skip_to for o in question.options if o.id == chosen), None)
            if jump == END:
                break
            if jump is not None and jump > question.position:
                position = jump
    return path


def next_on_route(questions: list[Q], answers: Answers, after: Q) -> Q | None:
    path = route(questions, answers)
    ids = [q.id for q in path]
    if after.id not in ids:
        return path[0] if path else None
    index = ids.index(after.id)
    return path[index + 1] if index + 1 < len(path) else None


def first_missing(questions: list[Q], answers: Answers) -> Q | None:
    return next(
        (q for q in route(questions, answers) if q.required and answers.get(q.id) is None), None
    )


def on_route_only(questions: list[Q], answers: Answers) -> Answers:
    """Answers to questions the route skipped are dropped at submission."""
    kept = {q.id for q in route(questions, answers)}
    return {qid: value for qid, value in answers.items() if qid in kept and value is not None}


def nps(scores: list[int]) -> NpsSummary:
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    total = len(scores)
    score = (promoters - detractors) * 100 / total if total else 0.0
    return NpsSummary(
        score=round(score, 1),
        promoters=promoters,
        passives=total - promoters - detractors,
        detractors=detractors,
    )


def summarize(question: Q, values: list[Any]) -> QuestionSummary:
    """One question over the submitted answers (values are cleaned answers, never None)."""
    summary = QuestionSummary(
        id=question.id,
        position=question.position,
        kind=question.kind,
        text=question.text,
        required=question.required,
        answered=len(values),
    )
    kind = question.kind
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        counts = Counter(
            v for value in values for v in (value if isinstance(value, list) else [value])
        )
        summary.options = [
            OptionCount(
                label=o.label,
                count=counts[o.id],
                share=counts[o.id] / len(values) if values else 0.0,
            )
            for o in question.options
        ]
    elif kind in (QuestionKind.RATING, QuestionKind.NPS):
        low, high = (1, 5) if kind is QuestionKind.RATING else (0, 10)
        counts = Counter(values)
        summary.average = round(sum(values) / len(values), 2) if values else None
        summary.options = [
            OptionCount(
                label=str(n), count=counts[n], share=counts[n] / len(values) if values else 0.0
            )
            for n in range(low, high + 1)
        ]
        if kind is QuestionKind.NPS:
            summary.nps = nps(values)
    elif kind is QuestionKind.RANKING:
        n = len(question.options)
        rows = []
        for o in question.options:
            places = [value.index(o.id) + 1 for value in values if o.id in value]
            rows.append(
                RankRow(
                    label=o.label,
                    average_rank=round(sum(places) / len(places), 2) if places else 0.0,
                    first_places=sum(1 for p in places if p == 1),
                    points=sum(n - p for p in places),
                )
            )
        summary.ranking = sorted(rows, key=lambda r: (-r.points, r.label))
    else:
        summary.texts = [str(v) for v in values[-30:]][::-1]
    return summary


_HEADER = re.compile(r"^(?P<kind>[^:：*＊]+?)\s*(?P<req>[*＊])?\s*[:：]\s*(?P<text>.+)$")
_SKIP = re.compile(r"^(?P<label>.+?)\s*(?:->|→)\s*(?P<to>\d+|end|结束)$", re.IGNORECASE)
KIND_WORDS = {
    "单选": QuestionKind.SINGLE,
    "多选": QuestionKind.MULTIPLE,
    "填空": QuestionKind.TEXT,
    "文本": QuestionKind.TEXT,
    "评分": QuestionKind.RATING,
    "nps": QuestionKind.NPS,
    "推荐": QuestionKind.NPS,
    "排序": QuestionKind.RANKING,
    **{k.value: k for k in QuestionKind},
}


def parse_questions(text: str) -> list[SurveyQuestionIn]:
    """The console's editor: one block per question, separated by an empty line. The first
    line is `type: question` (type 单选/多选/填空/评分/NPS/排序; a * after the type makes it
    required), then one option per line; a single-choice option may end with `-> 5` (jump to
    question 5) or `-> 结束` (end the survey)."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    if not blocks:
        raise InvalidInput(_("Add at least one question."), field="questions")
    questions: list[SurveyQuestionIn] = []
    for number, block in enumerate(blocks, start=1):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        header = _HEADER.match(lines[0])
        kind = KIND_WORDS.get(header.group("kind").strip().lower()) if header else None
        if header is None or kind is None:
            raise InvalidInput(
                _("Question {n}: start with a type, e.g. 单选: or 评分*:").format(n=number),
                field="questions",
            )
        options: list[SurveyOptionIn] = []
        for line in lines[1:]:
            label, skip_to = line.lstrip("-").strip(), None
            skip = _SKIP.match(label)
            if skip:
                label = skip.group("label").strip()
                to = skip.group("to")
                skip_to = int(to) if to.isdigit() else END
            options.append(SurveyOptionIn(label=label[:120], skip_to=skip_to))
        questions.append(
            SurveyQuestionIn(
                kind=kind,
                text=header.group("text").strip()[:300],
                required=bool(header.group("req")),
                options=options,
            )
        )
    return questions


def structure_problems(questions: list[SurveyQuestionIn]) -> list[tuple[tuple[int, ...], str]]:
    """Every structural problem at once, each with where it is: `(question,)` for the
    question's options as a whole, `(question, option)` for one option's skip rule (indexes
    from 0). Options where they belong, and skip rules that jump forward to a real question."""
    problems: list[tuple[tuple[int, ...], str]] = []
    count = len(questions)
    for index, question in enumerate(questions):
        number = index + 1
        has_options = question.kind in WITH_OPTIONS
        if has_options and not 2 <= len(question.options) <= 20:
            problems.append(((index,), _("Question {n} needs 2 to 20 options.").format(n=number)))
        if not has_options and question.options:
            problems.append(((index,), _("Question {n} takes no options.").format(n=number)))
        labels = [o.label for o in question.options]
        if len(set(labels)) != len(labels):
            problems.append(
                ((index,), _("Question {n} has two options with the same text.").format(n=number))
            )
        for o_index, option in enumerate(question.options):
            if option.skip_to is None:
                continue
            if question.kind is not QuestionKind.SINGLE:
                problems.append(
                    (
                        (index, o_index),
                        _("Question {n}: only single-choice options can skip.").format(n=number),
                    )
                )
            elif option.skip_to != END and not number < option.skip_to <= count:
                problems.append(
                    (
                        (index, o_index),
                        _("Question {n} skips to a question that does not come after it.").format(
                            n=number
                        ),
                    )
                )
    return problems


def check_structure(questions: list[SurveyQuestionIn]) -> None:
    """The first of `structure_problems`, as the service's refusal."""
    problems = structure_problems(questions)
    if problems:
        raise InvalidInput(problems[0][1], field="questions")

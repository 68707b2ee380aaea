"""Pure rules of the quiz: the time bonus, ranking with ties, and the console's text editor.
Plain data in and out, no database, so they are tested directly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from im2.activities.formats.quiz.schemas import QuizMode, QuizQuestionIn
from im2.errors import InvalidInput
from im2.i18n import _


def answer_points(
    *, base: int, correct: bool, elapsed_ms: int | None, bonus_seconds: int | None
) -> int:
    """A correct answer earns `base`; with a time bonus up to `base` more, falling linearly to
    nothing at `bonus_seconds` after the question was first shown. No measured time, no bonus."""
    if not correct:
        return 0
    if bonus_seconds is None or elapsed_ms is None:
        return base
    remaining = max(0.0, 1.0 - elapsed_ms / (bonus_seconds * 1000))
    return base + round(base * remaining)


@dataclass(frozen=True, slots=True)
class Tally:
    participant_id: int
    score: int
    correct: int
    answered: int
    finished_at: datetime


def rank(tallies: list[Tally]) -> list[tuple[int, Tally]]:
    """Standard competition ranking ("1224"): the same score shares a rank; within a rank the
    person who finished first is listed first, so the order is stable and fair to show."""
    ordered = sorted(tallies, key=lambda t: (-t.score, t.finished_at, t.participant_id))
    ranked: list[tuple[int, Tally]] = []
    for index, tally in enumerate(ordered):
        if index and tally.score == ordered[index - 1].score:
            ranked.append((ranked[-1][0], tally))
        else:
            ranked.append((index + 1, tally))
    return ranked


def parse_questions(text: str, *, mode: QuizMode, points: int) -> list[QuizQuestionIn]:
    """The console's editor: questions separated by a blank line, the first line the question,
    then one option per line; in a quiz, the correct option starts with `*`."""
    blocks = [b for b in (block.strip() for block in text.replace("\r\n", "\n").split("\n\n")) if b]
    if not blocks:
        raise InvalidInput(_("Add at least one question."), field="questions")
    questions: list[QuizQuestionIn] = []
    for number, block in enumerate(blocks, start=1):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        options: list[str] = []
        correct: int | None = None
        for line in lines[1:]:
            if line.startswith(("*", "＊")):
                if correct is not None:
                    raise InvalidInput(
                        _("Question {n} marks more than one correct option.").format(n=number),
                        field="questions",
                    )
                correct = len(options)
                line = line[1:].strip()
            options.append(line.lstrip("-").strip())
        if mode is QuizMode.QUIZ and correct is None:
            raise InvalidInput(
                _("Question {n} has no correct option: start it with *.").format(n=number),
                field="questions",
            )
        try:
            questions.append(
                QuizQuestionIn(
                    text=lines[0],
                    options=options,
                    correct=correct if mode is QuizMode.QUIZ else None,
                    points=points,
                )
            )
        except ValidationError:
            raise InvalidInput(
                _("Question {n} needs 2 to 10 options of at most 120 characters.").format(n=number),
                field="questions",
            ) from None
    return questions

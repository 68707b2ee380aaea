"""What each activity came to, in a sentence or three: the poll's winner, the quiz's players and
best scores, the survey's top answers. Read from each format's own results (the numbers the
activity's console page shows), in the report's language."""

from __future__ import annotations

from sqlalchemy.orm import Session

from im2.activities.formats.poll import service as polls
from im2.activities.formats.quiz import reports as quizzes
from im2.activities.formats.quiz.schemas import QuizMode
from im2.activities.formats.survey import reports as surveys
from im2.activities.formats.survey.schemas import QuestionKind, QuestionSummary
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.i18n import _, get_locale
from im2.reports.numbers import fmt_number, fmt_percent
from im2.reports.schemas import ActivityResult
from im2.workspaces.schemas import Actor

TOP_OPTIONS = 3
TOP_PLAYERS = 3
SURVEY_QUESTIONS = 4


def _poll(session: Session, *, actor: Actor, activity: ActivityRead) -> ActivityResult:
    found = polls.poll_results(session, actor=actor, activity_id=activity.id)
    ranked = sorted(found.options, key=lambda o: -o.votes)
    if not found.voters or not ranked or not ranked[0].votes:
        return ActivityResult(activity.title, activity.kind, _("No votes yet."), [])
    top = ranked[0]
    tied = [o.label for o in ranked if o.votes == top.votes]
    if len(tied) > 1:
        headline = _("A tie between {options}, {votes} votes each ({voters} voters).").format(
            options=("、" if get_locale().startswith("zh") else ", ").join(tied),
            votes=fmt_number(top.votes),
            voters=fmt_number(found.voters),
        )
    else:
        headline = _("{option} won with {votes} votes, {share} of the votes ({voters} voters).")
        headline = headline.format(
            option=top.label,
            votes=fmt_number(top.votes),
            share=fmt_percent(top.share * 100),
            voters=fmt_number(found.voters),
        )
    lines = [
        _("{option}: {votes} votes ({share})").format(
            option=o.label, votes=fmt_number(o.votes), share=fmt_percent(o.share * 100)
        )
        for o in ranked[:TOP_OPTIONS]
    ]
    return ActivityResult(activity.title, activity.kind, headline, lines)


def _quiz(session: Session, *, actor: Actor, activity: ActivityRead) -> ActivityResult:
    found = quizzes.quiz_results(session, actor=actor, activity_id=activity.id)
    if not found.players:
        return ActivityResult(activity.title, activity.kind, _("No one has played yet."), [])
    settled = [q for q in found.questions if q.settled and q.answers]
    right = sum(o.answers for q in settled for o in q.options if o.correct)
    answered = sum(q.answers for q in settled)
    players = fmt_number(found.players)
    if not answered:
        headline = _("{n} players.").format(n=players)
    elif found.mode is QuizMode.PREDICTION:
        headline = _("{n} players; {share} of the predictions were right.").format(
            n=players, share=fmt_percent(right / answered * 100)
        )
    else:
        headline = _("{n} players; {share} of the answers were right.").format(
            n=players, share=fmt_percent(right / answered * 100)
        )
    board = quizzes.quiz_leaderboard(
        session, actor=actor, activity_id=activity.id, limit=TOP_PLAYERS
    )
    lines = [
        _("No. {rank} {name}: {score} points, {correct} of {answered} right").format(
            rank=row.rank,
            name=row.name,
            score=fmt_number(row.score),
            correct=fmt_number(row.correct),
            answered=fmt_number(row.answered),
        )
        for row in board.rows[:TOP_PLAYERS]
    ]
    return ActivityResult(activity.title, activity.kind, headline, lines)


def _survey_line(question: QuestionSummary) -> str | None:
    if not question.answered:
        return None
    if question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE) and question.options:
        top = max(question.options, key=lambda o: o.count)
        return _("{question}: most chose {answer} ({share}).").format(
            question=question.text, answer=top.label, share=fmt_percent(top.share * 100)
        )
    if question.kind is QuestionKind.RATING and question.average is not None:
        return _("{question}: {average} out of 5 on average.").format(
            question=question.text, average=f"{question.average:.1f}"
        )
    if question.kind is QuestionKind.NPS and question.nps is not None:
        return _("{question}: NPS {score}.").format(
            question=question.text, score=f"{question.nps.score:.0f}"
        )
    if question.kind is QuestionKind.RANKING and question.ranking:
        return _("{question}: ranked first overall: {answer}.").format(
            question=question.text, answer=question.ranking[0].label
        )
    return None


def _survey(session: Session, *, actor: Actor, activity: ActivityRead) -> ActivityResult:
    found = surveys.survey_summary(session, actor=actor, activity_id=activity.id)
    if not found.responses:
        return ActivityResult(activity.title, activity.kind, _("No responses yet."), [])
    headline = _("{n} responses.").format(n=fmt_number(found.responses))
    lines = [line for q in found.questions if (line := _survey_line(q))]
    return ActivityResult(activity.title, activity.kind, headline, lines[:SURVEY_QUESTIONS])


READERS = {ActivityKind.POLL: _poll, ActivityKind.QUIZ: _quiz, ActivityKind.SURVEY: _survey}


def activity_results(
    session: Session, *, actor: Actor, activities: list[ActivityRead]
) -> list[ActivityResult]:
    """The results of the campaign's polls, quizzes and surveys, in the caller's locale."""
    return [
        READERS[a.kind](session, actor=actor, activity=a) for a in activities if a.kind in READERS
    ]

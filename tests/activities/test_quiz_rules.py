"""The pure rules behind quizzes and surveys (no database): time bonus, ranking with ties,
the console editors, skip-logic routes, NPS; and held actions reviewed in the console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from im2.activities.formats.quiz.schemas import QuizMode
from im2.activities.formats.quiz.scoring import Tally, answer_points, parse_questions, rank
from im2.activities.formats.survey import logic
from im2.activities.formats.survey.schemas import QuestionKind
from im2.config import Settings
from im2.errors import InvalidInput
from im2.i18n import use_locale
from im2.workspaces.schemas import Role
from tests.activities.test_quiz import add_quiz, answer, live_campaign
from tests.conftest import Brand

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with use_locale("en"):
        yield


def test_time_bonus_falls_to_nothing_and_wrong_answers_score_zero() -> None:
    assert answer_points(base=10, correct=True, elapsed_ms=0, bonus_seconds=20) == 20
    assert answer_points(base=10, correct=True, elapsed_ms=10_000, bonus_seconds=20) == 15
    assert answer_points(base=10, correct=True, elapsed_ms=60_000, bonus_seconds=20) == 10
    assert answer_points(base=10, correct=True, elapsed_ms=None, bonus_seconds=20) == 10
    assert answer_points(base=10, correct=True, elapsed_ms=0, bonus_seconds=None) == 10
    assert answer_points(base=10, correct=False, elapsed_ms=0, bonus_seconds=20) == 0


def test_same_score_shares_a_rank_and_earlier_finish_is_listed_first() -> None:
    tallies = [
        Tally(participant_id=1, score=20, correct=2, answered=2, finished_at=T0 + timedelta(9)),
        Tally(participant_id=2, score=30, correct=3, answered=3, finished_at=T0 + timedelta(5)),
        Tally(participant_id=3, score=20, correct=2, answered=2, finished_at=T0 + timedelta(1)),
        Tally(participant_id=4, score=10, correct=1, answered=3, finished_at=T0),
    ]
    assert [(r, t.participant_id) for r, t in rank(tallies)] == [(1, 2), (2, 3), (2, 1), (4, 4)]


def test_quiz_editor_text() -> None:
    parsed = parse_questions(
        "咖啡豆是什么？\n* 种子\n豆子\n\n浓缩多少毫升？\n- 150\n*30", mode=QuizMode.QUIZ, points=5
    )
    assert [(q.text, q.options, q.correct, q.points) for q in parsed] == [
        ("咖啡豆是什么？", ["种子", "豆子"], 0, 5),
        ("浓缩多少毫升？", ["150", "30"], 1, 5),
    ]
    with pytest.raises(InvalidInput, match="Question 2"):
        parse_questions("甲？\n*对\n错\n\n乙？\n对\n错", mode=QuizMode.QUIZ, points=5)
    with pytest.raises(InvalidInput, match="2 to 10 options"):
        parse_questions("只有一个选项？\n*唯一", mode=QuizMode.QUIZ, points=5)
    prediction = parse_questions("谁会赢？\n红队\n蓝队", mode=QuizMode.PREDICTION, points=5)
    assert prediction[0].correct is None


def _q(qid: int, kind: QuestionKind, *, required: bool = True, skips=()) -> logic.Q:
    options = tuple(
        logic.Opt(id=qid * 10 + i, label=f"o{i}", skip_to=s) for i, s in enumerate(skips)
    )
    return logic.Q(
        id=qid, position=qid, kind=kind, text=f"Q{qid}", required=required, options=options
    )


def test_skip_logic_routes() -> None:
    questions = [
        _q(1, QuestionKind.SINGLE, skips=(None, 4)),
        _q(2, QuestionKind.RATING),
        _q(3, QuestionKind.TEXT, required=False),
        _q(4, QuestionKind.SINGLE, skips=(None, logic.END)),
        _q(5, QuestionKind.NPS),
    ]
    assert [q.id for q in logic.route(questions, {})] == [1, 2, 3, 4, 5]
    assert [q.id for q in logic.route(questions, {1: 11})] == [1, 4, 5]
    assert [q.id for q in logic.route(questions, {1: 11, 4: 41})] == [1, 4]
    assert logic.first_missing(questions, {1: 11, 4: 41}) is None
    missing = logic.first_missing(questions, {1: 10})
    assert missing is not None
    assert missing.id == 2
    assert logic.on_route_only(questions, {1: 11, 2: 5, 4: 41, 5: 9}) == {1: 11, 4: 41}
    assert logic.next_on_route(questions, {1: 11}, questions[0]) == questions[3]


def test_answers_are_checked_against_their_question() -> None:
    ranking = logic.Q(
        id=1,
        position=1,
        kind=QuestionKind.RANKING,
        text="r",
        required=False,
        options=(logic.Opt(1, "a", None), logic.Opt(2, "b", None)),
    )
    assert logic.clean_answer(ranking, [2, 1]) == [2, 1]
    for bad in ([1], [1, 1], [1, 3], "1,2", [True, 2]):
        with pytest.raises(InvalidInput):
            logic.clean_answer(ranking, bad)
    nps = _q(2, QuestionKind.NPS)
    assert logic.clean_answer(nps, 0) == 0
    with pytest.raises(InvalidInput, match="0 to 10"):
        logic.clean_answer(nps, 11)
    assert logic.clean_answer(_q(3, QuestionKind.TEXT), "   ") is None


def test_nps_is_promoters_minus_detractors() -> None:
    summary = logic.nps([10, 9, 8, 7, 6, 0, 10, 9, 9, 5])
    assert (summary.promoters, summary.passives, summary.detractors) == (5, 2, 3)
    assert summary.score == 20.0


def test_survey_editor_text() -> None:
    parsed = logic.parse_questions(
        "单选*: 喝过吗？\n喝过\n没喝过 -> 3\n\n评分: 打几分？\n\nNPS*：推荐吗？\n\n多选: 喜欢？\n甲\n乙 -> 结束"
    )
    assert [(q.kind, q.required) for q in parsed] == [
        (QuestionKind.SINGLE, True),
        (QuestionKind.RATING, False),
        (QuestionKind.NPS, True),
        (QuestionKind.MULTIPLE, False),
    ]
    assert [o.skip_to for o in parsed[0].options] == [None, 3]
    with pytest.raises(InvalidInput, match="only single-choice"):
        logic.check_structure(parsed)
    with pytest.raises(InvalidInput, match="start with a type"):
        logic.parse_questions("喝过吗？\n喝过\n没喝过")


class TestHeldActions:
    """With a low threshold, a new device answering through the API (it never saw the page)
    is held: kept out of scores and summaries until the brand reviews it."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"risk_hold_threshold": 0.1})

    def test_held_answers_wait_for_review(self, client: TestClient, brand: Brand) -> None:
        from tests.test_auth import login
        from tests.test_console import form_token

        slug, campaign_id = live_campaign(client, brand)
        quiz = add_quiz(client, brand, campaign_id)
        kept, dropped = TestClient(client.app), TestClient(client.app)
        for phone in (kept, dropped):
            held = answer(phone, slug, quiz, 0, 0, consent=True)  # a new device: held
            assert held.json()["held_for_review"] is True
            assert answer(phone, slug, quiz, 1, 0).json()["held_for_review"] is False
        owner = brand.auth(Role.OWNER)
        board = f"/api/v1/quizzes/{quiz['activity_id']}/leaderboard"
        assert [r["score"] for r in client.get(board, headers=owner).json()["rows"]] == [10, 10]

        login(client, brand.emails[Role.EDITOR])
        detail_url = f"/console/w/acme/quiz/{quiz['activity_id']}"
        detail = client.get(detail_url).text
        assert "待审核" in detail
        first, second = sorted({int(i) for i in re.findall(r"/review/(\d+)", detail)})
        for answer_id, decision in ((first, "approve"), (second, "reject")):
            action = f"{detail_url}/review/{answer_id}"
            done = client.post(
                action,
                data={"csrf_token": form_token(client, detail_url, action), "decision": decision},
                follow_redirects=False,
            )
            assert done.status_code == 303
        rows = client.get(board, headers=owner).json()["rows"]
        assert [(r["rank"], r["score"], r["answered"]) for r in rows] == [(1, 20, 2), (2, 10, 1)]
        # The discarded answer can be given again.
        assert answer(dropped, slug, quiz, 0, 0).status_code == 201

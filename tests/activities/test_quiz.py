"""Quizzes and predictions end to end: the brand builds one, participants answer on their
phones, scores, settling, the leaderboard and the export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import START, Brand, campaign_payload, go_live, make_brand

COFFEE = {
    "title": "咖啡知识小测验",
    "questions": [
        {"text": "咖啡豆其实是什么？", "options": ["果实的种子", "豆科植物", "树根"], "correct": 0},
        {"text": "意式浓缩一份大约多少毫升？", "options": ["30", "150", "300"], "correct": 0},
    ],
}
FINAL = {
    "title": "周末决赛竞猜",
    "mode": "prediction",
    "questions": [
        {"text": "谁会赢？", "options": ["红队", "蓝队"]},
        {"text": "总进球数？", "options": ["0–2", "3 个以上"]},
    ],
}


def live_campaign(client: TestClient, brand: Brand, slug: str = "spring-vote") -> tuple[str, int]:
    campaign = go_live(client, brand, slug=slug)
    return campaign["slug"], campaign["id"]


def add_quiz(client: TestClient, brand: Brand, campaign_id: int, **quiz: object) -> dict:
    body = {**COFFEE, **quiz}
    created = client.post(
        f"/api/v1/campaigns/{campaign_id}/quizzes", json=body, headers=brand.auth(Role.OWNER)
    )
    assert created.status_code == 201, created.text
    results = client.get(
        f"/api/v1/quizzes/{created.json()['id']}/results", headers=brand.auth(Role.OWNER)
    ).json()
    return results


def public(slug: str, activity_id: int, tail: str = "") -> str:
    return f"/api/v1/public/campaigns/{slug}/quizzes/{activity_id}{tail}"


def answer(client: TestClient, slug: str, quiz: dict, q: int, o: int, **extra: object):
    question = quiz["questions"][q]
    body = {"question_id": question["id"], "option_id": question["options"][o]["id"], **extra}
    return client.post(public(slug, quiz["activity_id"], "/answers"), json=body)


def test_quiz_is_scored_at_once_with_a_time_bonus(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id, time_bonus=True, bonus_seconds=20)

    state = client.get(public(slug, quiz["activity_id"])).json()  # question 1 is shown now
    assert state["current_question_id"] == quiz["questions"][0]["id"]
    # No reading ahead before the clock starts: only the current question is sent.
    assert [q["text"] for q in state["questions"]] == ["咖啡豆其实是什么？"]
    assert state["total"] == 2
    clock.advance(timedelta(seconds=5))
    first = answer(client, slug, quiz, 0, 0, consent=True, nickname="小林")
    assert first.status_code == 201, first.text
    assert first.json()["correct"] is True
    assert first.json()["points"] == 18  # 10 + 10 × (1 − 5/20), rounded

    client.get(public(slug, quiz["activity_id"]))  # question 2 is shown
    clock.advance(timedelta(seconds=3))
    reloaded = client.get(public(slug, quiz["activity_id"]))  # a reload keeps the first stamp
    assert reloaded.json()["current_question_id"] == quiz["questions"][1]["id"]
    clock.advance(timedelta(seconds=30))
    wrong = answer(client, slug, quiz, 1, 2)
    assert wrong.json()["correct"] is False
    assert wrong.json()["correct_option_id"] == quiz["questions"][1]["options"][0]["id"]
    assert wrong.json()["points"] == 0
    assert wrong.json()["score"] == 18

    again = answer(client, slug, quiz, 0, 0)
    assert again.status_code == 409
    assert "already answered" in again.json()["error"]["message"]

    board = client.get(
        f"/api/v1/quizzes/{quiz['activity_id']}/leaderboard", headers=brand.auth(Role.ANALYST)
    ).json()
    # An analyst (no people:read) reads the players' names masked.
    assert [(r["rank"], r["name"], r["score"], r["correct"]) for r in board["rows"]] == [
        (1, "小*", 18, 1)
    ]
    with db.session() as session:
        answered = list_events(session, kinds=["quiz.answered"])
    assert len(answered) == 2


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("other_question_option", 422, "not an option of this question"),
        ("unknown_question", 422, "not a question"),
        ("no_consent", 422, "agree"),
        ("malformed", 422, None),
    ],
)
def test_bad_answers_write_nothing(
    client: TestClient, brand: Brand, db: Database, case: str, status: int, message: str | None
) -> None:
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    q1, q2 = quiz["questions"]
    body: dict[str, object] = {
        "question_id": q1["id"],
        "option_id": q1["options"][0]["id"],
        "consent": True,
    }
    if case == "other_question_option":
        body["option_id"] = q2["options"][0]["id"]
    elif case == "unknown_question":
        body["question_id"] = 999999
    elif case == "no_consent":
        body["consent"] = False
    else:
        body["option_id"] = "the first one"
    response = client.post(public(slug, quiz["activity_id"], "/answers"), json=body)
    assert response.status_code == status, response.text
    if message:
        assert message in response.json()["error"]["message"]
    with db.session() as session:
        assert list_events(session, kinds=["quiz.answered", "participant.joined"]) == []
    board = client.get(
        f"/api/v1/quizzes/{quiz['activity_id']}/leaderboard", headers=brand.auth(Role.OWNER)
    ).json()
    assert board["rows"] == []


def test_closed_and_draft_campaigns_refuse_answers(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    draft = client.post(
        "/api/v1/campaigns", json=campaign_payload(slug="draft-quiz"), headers=auth
    ).json()
    drafted = add_quiz(client, brand, draft["id"])
    assert answer(client, "draft-quiz", drafted, 0, 0, consent=True).status_code == 404

    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions", json={"status": "ended"}, headers=auth
    )
    ended = answer(client, slug, quiz, 0, 0, consent=True)
    assert ended.status_code == 409
    assert "ended" in ended.json()["error"]["message"]
    page = client.get(f"/c/{slug}/quiz/{quiz['activity_id']}")
    assert "活动已结束" in page.text
    assert 'name="option"' not in page.text


def test_predictions_are_settled_once_and_ranked_with_ties(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, campaign_id = live_campaign(client, brand)
    final = add_quiz(client, brand, campaign_id, **FINAL)
    phones = [TestClient(client.app) for _ in range(3)]
    picks = [0, 0, 1]  # two say 红队, one 蓝队
    for phone, pick in zip(phones, picks, strict=True):
        clock.advance(timedelta(minutes=1))
        made = answer(phone, slug, final, 0, pick, consent=True)
        assert made.status_code == 201, made.text
        assert made.json()["correct"] is None
        assert made.json()["points"] == 0

    owner = brand.auth(Role.OWNER)
    q1 = final["questions"][0]
    url = f"/api/v1/quizzes/{final['activity_id']}/questions/{q1['id']}/outcome"
    foreign = client.post(
        url, json={"option_id": final["questions"][1]["options"][0]["id"]}, headers=owner
    )
    assert foreign.status_code == 422
    settled = client.post(url, json={"option_id": q1["options"][0]["id"]}, headers=owner).json()
    assert (settled["answers"], settled["winners"], settled["changed"]) == (3, 2, True)
    twice = client.post(url, json={"option_id": q1["options"][0]["id"]}, headers=owner).json()
    assert twice["changed"] is False
    with db.session() as session:
        assert len(list_events(session, kinds=["prediction.settled"])) == 1

    late = answer(TestClient(client.app), slug, final, 0, 1, consent=True)
    assert late.status_code == 409
    assert "closed" in late.json()["error"]["message"]

    board = client.get(f"/api/v1/quizzes/{final['activity_id']}/leaderboard", headers=owner).json()
    assert [(r["rank"], r["score"]) for r in board["rows"]] == [(1, 10), (1, 10), (3, 0)]
    # Within a shared rank, whoever finished first is listed first.
    assert board["rows"][0]["finished_at"] < board["rows"][1]["finished_at"]
    mine = phones[2].get(public(slug, final["activity_id"], "/leaderboard")).json()["mine"]
    assert mine["rank"] == 3
    assert mine["name"].startswith("Participant #")

    quiz = add_quiz(client, brand, campaign_id)
    refused = client.post(
        f"/api/v1/quizzes/{quiz['activity_id']}/questions/{quiz['questions'][0]['id']}/outcome",
        json={"option_id": quiz["questions"][0]["options"][0]["id"]},
        headers=owner,
    )
    assert refused.status_code == 409


def _fields(client: TestClient, url: str) -> dict[str, str]:
    html = client.get(url).text
    fields = dict(re.findall(r'name="(csrf_token|shown|question_id)" value="([^"]+)"', html))
    assert "csrf_token" in fields, html[:1000]
    return fields


def test_the_quiz_page_works_without_javascript(client: TestClient, brand: Brand) -> None:
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    url = f"/c/{slug}/quiz/{quiz['activity_id']}"
    page = client.get(url)
    assert 'property="og:title"' in page.text
    assert "咖啡豆其实是什么？" in page.text
    assert "同意" in page.text  # consent before the first answer
    fields = _fields(client, url)
    right = str(quiz["questions"][0]["options"][0]["id"])
    no_consent = client.post(f"{url}/answer", data={**fields, "option": right})
    assert no_consent.status_code == 422
    assert "同意" in no_consent.text
    bot = client.post(
        f"{url}/answer", data={**fields, "option": right, "consent": "yes", "website": "x"}
    )
    assert bot.status_code == 400
    done = client.post(
        f"{url}/answer",
        data={**fields, "option": right, "consent": "yes", "nickname": "豆豆"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "答对了" in after.text
    assert "意式浓缩一份大约多少毫升？" in after.text  # the next question
    twice = client.post(f"{url}/answer", data={**fields, "option": right})
    assert twice.status_code == 409
    assert "你已经回答过这道题了" in twice.text
    board = client.get(f"{url}/leaderboard")
    assert "豆豆" in board.text
    assert "你目前排名第 1" in board.text


def test_console_builds_a_prediction_settles_it_and_exports(
    client: TestClient, brand: Brand
) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    slug, campaign_id = live_campaign(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign_id}/quiz/new"
    action = f"/console/w/acme/campaigns/{campaign_id}/quiz"
    bad = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "没有正确答案的测验",
            "mode": "quiz",
            "questions": "哪个对？\n甲\n乙",
        },
    )
    assert bad.status_code == 422
    assert "没有标出正确选项" in bad.text
    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "决赛竞猜",
            "mode": "prediction",
            "questions": "谁会赢？\n红队\n蓝队\n\n会有点球大战吗？\n会\n不会",
            "points": "20",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    detail_url = made.headers["location"]
    activity_id = int(detail_url.rsplit("/", 1)[1])
    quiz = client.get(
        f"/api/v1/quizzes/{activity_id}/results", headers=brand.auth(Role.OWNER)
    ).json()
    phone = TestClient(client.app)
    assert answer(phone, slug, quiz, 0, 1, consent=True).status_code == 201

    q1 = quiz["questions"][0]
    settle = f"/console/w/acme/quiz/{activity_id}/questions/{q1['id']}/outcome"
    edit = f"{detail_url}/edit"
    blank = client.post(edit, data={"csrf_token": form_token(client, edit, edit), "title": ""})
    assert blank.status_code == 422
    assert 'id="title-error"' in blank.text
    settled = client.post(
        settle,
        data={
            "csrf_token": form_token(client, detail_url, settle),
            "option_id": str(q1["options"][1]["id"]),
        },
        follow_redirects=False,
    )
    assert settled.status_code == 303
    detail = client.get(settled.headers["location"])
    assert "已保存结果" in detail.text
    assert "参与者#" in detail.text

    board = client.get(f"/console/w/acme/quiz/{activity_id}/leaderboard.csv")
    ranked = list(csv.DictReader(io.StringIO(board.text.lstrip("\ufeff"))))
    assert [(r["rank"], r["name"], r["score"]) for r in ranked] == [("1", "参与者#1", "20")]

    export = client.get(f"/console/w/acme/quiz/{activity_id}/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [(r["question"], r["option"], r["correct"], r["points"]) for r in rows] == [
        ("谁会赢？", "蓝队", "True", "20")
    ]


def test_the_same_answer_twice_at_once_counts_once(live_server, brand: Brand) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    base = live_server.url
    with httpx.Client(base_url=base, timeout=30) as admin:
        slug, campaign_id = live_campaign(admin, brand)  # type: ignore[arg-type]
        quiz = add_quiz(admin, brand, campaign_id)  # type: ignore[arg-type]
    question = quiz["questions"][0]
    phones = []
    for _ in range(10):
        phone = httpx.Client(base_url=base, timeout=30)
        phone.get(f"/c/{slug}").raise_for_status()  # the device cookie
        phones.append(phone)

    def send(index: int) -> int:
        body = {
            "question_id": question["id"],
            "option_id": question["options"][index % 2]["id"],
            "consent": True,
        }
        return (
            phones[index // 2]
            .post(public(slug, quiz["activity_id"], "/answers"), json=body)
            .status_code
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(send, range(20)))
    for phone in phones:
        phone.close()
    assert codes.count(201) == 10, codes
    assert codes.count(409) == 10, codes
    results = httpx.get(
        f"{base}/api/v1/quizzes/{quiz['activity_id']}/results", headers=brand.auth(Role.OWNER)
    ).json()
    assert results["questions"][0]["answers"] == 10
    assert results["players"] == 10


def test_htmx_swaps_the_feedback_and_next_question_in(client: TestClient, brand: Brand) -> None:
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    url = f"/c/{slug}/quiz/{quiz['activity_id']}"
    fields = _fields(client, url)
    wrong = str(quiz["questions"][0]["options"][2]["id"])
    swapped = client.post(
        f"{url}/answer",
        data={**fields, "option": wrong, "consent": "yes"},
        headers={"HX-Request": "true"},
    )
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith('<div id="quiz-box">')
    assert "答错了。正确答案：果实的种子" in swapped.text
    assert "意式浓缩一份大约多少毫升？" in swapped.text


def test_rate_limit_per_device(client: TestClient, brand: Brand, app) -> None:
    from im2.participation.limits import ActionLimiter

    app.state.limiter = ActionLimiter(per_device="2/minute", per_ip="100/minute")
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    codes = [answer(client, slug, quiz, 0, 0, consent=True).status_code for _ in range(3)]
    assert codes == [201, 409, 429]


def test_predictions_close_at_kick_off_and_on_demand(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    slug, campaign_id = live_campaign(client, brand)
    owner = brand.auth(Role.OWNER)
    past = client.post(
        f"/api/v1/campaigns/{campaign_id}/quizzes",
        json={**FINAL, "closes_at": "2026-03-02T09:00"},  # 09:00 in Shanghai: an hour ago
        headers=owner,
    )
    assert past.status_code == 422
    final = add_quiz(client, brand, campaign_id, **FINAL, closes_at="2026-03-02T20:00")
    assert answer(client, slug, final, 0, 0, consent=True).status_code == 201

    clock.advance(timedelta(hours=10, minutes=1))  # 20:01 in Shanghai: the match is on
    late = answer(TestClient(client.app), slug, final, 0, 1, consent=True)
    assert late.status_code == 409
    assert "closed" in late.json()["error"]["message"]
    page = TestClient(client.app).get(f"/c/{slug}/quiz/{final['activity_id']}")
    assert "作答已截止" in page.text
    assert 'name="option"' not in page.text

    quiz = add_quiz(client, brand, campaign_id)
    question = quiz["questions"][0]["id"]
    close = f"/api/v1/quizzes/{quiz['activity_id']}/questions/{question}/close"
    assert client.post(close, headers=owner).status_code == 204
    assert client.post(close, headers=owner).status_code == 204  # closing twice is harmless
    refused = answer(TestClient(client.app), slug, quiz, 0, 0, consent=True)
    assert refused.status_code == 409
    # The next open question is the one a newcomer sees.
    fresh = TestClient(client.app).get(public(slug, quiz["activity_id"])).json()
    assert fresh["current_question_id"] == quiz["questions"][1]["id"]


def test_the_public_leaderboard_refreshes_itself(client: TestClient, brand: Brand) -> None:
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    url = f"/c/{slug}/quiz/{quiz['activity_id']}/leaderboard"
    screen = TestClient(client.app)
    page = screen.get(url)
    assert "还没有人作答" in page.text
    assert 'hx-trigger="every 5s"' in page.text
    answer(TestClient(client.app), slug, quiz, 0, 0, consent=True, nickname="阿豆")
    refreshed = screen.get(url, headers={"HX-Request": "true"})
    assert refreshed.text.lstrip().startswith('<div id="board"')
    assert "阿豆" in refreshed.text
    assert "<html" not in refreshed.text


def test_the_brand_edits_the_texts(client: TestClient, brand: Brand) -> None:
    slug, campaign_id = live_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    url = f"/api/v1/quizzes/{quiz['activity_id']}"
    edited = client.patch(url, json={"title": "咖啡冷知识"}, headers=brand.auth(Role.EDITOR))
    assert edited.json()["title"] == "咖啡冷知识"
    assert "咖啡冷知识" in client.get(f"/c/{slug}/quiz/{quiz['activity_id']}").text


def test_only_editors_settle_and_close(client: TestClient, brand: Brand) -> None:
    _slug, campaign_id = live_campaign(client, brand)
    final = add_quiz(client, brand, campaign_id, **FINAL)
    q1 = final["questions"][0]
    base = f"/api/v1/quizzes/{final['activity_id']}/questions/{q1['id']}"
    body = {"option_id": q1["options"][0]["id"]}
    for role in (Role.VIEWER, Role.ANALYST):
        assert (
            client.post(f"{base}/outcome", json=body, headers=brand.auth(role)).status_code == 403
        )
        assert client.post(f"{base}/close", headers=brand.auth(role)).status_code == 403
    leaderboard = f"/api/v1/quizzes/{final['activity_id']}/leaderboard"
    assert client.get(leaderboard, headers=brand.auth(Role.ANALYST)).status_code == 200
    other = make_brand(client.app.state.db, slug="other", now=START)
    assert client.get(leaderboard, headers=other.auth(Role.OWNER)).status_code == 404

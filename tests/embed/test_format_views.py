"""The public JSON views the widget renders the survey and the Q&A from (with a widget token,
as a mini-program calls them), and what the widget's activity read adds for them: the view's
address and the hash of the consent text shown."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.activities.test_qa import ask_url, make_qa, moderation, upvote_url
from tests.activities.test_quiz import add_quiz
from tests.activities.test_quiz import live_campaign as quiz_campaign
from tests.activities.test_survey import SURVEY, add_survey
from tests.conftest import Brand
from tests.test_polls import live_campaign


def _token(client: TestClient, slug: str) -> dict[str, str]:
    issued = client.post(f"/api/v1/public/campaigns/{slug}/tokens")
    assert issued.status_code == 201, issued.text
    client.cookies.clear()
    return {"X-IM2-Token": issued.json()["token"], "Accept-Language": "zh-CN"}


def _texts(html: str) -> dict[str, str]:
    found = re.search(
        r'<script type="application/json" id="embed-texts">(.*?)</script>', html, re.S
    )
    assert found, html
    texts: dict[str, str] = json.loads(found.group(1))
    return texts


def _survey(client: TestClient, brand: Brand) -> tuple[str, int]:
    slug, campaign_id = quiz_campaign(client, brand)
    return slug, int(add_survey(client, brand, campaign_id)["activity_id"])


def test_a_survey_reads_its_questions_skip_rules_and_my_answers(
    client: TestClient, brand: Brand
) -> None:
    slug, survey_id = _survey(client, brand)
    me = _token(client, slug)
    url = f"/api/v1/public/campaigns/{slug}/surveys/{survey_id}"
    seen = client.get(url, headers=me)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert "set-cookie" not in seen.headers
    assert body["open"] is True
    assert body["submitted"] is False
    assert body["answers"] == {}
    assert [(q["position"], q["kind"], q["text"], q["required"]) for q in body["questions"]] == [
        (i + 1, q["kind"], q["text"], q.get("required", False))
        for i, q in enumerate(SURVEY["questions"])
    ]
    second = body["questions"][1]
    assert [(o["label"], o["skip_to"]) for o in second["options"]] == [
        ("喝过", None),
        ("没喝过", 5),
    ]
    assert body["next_question_id"] == body["questions"][0]["id"]

    # Saved with the token, read back by it: the answer, and where to go on.
    first = body["questions"][0]
    saved = client.put(
        url + "/progress",
        json={"answers": {str(first["id"]): first["options"][1]["id"]}, "consent": True},
        headers=me,
    )
    assert saved.status_code == 200, saved.text
    again = client.get(url, headers=me).json()
    assert again["answers"] == {str(first["id"]): first["options"][1]["id"]}
    assert again["next_question_id"] == second["id"]
    # Another visitor sees none of it.
    assert client.get(url, headers=_token(client, slug)).json()["answers"] == {}


@pytest.mark.parametrize(
    ("path", "status"),
    [("/surveys/999999", 404), ("/surveys/0", 422), ("/surveys/abc", 422), ("/qas/999999", 404)],
)
def test_a_view_of_no_such_activity_is_a_clear_error(
    client: TestClient, brand: Brand, path: str, status: int
) -> None:
    slug, _ = _survey(client, brand)
    answer = client.get(f"/api/v1/public/campaigns/{slug}{path}", headers=_token(client, slug))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


def test_a_survey_view_of_another_format_or_campaign_is_not_found(
    client: TestClient, brand: Brand
) -> None:
    slug, survey_id = _survey(client, brand)
    _slug, _cid, qa_id = make_qa(client, brand)
    me = _token(client, slug)
    wrong_kind = client.get(f"/api/v1/public/campaigns/{slug}/surveys/{qa_id}", headers=me)
    assert wrong_kind.status_code == 404
    assert wrong_kind.json()["error"]["message"]
    no_campaign = client.get(f"/api/v1/public/campaigns/nope/surveys/{survey_id}", headers=me)
    assert no_campaign.status_code == 404
    bad_token = client.get(
        f"/api/v1/public/campaigns/{slug}/surveys/{survey_id}",
        headers={"X-IM2-Token": "forged", "Accept-Language": "zh-CN"},
    )
    assert bad_token.status_code == 401
    assert "令牌" in bad_token.json()["error"]["message"]


def test_a_qa_view_says_what_i_upvoted_and_what_waits_for_review(
    client: TestClient, brand: Brand
) -> None:
    slug, _cid, qa_id = make_qa(client, brand, premoderation=True)
    view_url = f"/api/v1/public/campaigns/{slug}/qas/{qa_id}"
    me, other = _token(client, slug), _token(client, slug)
    mine = client.post(
        ask_url(slug, qa_id), json={"text": "会出燕麦奶吗？", "consent": True}, headers=me
    )
    theirs = client.post(
        ask_url(slug, qa_id), json={"text": "门店几点开？", "consent": True}, headers=other
    )
    assert mine.status_code == theirs.status_code == 201
    seen = client.get(view_url, headers=me).json()
    assert seen["questions"] == []  # nothing approved yet
    assert [q["text"] for q in seen["my_waiting"]] == ["会出燕麦奶吗？"]
    assert client.get(view_url, headers=other).json()["my_waiting"][0]["text"] == "门店几点开？"

    for asked in (mine, theirs):
        moderation(client, brand, qa_id, asked.json()["question"]["id"], "approve")
    their_id = theirs.json()["question"]["id"]
    upvoted = client.post(upvote_url(slug, qa_id, their_id), json={}, headers=me)
    assert upvoted.status_code == 201, upvoted.text
    seen = client.get(view_url, headers=me).json()
    assert seen["open"] is True
    assert seen["my_waiting"] == []
    assert seen["my_upvotes"] == [their_id]
    assert [(q["text"], q["upvotes"]) for q in seen["questions"]] == [
        ("门店几点开？", 1),
        ("会出燕麦奶吗？", 0),
    ]
    assert client.get(view_url, headers=other).json()["my_upvotes"] == []
    by_time = client.get(view_url + "?sort=time", headers=me).json()
    assert by_time["sort"] == "time"
    assert by_time["questions"][0]["text"] == "门店几点开？"
    bad_sort = client.get(view_url + "?sort=loudest", headers=me)
    assert bad_sort.status_code == 422
    assert bad_sort.json()["error"]["field"] == "sort"


def test_the_widget_read_names_the_view_and_the_consent_texts_hash(
    client: TestClient, brand: Brand
) -> None:
    slug, campaign_id = quiz_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    quiz_id = quiz["activity_id"]
    me = _token(client, slug)
    read_url = f"/api/v1/public/campaigns/{slug}/activities/{quiz_id}"
    seen = client.get(read_url, headers=me).json()
    assert seen["view_url"] == f"/api/v1/public/campaigns/{slug}/quizzes/{quiz_id}"
    assert seen["needs_consent"] is True
    assert seen["consent_sha256"] == hashlib.sha256(seen["consent_text"].encode()).hexdigest()

    # The brand replaces its text: the read says so by a new hash (the frame then shows it).
    replaced = client.post(
        "/api/v1/consent-texts",
        json={"purpose": "taking_part", "language": "zh_CN", "text": "新的参与说明：只用于抽奖。"},
        headers=brand.auth(Role.OWNER),
    )
    assert replaced.status_code == 201, replaced.text
    again = client.get(read_url, headers=me).json()
    assert again["consent_text"] == "新的参与说明：只用于抽奖。"
    assert again["consent_sha256"] == hashlib.sha256(again["consent_text"].encode()).hexdigest()
    assert again["consent_sha256"] != seen["consent_sha256"]

    question = quiz["questions"][0]
    answered = client.post(
        seen["view_url"] + "/answers",
        json={
            "question_id": question["id"],
            "option_id": question["options"][0]["id"],
            "consent": True,
        },
        headers=me,
    )
    assert answered.status_code == 201, answered.text
    joined = client.get(read_url, headers=me).json()
    assert joined["needs_consent"] is False
    assert joined["consent_sha256"] is None


def test_a_poll_is_read_whole_with_no_separate_view(client: TestClient, brand: Brand) -> None:
    slug, poll_id, _ = live_campaign(client, brand)
    poll = client.get(
        f"/api/v1/public/campaigns/{slug}/activities/{poll_id}", headers=_token(client, slug)
    ).json()
    assert poll["view_url"] is None
    assert poll["poll"] is not None
    assert poll["consent_sha256"] == hashlib.sha256(poll["consent_text"].encode()).hexdigest()


def test_the_frame_renders_the_quiz_survey_and_qa_and_keeps_the_button_for_others(
    client: TestClient, brand: Brand
) -> None:
    slug, survey_id = _survey(client, brand)
    page = client.get(f"/e/{slug}/{survey_id}")
    assert page.status_code == 200
    assert f'data-view-url="/api/v1/public/campaigns/{slug}/surveys/{survey_id}"' in page.text
    assert 'data-kind="survey"' in page.text
    assert "/static/embed-formats.js" in page.text
    assert "加载中" in page.text
    # The renderer's words, in the page's language.
    assert _texts(page.text)["submit_answers"] == "提交问卷"
    assert _texts(client.get(f"/e/{slug}/{survey_id}?lang=en").text)["submit_answers"] == (
        "Submit answers"
    )


def test_a_check_in_frame_loads_its_own_renderer_only(client: TestClient, brand: Brand) -> None:
    slug, campaign_id = quiz_campaign(client, brand)
    made = client.post(
        f"/api/v1/campaigns/{campaign_id}/checkins",
        json={"title": "每日打卡"},
        headers=brand.auth(Role.OWNER),
    )
    assert made.status_code == 201, made.text
    checkin_id = made.json()["id"]
    page = client.get(f"/e/{slug}/{checkin_id}")
    assert f'data-view-url="/api/v1/public/campaigns/{slug}/checkins/{checkin_id}"' in page.text
    assert "/static/embed-kit.js" in page.text
    assert "/static/embed-rewards.js" in page.text
    assert "embed-formats.js" not in page.text
    assert "embed-social.js" not in page.text
    assert _texts(page.text)["check_in"] == "今日打卡"
    read = client.get(
        f"/api/v1/public/campaigns/{slug}/activities/{checkin_id}", headers=_token(client, slug)
    ).json()
    assert read["view_url"] == f"/api/v1/public/campaigns/{slug}/checkins/{checkin_id}"
    assert read["poll"] is None

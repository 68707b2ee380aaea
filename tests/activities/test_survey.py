"""Surveys end to end: the brand builds one, participants answer step by step (resuming after
a reload), skip logic, required questions, one submission each, summary charts, export."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.activities.test_quiz import live_campaign
from tests.conftest import Brand, campaign_payload

SURVEY = {
    "title": "春季新品体验问卷",
    "questions": [
        {"kind": "single", "text": "你多久来一次？", "required": True,
         "options": [{"label": "每天"}, {"label": "每周"}, {"label": "很少"}]},
        {"kind": "single", "text": "你喝过樱花拿铁吗？", "required": True,
         "options": [{"label": "喝过"}, {"label": "没喝过", "skip_to": 5}]},
        {"kind": "rating", "text": "给樱花拿铁打分", "required": True},
        {"kind": "multiple", "text": "喜欢哪些地方？",
         "options": [{"label": "香气"}, {"label": "颜值"}, {"label": "价格"}]},
        {"kind": "nps", "text": "推荐给朋友的可能性？", "required": True},
        {"kind": "ranking", "text": "哪些因素最重要？",
         "options": [{"label": "口味"}, {"label": "价格"}, {"label": "环境"}]},
        {"kind": "text", "text": "还有什么建议？"},
    ],
}  # fmt: skip


def add_survey(client: TestClient, brand: Brand, campaign_id: int) -> dict:
    auth = brand.auth(Role.OWNER)
    created = client.post(f"/api/v1/campaigns/{campaign_id}/surveys", json=SURVEY, headers=auth)
    assert created.status_code == 201, created.text
    return client.get(f"/api/v1/surveys/{created.json()['id']}/summary", headers=auth).json()


def ids(summary: dict) -> list[int]:
    return [q["id"] for q in summary["questions"]]


def option_ids(client: TestClient, slug: str, survey: dict, position: int) -> list[int]:
    """Option ids of question `position` (1-based), read from the public page."""
    html = client.get(f"/c/{slug}/survey/{survey['activity_id']}?q={position}").text
    values = re.findall(r'name="answer" value="(\d+)"', html) or re.findall(
        r'name="rank_(\d+)"', html
    )
    return [int(v) for v in values]


def public(slug: str, survey: dict, tail: str) -> str:
    return f"/api/v1/public/campaigns/{slug}/surveys/{survey['activity_id']}{tail}"


@pytest.fixture
def live(client: TestClient, brand: Brand) -> tuple[str, dict, list[list[int]]]:
    slug, campaign_id = live_campaign(client, brand)
    survey = add_survey(client, brand, campaign_id)
    browser = TestClient(client.app)
    options = [option_ids(browser, slug, survey, p) for p in range(1, 8)]
    return slug, survey, options


def full_answers(survey: dict, options: list[list[int]]) -> dict[str, object]:
    q = ids(survey)
    return {
        str(q[0]): options[0][0],
        str(q[1]): options[1][0],
        str(q[2]): 4,
        str(q[3]): [options[3][0], options[3][1]],
        str(q[4]): 10,
        str(q[5]): [options[5][2], options[5][0], options[5][1]],
        str(q[6]): "希望多开几家店",
    }


def test_submit_once_and_see_the_summary(
    client: TestClient, brand: Brand, db: Database, live
) -> None:
    slug, survey, options = live
    answers = full_answers(survey, options)
    first = client.post(
        public(slug, survey, "/responses"), json={"answers": answers, "consent": True}
    )
    assert first.status_code == 201, first.text
    again = client.post(public(slug, survey, "/responses"), json={"answers": answers})
    assert again.status_code == 409
    assert "already submitted" in again.json()["error"]["message"]

    q = ids(survey)
    other = TestClient(client.app)
    second = {
        **answers,
        str(q[2]): 2,
        str(q[4]): 3,
        str(q[5]): [options[5][0], options[5][1], options[5][2]],
    }
    assert (
        other.post(
            public(slug, survey, "/responses"), json={"answers": second, "consent": True}
        ).status_code
        == 201
    )
    summary = client.get(
        f"/api/v1/surveys/{survey['activity_id']}/summary", headers=brand.auth(Role.ANALYST)
    ).json()
    assert summary["responses"] == 2
    by_kind = {s["kind"]: s for s in summary["questions"]}
    assert by_kind["rating"]["average"] == 3.0
    # One promoter (10) and one detractor (3): NPS = 50% − 50% = 0.
    assert by_kind["nps"]["nps"] == {"score": 0.0, "promoters": 1, "passives": 0, "detractors": 1}
    ranking = {r["label"]: r for r in by_kind["ranking"]["ranking"]}
    assert ranking["口味"]["average_rank"] == 1.5
    assert ranking["口味"]["points"] == 3
    assert ranking["环境"]["first_places"] == 1
    assert [o["count"] for o in by_kind["multiple"]["options"]] == [2, 2, 0]
    assert by_kind["text"]["texts"] == ["希望多开几家店", "希望多开几家店"]
    with db.session() as session:
        assert len(list_events(session, kinds=["survey.submitted"])) == 2


def test_skip_logic_skips_required_questions_and_drops_their_answers(
    client: TestClient, brand: Brand, live
) -> None:
    slug, survey, options = live
    q = ids(survey)
    answers = {str(q[0]): options[0][2], str(q[1]): options[1][1], str(q[2]): 5, str(q[4]): 8}
    done = client.post(
        public(slug, survey, "/responses"), json={"answers": answers, "consent": True}
    )
    assert done.status_code == 201, done.text  # Q3 is required, but "没喝过" skips to Q5
    summary = client.get(
        f"/api/v1/surveys/{survey['activity_id']}/summary", headers=brand.auth(Role.OWNER)
    ).json()
    assert summary["questions"][2]["answered"] == 0  # the skipped rating was dropped
    assert summary["questions"][4]["answered"] == 1


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("missing_required", 422, "Question 3 needs an answer"),
        ("other_question_option", 422, "not an option of this question"),
        ("rating_out_of_range", 422, "from 1 to 5"),
        ("partial_ranking", 422, "its own place"),
        ("unknown_question", 422, "not part of this survey"),
        ("malformed", 422, None),
        ("no_consent", 422, "agree"),
    ],
)
def test_bad_submissions_write_nothing(
    client: TestClient,
    brand: Brand,
    db: Database,
    live,
    case: str,
    status: int,
    message: str | None,
) -> None:
    slug, survey, options = live
    q = ids(survey)
    answers: dict[str, object] = full_answers(survey, options)
    body: dict[str, object] = {"answers": answers, "consent": True}
    if case == "missing_required":
        del answers[str(q[2])]
    elif case == "other_question_option":
        answers[str(q[0])] = options[1][0]
    elif case == "rating_out_of_range":
        answers[str(q[2])] = 7
    elif case == "partial_ranking":
        answers[str(q[5])] = [options[5][0]]
    elif case == "unknown_question":
        answers["999999"] = 1
    elif case == "malformed":
        body = {"answers": "all good", "consent": True}
    else:
        body["consent"] = False
    response = client.post(public(slug, survey, "/responses"), json=body)
    assert response.status_code == status, response.text
    if message:
        assert message in response.json()["error"]["message"]
    with db.session() as session:
        assert list_events(session, kinds=["survey.submitted", "participant.joined"]) == []
    summary = client.get(
        f"/api/v1/surveys/{survey['activity_id']}/summary", headers=brand.auth(Role.OWNER)
    ).json()
    assert (summary["responses"], summary["in_progress"]) == (0, 0)


def test_closed_and_draft_campaigns_refuse_answers(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.OWNER)
    draft = client.post(
        "/api/v1/campaigns", json=campaign_payload(slug="draft-survey"), headers=auth
    ).json()
    drafted = add_survey(client, brand, draft["id"])
    assert (
        client.post(
            public("draft-survey", drafted, "/responses"), json={"answers": {}, "consent": True}
        ).status_code
        == 404
    )
    assert client.get(f"/c/draft-survey/survey/{drafted['activity_id']}").status_code == 404

    slug, campaign_id = live_campaign(client, brand)
    survey = add_survey(client, brand, campaign_id)
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions", json={"status": "paused"}, headers=auth
    )
    paused = client.put(public(slug, survey, "/progress"), json={"answers": {}, "consent": True})
    assert paused.status_code == 409
    assert "paused" in paused.json()["error"]["message"]
    page = client.get(f"/c/{slug}/survey/{survey['activity_id']}")
    assert "活动已暂停" in page.text
    assert 'name="question_id"' not in page.text


def _fields(client: TestClient, url: str) -> dict[str, str]:
    html = client.get(url).text
    fields = dict(re.findall(r'name="(csrf_token|shown|question_id)" value="([^"]+)"', html))
    assert "csrf_token" in fields, html[:1000]
    return fields


def test_the_page_saves_each_step_and_resumes_after_a_reload(
    client: TestClient, brand: Brand, live
) -> None:
    slug, survey, options = live
    url = f"/c/{slug}/survey/{survey['activity_id']}"
    page = client.get(url)
    assert 'property="og:title"' in page.text
    assert "第 1 题（共 7 题）" in page.text
    assert "同意" in page.text  # consent before the first answer
    fields = _fields(client, url)
    required = client.post(f"{url}/answer", data={**fields, "consent": "yes"})
    assert required.status_code == 422
    assert "这道题必须回答" in required.text
    bot = client.post(
        f"{url}/answer",
        data={**fields, "answer": str(options[0][1]), "consent": "yes", "website": "x"},
    )
    assert bot.status_code == 400
    step = client.post(
        f"{url}/answer",
        data={**fields, "answer": str(options[0][1]), "consent": "yes"},
        follow_redirects=False,
    )
    assert step.status_code == 303
    assert step.headers["location"].endswith("?q=2")

    reloaded = client.get(url)  # a reload, or a new tab: continue at question 2
    assert "你喝过樱花拿铁吗？" in reloaded.text
    assert "同意" not in reloaded.text  # consent was given once
    progress = client.get(public(slug, survey, "/progress")).json()
    assert progress["answers"] == {str(ids(survey)[0]): options[0][1]}
    back = client.get(f"{url}?q=1")
    assert f'value="{options[0][1]}" checked' in back.text

    fields = _fields(client, url)
    skipped = client.post(
        f"{url}/answer", data={**fields, "answer": str(options[1][1])}, follow_redirects=False
    )
    assert skipped.headers["location"].endswith("?q=5")  # "没喝过" skips to question 5
    assert "推荐给朋友的可能性？" in client.get(url).text
    fields = _fields(client, url)
    client.post(f"{url}/answer", data={**fields, "answer": "9"})
    fields = _fields(client, url)  # question 6, the ranking
    wrong = client.post(
        f"{url}/answer",
        data={**fields, **{f"rank_{o}": "1" for o in options[5]}},
    )
    assert wrong.status_code == 422
    assert "不重复的名次" in wrong.text
    client.post(
        f"{url}/answer",
        data={**fields, **{f"rank_{o}": str(i + 1) for i, o in enumerate(options[5])}},
    )
    fields = _fields(client, url)  # question 7, free text, the last one
    done = client.post(
        f"{url}/answer", data={**fields, "answer": "拿铁很好喝"}, follow_redirects=False
    )
    assert done.headers["location"].endswith("?done=1")
    thanks = client.get(done.headers["location"])
    assert "感谢填写" in thanks.text
    assert 'name="question_id"' not in thanks.text
    twice = client.post(f"{url}/answer", data={**fields, "answer": "再来一次"})
    assert twice.status_code == 409
    assert "你已经提交过这份问卷了" in twice.text


def test_console_builds_a_survey_shows_charts_and_exports(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    slug, campaign_id = live_campaign(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign_id}/survey/new"
    action = f"/console/w/acme/campaigns/{campaign_id}/survey"
    bad = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "跳错了",
            "questions": "单选*: 来过吗？\n来过 -> 1\n没来过",
        },
    )
    assert bad.status_code == 422
    assert "跳转的目标不在它之后" in bad.text
    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "门店体验",
            "questions": "单选*: 来过吗？\n来过\n没来过 -> 结束\n\nNPS*: 推荐的可能性？\n\n排序: 最看重\n口味\n价格",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    detail_url = made.headers["location"]
    activity_id = int(detail_url.rsplit("/", 1)[1])
    survey = {"activity_id": activity_id}
    came = option_ids(client, slug, survey, 1)
    for choice, score in ((came[0], 10), (came[0], 9), (came[0], 4), (came[1], None)):
        phone = TestClient(client.app)
        summary = client.get(
            f"/api/v1/surveys/{activity_id}/summary", headers=brand.auth(Role.OWNER)
        ).json()
        q = ids(summary)
        answers: dict[str, object] = {str(q[0]): choice}
        if score is not None:
            answers[str(q[1])] = score
        made = phone.post(
            public(slug, survey, "/responses"), json={"answers": answers, "consent": True}
        )
        assert made.status_code == 201, made.text
    edit = f"{detail_url}/edit"
    edited = client.post(
        edit,
        data={
            "csrf_token": form_token(client, edit, edit),
            "title": "门店体验调研",
            "description": "",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    detail = client.get(detail_url)
    assert "门店体验调研" in detail.text
    assert 'data-select="#summary-live"' in detail.text  # the charts follow the live stream
    assert "+33" in detail.text  # NPS: 2 promoters, 1 detractor of 3 → 67% − 33%
    assert "推荐者（9–10）： 2" in detail.text
    export = client.get(f"/console/w/acme/survey/{activity_id}/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [r["Q1 来过吗？"] for r in rows] == ["来过", "来过", "来过", "没来过"]
    assert [r["Q2 推荐的可能性？"] for r in rows] == ["10", "9", "4", ""]


def test_the_same_submission_twice_at_once_lands_once(live_server, brand: Brand) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    base = live_server.url
    with httpx.Client(base_url=base, timeout=30) as admin:
        slug, campaign_id = live_campaign(admin, brand)  # type: ignore[arg-type]
        survey = add_survey(admin, brand, campaign_id)  # type: ignore[arg-type]
        options = [option_ids(admin, slug, survey, p) for p in range(1, 8)]  # type: ignore[arg-type]
    answers = full_answers(survey, options)
    phones = []
    for i in range(8):
        phone = httpx.Client(base_url=base, timeout=30)
        phone.get(f"/c/{slug}").raise_for_status()  # the device cookie
        if i % 2:  # half of them have a saved draft already
            phone.put(
                public(slug, survey, "/progress"), json={"answers": {}, "consent": True}
            ).raise_for_status()
        phones.append(phone)

    def send(index: int) -> httpx.Response:
        body = {"answers": answers, "consent": True}
        return phones[index // 2].post(public(slug, survey, "/responses"), json=body)

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(send, range(16)))
    for phone in phones:
        phone.close()
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 8, codes
    assert codes.count(409) == 8, codes
    refused = [r.json()["error"]["message"] for r in responses if r.status_code == 409]
    assert all("already submitted" in m for m in refused), refused
    summary = httpx.get(
        f"{base}/api/v1/surveys/{survey['activity_id']}/summary", headers=brand.auth(Role.OWNER)
    ).json()
    assert summary["responses"] == 8


def test_htmx_swaps_the_next_question_in(client: TestClient, brand: Brand, live) -> None:
    slug, survey, options = live
    url = f"/c/{slug}/survey/{survey['activity_id']}"
    fields = _fields(client, url)
    swapped = client.post(
        f"{url}/answer",
        data={**fields, "answer": str(options[0][0]), "consent": "yes"},
        headers={"HX-Request": "true"},
    )
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith('<div id="survey-box">')
    assert "你喝过樱花拿铁吗？" in swapped.text
    assert "<html" not in swapped.text


def test_rate_limit_per_device(client: TestClient, brand: Brand, app, live) -> None:
    from im2.participation.limits import ActionLimiter

    slug, survey, _options = live
    app.state.limiter = ActionLimiter(per_device="2/minute", per_ip="100/minute")
    codes = [
        client.put(
            public(slug, survey, "/progress"), json={"answers": {}, "consent": True}
        ).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]


class TestHeldResponses:
    """With a low threshold, a new device submitting through the API is held for review."""

    @pytest.fixture
    def settings(self, settings):
        return settings.model_copy(update={"risk_hold_threshold": 0.1})

    def test_held_responses_wait_for_review(self, client: TestClient, brand: Brand, live) -> None:
        from tests.test_auth import login
        from tests.test_console import form_token

        slug, survey, options = live
        answers = full_answers(survey, options)
        for _ in range(2):
            phone = TestClient(client.app)
            made = phone.post(
                public(slug, survey, "/responses"), json={"answers": answers, "consent": True}
            )
            assert made.json()["held_for_review"] is True
        summary_url = f"/api/v1/surveys/{survey['activity_id']}/summary"
        summary = client.get(summary_url, headers=brand.auth(Role.OWNER)).json()
        assert (summary["responses"], summary["held"]) == (0, 2)

        login(client, brand.emails[Role.EDITOR])
        detail_url = f"/console/w/acme/survey/{survey['activity_id']}"
        first, second = sorted(
            {int(i) for i in re.findall(r"/review/(\d+)", client.get(detail_url).text)}
        )
        for response_id, decision in ((first, "approve"), (second, "reject")):
            action = f"{detail_url}/review/{response_id}"
            done = client.post(
                action,
                data={"csrf_token": form_token(client, detail_url, action), "decision": decision},
                follow_redirects=False,
            )
            assert done.status_code == 303
        summary = client.get(summary_url, headers=brand.auth(Role.OWNER)).json()
        assert (summary["responses"], summary["held"]) == (1, 0)


def test_the_brand_edits_the_texts(client: TestClient, brand: Brand, db: Database, live) -> None:
    slug, survey, _options = live
    url = f"/api/v1/surveys/{survey['activity_id']}"
    assert (
        client.patch(url, json={"title": "新标题"}, headers=brand.auth(Role.VIEWER)).status_code
        == 403
    )
    edited = client.patch(
        url, json={"title": "新标题", "description": "两分钟"}, headers=brand.auth(Role.EDITOR)
    )
    assert edited.status_code == 200, edited.text
    assert client.get(f"/c/{slug}/survey/{survey['activity_id']}").text.count("新标题") >= 1
    assert (
        client.patch(url, json={"questions": []}, headers=brand.auth(Role.EDITOR)).status_code
        == 422
    )
    with db.session() as session:
        assert len(list_events(session, kinds=["activity.updated"])) == 1

"""Live Q&A end to end: participants ask and upvote on their phones, the brand moderates,
the presenter view and the moderation queue follow."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.activities.console_forms import field_error_text, post_form
from tests.conftest import Brand, campaign_payload, take_live


def make_campaign(
    client: TestClient, brand: Brand, *, live: bool = True, slug: str = "qa-live"
) -> int:
    auth = brand.auth(Role.OWNER)
    campaign = client.post(
        "/api/v1/campaigns",
        json=campaign_payload(slug=slug, starts_at="2026-03-01T10:00"),
        headers=auth,
    ).json()
    if live:
        take_live(client, brand, campaign["id"])
    return int(campaign["id"])


def make_qa(
    client: TestClient, brand: Brand, *, premoderation: bool = False, live: bool = True
) -> tuple[str, int, int]:
    """A campaign with one Q&A; returns (slug, campaign id, activity id)."""
    campaign_id = make_campaign(client, brand, live=live)
    created = client.post(
        f"/api/v1/campaigns/{campaign_id}/qas",
        json={"title": "新品发布会问答", "premoderation": premoderation},
        headers=brand.auth(Role.OWNER),
    )
    assert created.status_code == 201, created.text
    return "qa-live", campaign_id, int(created.json()["id"])


def ask_url(slug: str, activity_id: int) -> str:
    return f"/api/v1/public/campaigns/{slug}/qas/{activity_id}/questions"


def upvote_url(slug: str, activity_id: int, question_id: int) -> str:
    return f"{ask_url(slug, activity_id)}/{question_id}/upvotes"


def page_fields(client: TestClient, url: str) -> dict[str, str]:
    html = client.get(url).text
    fields = dict(re.findall(r'name="(csrf_token|shown)" value="([^"]+)"', html))
    assert "csrf_token" in fields, html[:800]
    return fields


def moderation(client: TestClient, brand: Brand, activity_id: int, qid: int, action: str) -> dict:
    response = client.post(
        f"/api/v1/qas/{activity_id}/questions/{qid}/moderation",
        json={"action": action},
        headers=brand.auth(Role.EDITOR),
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_ask_upvote_once_and_sort(client: TestClient, brand: Brand, db: Database) -> None:
    slug, _cid, qa = make_qa(client, brand)
    first = client.post(
        ask_url(slug, qa),
        json={"text": "樱花拿铁有无糖版吗？", "nickname": "小鹿", "consent": True},
    )
    assert first.status_code == 201, first.text
    assert first.json()["visible"] is True
    other = TestClient(client.app)
    second = other.post(ask_url(slug, qa), json={"text": "外卖会不会洒？", "consent": True}).json()

    q2 = second["question"]["id"]
    assert client.post(upvote_url(slug, qa, q2), json={}).status_code == 201
    twice = client.post(upvote_url(slug, qa, q2), json={})
    assert twice.status_code == 409
    assert "already upvoted" in twice.json()["error"]["message"]

    board = client.get(ask_url(slug, qa)).json()
    assert [q["text"] for q in board["questions"]] == ["外卖会不会洒？", "樱花拿铁有无糖版吗？"]
    assert [q["upvotes"] for q in board["questions"]] == [1, 0]
    by_time = client.get(ask_url(slug, qa) + "?sort=time").json()
    assert by_time["questions"][0]["text"] == "外卖会不会洒？"
    assert board["questions"][1]["nickname"] == "小鹿"

    with db.session() as session:
        kinds = [e.kind for e in list_events(session, workspace_id=brand.workspace_id)]
    assert kinds.count("question.asked") == 2
    assert kinds.count("question.upvoted") == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"text": "", "consent": True}, 422, None),
        ({"text": "x" * 501, "consent": True}, 422, None),
        ({"text": "好问题吗？"}, 422, "agree"),
        ({"text": "好问题吗？", "consent": True, "extra": 1}, 422, None),
    ],
)
def test_bad_questions_write_nothing(
    client: TestClient, brand: Brand, db: Database, body: dict, status: int, message: str | None
) -> None:
    slug, _cid, qa = make_qa(client, brand)
    response = client.post(ask_url(slug, qa), json=body)
    assert response.status_code == status, response.text
    if message:
        assert message in response.json()["error"]["message"]
    assert client.get(ask_url(slug, qa)).json()["questions"] == []
    with db.session() as session:
        assert list_events(session, kinds=["question.asked", "participant.joined"]) == []


def test_premoderation_and_moderator_actions(client: TestClient, brand: Brand) -> None:
    slug, _cid, qa = make_qa(client, brand, premoderation=True)
    asked = client.post(ask_url(slug, qa), json={"text": "什么时候上新？", "consent": True}).json()
    assert asked["visible"] is False
    qid = asked["question"]["id"]
    public = client.get(ask_url(slug, qa)).json()
    assert public["questions"] == []  # not shown yet
    assert public["pending"] is None  # and the queue's length is not shown to the public
    # Nobody can upvote what is not shown.
    assert client.post(upvote_url(slug, qa, qid), json={}).status_code == 404
    queue = client.get(f"/api/v1/qas/{qa}/questions", headers=brand.auth(Role.ANALYST)).json()
    assert queue["pending"] == 1
    assert [q["status"] for q in queue["questions"]] == ["pending"]

    assert moderation(client, brand, qa, qid, "approve")["status"] == "approved"
    shown = client.get(ask_url(slug, qa)).json()["questions"]
    assert [q["text"] for q in shown] == ["什么时候上新？"]

    later = TestClient(client.app).post(
        ask_url(slug, qa), json={"text": "能用会员积分吗？", "consent": True}
    )
    later_id = later.json()["question"]["id"]
    moderation(client, brand, qa, later_id, "pin")  # pinning shows it and puts it first
    assert [q["id"] for q in client.get(ask_url(slug, qa)).json()["questions"]] == [later_id, qid]
    answered = moderation(client, brand, qa, later_id, "answered")
    assert answered["answered"] is True
    assert answered["pinned"] is False
    moderation(client, brand, qa, qid, "hide")
    assert [q["id"] for q in client.get(ask_url(slug, qa)).json()["questions"]] == [later_id]

    analyst = client.post(
        f"/api/v1/qas/{qa}/questions/{qid}/moderation",
        json={"action": "approve"},
        headers=brand.auth(Role.ANALYST),
    )
    assert analyst.status_code == 403


def test_closed_campaigns_and_unknown_slugs(client: TestClient, brand: Brand) -> None:
    slug, campaign_id, qa = make_qa(client, brand, live=False)  # a draft
    assert (
        client.post(ask_url(slug, qa), json={"text": "在吗？", "consent": True}).status_code == 404
    )
    assert client.get(f"/c/{slug}/qa/{qa}").status_code == 404
    assert client.get(f"/c/no-such-campaign/qa/{qa}").status_code == 404

    take_live(client, brand, campaign_id)
    asked = client.post(ask_url(slug, qa), json={"text": "直播几点开始？", "consent": True})
    qid = asked.json()["question"]["id"]
    client.post(
        f"/api/v1/campaigns/{campaign_id}/transitions",
        json={"status": "ended"},
        headers=brand.auth(Role.OWNER),
    )
    late = TestClient(client.app)
    ended = late.post(upvote_url(slug, qa, qid), json={"consent": True})
    assert ended.status_code == 409
    assert "ended" in ended.json()["error"]["message"]
    after = late.post(ask_url(slug, qa), json={"text": "还能问吗？", "consent": True})
    assert after.status_code == 409
    page = late.get(f"/c/{slug}/qa/{qa}")
    assert "活动已结束" in page.text
    assert 'name="text"' not in page.text  # no form offered after the end
    assert "直播几点开始？" in page.text


def test_the_page_works_without_javascript(client: TestClient, brand: Brand) -> None:
    slug, _cid, qa = make_qa(client, brand)
    url = f"/c/{slug}/qa/{qa}"
    page = client.get(url)
    assert page.status_code == 200
    assert 'property="og:title"' in page.text
    assert "还没有人提问" in page.text
    fields = page_fields(client, url)
    no_consent = client.post(f"{url}/ask", data={**fields, "text": "门店几点开门？"})
    assert no_consent.status_code == 422
    assert "同意" in no_consent.text
    assert "门店几点开门？" in no_consent.text  # what was typed is kept
    asked = client.post(
        f"{url}/ask",
        data={**fields, "text": "门店几点开门？", "nickname": "早起", "consent": "yes"},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    after = client.get(asked.headers["location"])
    assert "感谢提问" in after.text
    assert "门店几点开门？" in after.text
    assert "早起" in after.text

    phone = TestClient(client.app)
    qid = int(re.findall(r'data-question="(\d+)"', after.text)[0])
    vote_url = f"{url}/questions/{qid}/upvote"
    phone_fields = page_fields(phone, url)
    first = phone.post(vote_url, data=phone_fields, follow_redirects=False)
    assert first.status_code == 422  # a first action asks for consent first
    assert 'action="' + vote_url + '"' in first.text
    assert "我同意" in first.text
    voted = phone.post(vote_url, data={**phone_fields, "consent": "yes"}, follow_redirects=False)
    assert voted.status_code == 303
    again = phone.post(vote_url, data=phone_fields)
    assert again.status_code == 409
    assert "你已经为这个问题点过赞了" in again.text
    listed = phone.get(f"{url}/list").text
    assert 'class="qa-count" aria-label="点赞数">1<' in listed.replace("\n", "")


def test_honeypot_csrf_and_rate_limit(client: TestClient, brand: Brand, app) -> None:
    from im2.participation.limits import ActionLimiter

    slug, _cid, qa = make_qa(client, brand)
    url = f"/c/{slug}/qa/{qa}"
    fields = page_fields(client, url)
    bot = client.post(
        f"{url}/ask", data={**fields, "text": "买粉丝加V", "consent": "yes", "website": "x"}
    )
    assert bot.status_code == 400
    forged = client.post(f"{url}/ask", data={"text": "伪造的", "consent": "yes"})
    assert forged.status_code == 403
    assert client.get(ask_url(slug, qa)).json()["questions"] == []

    app.state.limiter = ActionLimiter(per_device="2/minute", per_ip="100/minute")
    codes = [
        client.post(ask_url(slug, qa), json={"text": f"第{i}个问题", "consent": True}).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]


def test_console_create_moderate_present_and_export(client: TestClient, brand: Brand) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    campaign_id = make_campaign(client, brand)
    login(client, brand.emails[Role.EDITOR])
    new_page = f"/console/w/acme/campaigns/{campaign_id}/qa/new"
    action = f"/console/w/acme/campaigns/{campaign_id}/qa"
    bad = client.post(action, data={"csrf_token": form_token(client, new_page, action)})
    assert bad.status_code == 422
    assert 'id="title-error"' in bad.text
    made = client.post(
        action,
        data={
            "csrf_token": form_token(client, new_page, action),
            "title": "店长直播答疑",
            "premoderation": "on",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    detail_url = made.headers["location"]
    qa = int(detail_url.rsplit("/", 1)[1])
    phone = TestClient(client.app)
    phone.post(
        ask_url("qa-live", qa),
        json={"text": "咖啡豆哪里产的？", "nickname": "豆子", "consent": True},
    )

    detail = client.get(detail_url)
    assert "店长直播答疑" in detail.text
    assert "咖啡豆哪里产的？" in detail.text
    assert "待审核" in detail.text
    qid = int(re.findall(r'data-question="(\d+)"', detail.text)[0])
    moderate_url = f"{detail_url}/questions/{qid}"
    approved = client.post(
        moderate_url + "?sort=votes",
        data={
            "csrf_token": form_token(client, detail_url, moderate_url + "?sort=votes"),
            "action": "pin",
        },
        follow_redirects=False,
    )
    assert approved.status_code == 303
    present = phone.get(f"/c/qa-live/qa/{qa}/present")
    assert "正在回答" in present.text
    assert "咖啡豆哪里产的？" in present.text

    export = client.get(f"{detail_url}/export.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [(r["question"], r["nickname"], r["status"], r["pinned"]) for r in rows] == [
        ("咖啡豆哪里产的？", "豆子", "approved", "True")
    ]
    queue = client.get(f"{detail_url}/queue")
    assert "没有待审核的内容" in queue.text


def test_htmx_actions_swap_the_box(client: TestClient, brand: Brand) -> None:
    slug, _cid, qa = make_qa(client, brand)
    url = f"/c/{slug}/qa/{qa}"
    fields = page_fields(client, url)
    htmx = {"HX-Request": "true"}
    asked = client.post(
        f"{url}/ask?sort=time",
        data={**fields, "text": "有燕麦奶吗？", "consent": "yes"},
        headers=htmx,
    )
    assert asked.status_code == 200
    assert asked.text.startswith('<div id="qa-box">')
    assert "感谢提问" in asked.text
    qid = int(re.findall(r'data-question="(\d+)"', asked.text)[0])
    upvoted = client.post(f"{url}/questions/{qid}/upvote", data=fields, headers=htmx)
    assert upvoted.status_code == 200
    assert "点赞成功" in upvoted.text
    twice = client.post(f"{url}/questions/{qid}/upvote", data=fields, headers=htmx)
    assert twice.status_code == 409
    assert twice.text.startswith('<div id="qa-box">')
    assert "你已经为这个问题点过赞了" in twice.text


def test_risky_actions_are_held_until_a_moderator_counts_them(
    client: TestClient, brand: Brand, app
) -> None:
    from tests.test_auth import login
    from tests.test_console import form_token

    slug, _cid, qa = make_qa(client, brand)
    # Any first action without a page view is now risky enough to hold.
    app.state.settings = app.state.settings.model_copy(update={"risk_hold_threshold": 0.1})
    asked = client.post(ask_url(slug, qa), json={"text": "真的有优惠吗？", "consent": True}).json()
    assert asked["visible"] is False
    qid = asked["question"]["id"]
    moderation(client, brand, qa, qid, "approve")
    held = TestClient(client.app).post(upvote_url(slug, qa, qid), json={"consent": True}).json()
    assert held["held_for_review"] is True
    assert held["upvotes"] == 0

    login(client, brand.emails[Role.EDITOR])
    base = f"/console/w/acme/qa/{qa}"
    queue = client.get(f"{base}/queue").text
    assert "(+1 存疑待复核)" in queue
    assert "计入待复核点赞" in queue
    url = f"{base}/questions/{qid}?sort=votes"
    client.post(url, data={"csrf_token": form_token(client, base, url), "action": "approve"})
    assert client.get(ask_url(slug, qa)).json()["questions"][0]["upvotes"] == 1
    rows = list(csv.DictReader(io.StringIO(client.get(f"{base}/export.csv").text.lstrip("\ufeff"))))
    assert rows[0]["held_upvotes"] == "0"
    assert "new device" in rows[0]["risk_reasons"]


def test_the_premoderation_form_shows_its_error_by_the_box(
    client: TestClient, brand: Brand
) -> None:
    from tests.test_auth import login

    _slug, _cid, qa = make_qa(client, brand, premoderation=False)
    login(client, brand.emails[Role.EDITOR])
    base = f"/console/w/acme/qa/{qa}"
    url = f"{base}/settings"

    def stored() -> bool:
        activity = client.get(f"/api/v1/activities/{qa}", headers=brand.auth(Role.ANALYST))
        return bool(activity.json()["settings"]["premoderation"])

    # A browser sends "on" for a ticked box; anything else is not a yes or a no.
    bad = post_form(client, base, url, {"premoderation": "也许"})
    assert bad.status_code == 422
    assert "请修改标出的字段。" in bad.text
    assert field_error_text(bad.text, "premoderation") == "请选择是或否。"
    assert 'aria-describedby="premoderation-error"' in bad.text
    assert "新品发布会问答" in bad.text  # the whole page, with its queue, again
    assert stored() is False

    ticked = post_form(client, base, url, {"premoderation": "on"})
    assert ticked.status_code == 303
    assert ticked.headers["location"] == base
    assert stored() is True
    page = client.get(base)
    assert "field-error" not in page.text
    assert 'id="premoderation" name="premoderation" checked' in page.text

    assert post_form(client, base, url, {}).status_code == 303  # unticked
    assert stored() is False

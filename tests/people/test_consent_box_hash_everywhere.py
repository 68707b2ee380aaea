"""Every consent box posts the hash of the text it showed, not only the formats' main forms
(issues #18 and #20): Q&A's upvote box, UGC's vote boxes (the gallery's and the entry page's),
the comment form, 我的's nickname and code forms and the widget's JSON vote. When the brand
publishes a new "taking part" text between the page being shown and the box being ticked, the
submit is refused with a clear message, nothing is stored, and the new text is shown; the same
submit with the new text's hash goes through and records that version."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from im2.activities.formats.qa.models import QaUpvote
from im2.activities.formats.ugc.models import UgcVote
from im2.db import Database
from im2.participation.models import Comment, Participant, VerificationCode
from im2.workspaces.schemas import Role
from tests.activities.test_qa import ask_url, make_qa
from tests.activities.test_ugc import SLUG as UGC_SLUG
from tests.activities.test_ugc import approve, entries_url, make_contest, submit
from tests.conftest import Brand
from tests.people.test_consent_box_texts import BRAND_TEXT, ZH_CN, _sha, _taking_part, _write
from tests.test_polls import live_campaign, vote_url

CHANGED = "你同意的说明已更新，请重新阅读。"
NEWER = BRAND_TEXT + "（第二版：也保存你的昵称）"
Recorded = tuple[str, str | None, str | None, str]
_SHA = re.compile(r'name="consent_sha256" value="([0-9a-f]{64})"')


def _forms(page: str, action: str) -> list[str]:
    return [f for f in re.findall(r"<form\b.*?</form>", page, flags=re.S) if action in f]


def _posted(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form posting to `action` (its first such form)."""
    [form, *_rest] = _forms(page, action)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refused_then_agreed(
    db: Database,
    post: Callable[[dict[str, str]], object],
    fields: dict[str, str],
    *,
    stored: Callable[[], int],
    republish: Callable[[], None],
    new_fields: Callable[[str], dict[str, str]],
    records: Callable[[], list[Recorded]] | None = None,
    others: int = 0,
) -> None:
    """Given fields read under v1 (their hash is v1's), when the brand publishes v2 and the
    box is ticked: refused (422, the message, the new text and its hash shown), nothing stored
    (`stored` counts this visitor's rows, `records` their consent records, `others` the people
    who took part before); then sent again with what the refusal showed: accepted, v2
    recorded."""
    records = records or (lambda: _taking_part(db))
    assert fields["consent_sha256"] == _sha(BRAND_TEXT)
    republish()
    refused = post({**fields, "consent": "yes"})
    assert refused.status_code == 422, refused.text  # type: ignore[attr-defined]
    page = refused.text  # type: ignore[attr-defined]
    assert CHANGED in page
    assert NEWER in page
    assert _SHA.findall(page) == [_sha(NEWER)] * len(_SHA.findall(page))
    assert records() == []
    assert stored() == 0
    assert _count(db, Participant) == others
    agreed = post({**new_fields(page), "consent": "yes"})
    assert agreed.status_code in (201, 303), agreed.text  # type: ignore[attr-defined]
    assert stored() == 1
    [(version, _language, sha, _channel)] = records()
    assert (version, sha) == ("v2", _sha(NEWER))


def test_a_qa_upvote_box_refuses_a_replaced_text(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _cid, qa = make_qa(client, brand)
    asker = TestClient(client.app)
    asked = asker.post(ask_url(slug, qa), json={"text": "新品什么时候上市？", "consent": True})
    assert asked.status_code == 201, asked.text
    question = asked.json()["question"]["id"]
    _write(client, brand, "zh_CN", BRAND_TEXT)
    asker_joined = _count(db, Participant)

    # The visitor upvotes without the box, so the page asks for consent with the v1 text.
    url = f"/c/{slug}/qa/{qa}"
    upvote = f"{url}/questions/{question}/upvote"
    asked_consent = client.post(upvote, data=_posted(client.get(url).text, upvote))
    assert asked_consent.status_code == 422
    assert BRAND_TEXT in asked_consent.text
    fields = _posted(asked_consent.text, f'action="{upvote}" class="consent"')

    _refused_then_agreed(
        db,
        lambda data: client.post(upvote, data=data, follow_redirects=False),
        fields,
        stored=lambda: _count(db, QaUpvote),
        republish=lambda: _write(client, brand, "zh_CN", NEWER),
        new_fields=lambda page: _posted(page, f'action="{upvote}" class="consent"'),
        records=lambda: _taking_part(db)[1:],  # the asker's is not this visitor's
        others=asker_joined,
    )


def _contest_with_entry(client: TestClient, brand: Brand, db: Database) -> tuple[int, int, int]:
    """A live contest with one approved entry by another phone: (contest, entry, people)."""
    _cid, contest = make_contest(client, brand)
    author = TestClient(client.app)
    sent = submit(author, contest, caption="樱花树下的拿铁", nickname="阿May")
    assert sent.status_code == 201, sent.text
    entry = sent.json()["entry"]
    if entry["status"] != "approved":
        approve(client, brand, contest, entry["id"])
    assert [e["id"] for e in client.get(entries_url(contest)).json()] == [entry["id"]]
    return contest, entry["id"], _count(db, Participant)


@pytest.mark.parametrize("where", ["entry page", "gallery"])
def test_ugc_vote_boxes_refuse_a_replaced_text(
    client: TestClient, brand: Brand, db: Database, where: str
) -> None:
    contest, entry, others = _contest_with_entry(client, brand, db)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    url = f"/c/{UGC_SLUG}/ugc/{contest}"
    vote = f"{url}/entries/{entry}/vote"
    asking = f'action="{vote}" class="consent"'
    if where == "entry page":
        # The entry's own page (the one shared to gather votes) has the box in its vote form.
        entry_page = client.get(f"{url}/entries/{entry}").text
        assert BRAND_TEXT in entry_page
        fields = _posted(entry_page, f'action="{vote}"')
    else:
        # A vote from the gallery without the box: the page asks for consent (v1's text).
        asked = client.post(vote, data=_posted(client.get(url).text, "/submit"))
        assert asked.status_code == 422
        fields = _posted(asked.text, asking)
    authors = len(_taking_part(db))
    _refused_then_agreed(
        db,
        lambda data: client.post(vote, data=data, follow_redirects=False),
        fields,
        stored=lambda: _count(db, UgcVote),
        republish=lambda: _write(client, brand, "zh_CN", NEWER),
        # Refused, the gallery asks again with the new text in the vote's own consent form.
        new_fields=lambda page: _posted(page, asking),
        records=lambda: _taking_part(db)[authors:],
        others=others,
    )


def test_a_comment_box_refuses_a_replaced_text_and_keeps_the_comment(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    action = f"/c/{slug}/comments"
    fields = _posted(client.get(f"/c/{slug}").text, f'action="{action}"')
    comment = "樱花拿铁好喝！"

    def post(data: dict[str, str]) -> object:
        return client.post(action, data={**data, "text": comment}, follow_redirects=False)

    _refused_then_agreed(
        db,
        post,
        fields,
        stored=lambda: _count(db, Comment),
        republish=lambda: _write(client, brand, "zh_CN", NEWER),
        new_fields=lambda page: _kept(page, action, f">{comment}</textarea>"),
    )


def _kept(page: str, action: str, typed: str) -> dict[str, str]:
    """The form refused: what was typed is still in it."""
    [form] = _forms(page, f'action="{action}"')
    assert typed in form
    return _posted(page, f'action="{action}"')


def _nicknamed(db: Database) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Participant).where(Participant.nickname == "小鹿")
            )
            or 0
        )


EMAIL = {"channel": "email", "destination": "xiaolu@example.com"}


@pytest.mark.parametrize(
    ("page", "form", "typed"),
    [("me", "nickname", {"nickname": "小鹿"}), ("me", "code", EMAIL), ("my-data", "code", EMAIL)],
)
def test_my_pages_boxes_refuse_a_replaced_text(
    client: TestClient, brand: Brand, db: Database, page: str, form: str, typed: dict[str, str]
) -> None:
    """我的's nickname and code forms, and 我的数据's code form."""
    slug, _poll, _options = live_campaign(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    action = f"/c/{slug}/{page}/{form}"
    fields = _posted(client.get(f"/c/{slug}/{page}").text, f'action="{action}"')
    kept = f'value="{typed.get("nickname") or typed["destination"]}"'  # what was typed stays
    _refused_then_agreed(
        db,
        lambda data: client.post(action, data={**data, **typed}, follow_redirects=False),
        fields,
        stored=lambda: _nicknamed(db) if form == "nickname" else _count(db, VerificationCode),
        republish=lambda: _write(client, brand, "zh_CN", NEWER),
        new_fields=lambda refused: _kept(refused, action, kept),
    )


def test_the_widgets_json_vote_refuses_a_replaced_text(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, poll, options = live_campaign(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    widget_url = f"/api/v1/public/campaigns/{slug}/activities/{poll}"
    read = client.get(widget_url).json()
    assert read["consent_sha256"] == _sha(BRAND_TEXT)
    _write(client, brand, "zh_CN", NEWER)
    body = {"options": [options[0]], "consent": True, "consent_sha256": read["consent_sha256"]}
    refused = client.post(vote_url(slug, poll), json=body, headers=ZH_CN)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == CHANGED
    assert refused.json()["error"]["field"] == "consent_sha256"
    assert _taking_part(db) == []
    assert _count(db, Participant) == 0
    again = client.get(widget_url).json()
    assert (again["consent_text"], again["consent_sha256"]) == (NEWER, _sha(NEWER))
    assert (
        client.get(f"/api/v1/polls/{poll}/results", headers=brand.auth(Role.OWNER)).json()["voters"]
        == 0
    )
    voted = client.post(vote_url(slug, poll), json={**body, "consent_sha256": _sha(NEWER)})
    assert voted.status_code == 201, voted.text
    assert _taking_part(db) == [("v2", "zh_CN", _sha(NEWER), "action")]

    # Without the field, a first vote behaves as before: the current text is recorded.
    other = TestClient(client.app)
    plain = other.post(vote_url(slug, poll), json={"options": [options[1]], "consent": True})
    assert plain.status_code == 201, plain.text
    assert _taking_part(db)[1] == ("v2", "zh_CN", _sha(NEWER), "action")


def _quiz_answer(client: TestClient, brand: Brand) -> tuple[str, int, str, str, dict]:
    from tests.activities.test_quiz import add_quiz
    from tests.activities.test_quiz import live_campaign as quiz_campaign

    slug, campaign_id = quiz_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    first = quiz["questions"][0]
    body = {"question_id": first["id"], "option_id": first["options"][0]["id"]}
    url = f"/api/v1/public/campaigns/{slug}/quizzes/{quiz['activity_id']}/answers"
    return slug, quiz["activity_id"], "POST", url, body


def _survey_progress(client: TestClient, brand: Brand) -> tuple[str, int, str, str, dict]:
    from tests.activities.test_survey import add_survey
    from tests.activities.test_survey import live_campaign as survey_campaign

    slug, campaign_id = survey_campaign(client, brand)
    survey = add_survey(client, brand, campaign_id)
    url = f"/api/v1/public/campaigns/{slug}/surveys/{survey['activity_id']}/progress"
    nps = survey["questions"][4]["id"]
    return slug, survey["activity_id"], "PUT", url, {"answers": {str(nps): 9}}


def _qa_question(client: TestClient, brand: Brand) -> tuple[str, int, str, str, dict]:
    slug, _campaign_id, qa = make_qa(client, brand)
    return slug, qa, "POST", ask_url(slug, qa), {"text": "新品什么时候上市？"}


@pytest.mark.parametrize("action", [_quiz_answer, _survey_progress, _qa_question])
def test_the_widgets_json_actions_refuse_a_replaced_text(
    client: TestClient, brand: Brand, db: Database, action: Callable[..., tuple]
) -> None:
    """The quiz's answer (a route made by `add_participant_write`), the survey's progress and
    the Q&A's question (routes of their own) check the hash as the poll's vote does."""
    slug, activity, method, url, body = action(client, brand)
    _write(client, brand, "zh_CN", BRAND_TEXT)
    read = client.get(f"/api/v1/public/campaigns/{slug}/activities/{activity}").json()
    assert read["consent_sha256"] == _sha(BRAND_TEXT)
    _write(client, brand, "zh_CN", NEWER)
    stale = {**body, "consent": True, "consent_sha256": read["consent_sha256"]}
    refused = client.request(method, url, json=stale, headers=ZH_CN)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == {
        "code": "invalid",
        "message": CHANGED,
        "field": "consent_sha256",
    }
    assert _count(db, Participant) == 0
    assert _taking_part(db) == []
    fresh = client.request(
        method, url, json={**stale, "consent_sha256": _sha(NEWER)}, headers=ZH_CN
    )
    assert fresh.status_code in (200, 201), fresh.text
    assert _taking_part(db) == [("v2", "zh_CN", _sha(NEWER), "action")]

"""A participant's form lists every field at fault in one submit, each message next to its
field, in Chinese, and keeps what was typed: a person never fixes one field, sends again and
only then learns about the next (issue #18). Without JavaScript (a plain POST) and with HTMX."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.activities.test_qa import make_qa
from tests.activities.test_quiz import add_quiz
from tests.activities.test_quiz import live_campaign as quiz_campaign
from tests.activities.test_ugc import SLUG as UGC_SLUG
from tests.activities.test_ugc import make_contest
from tests.conftest import Brand
from tests.test_comments import _form
from tests.test_polls import live_campaign as poll_campaign

CONSENT = "参与前请同意我们对你的数据的使用方式。"


def visible(page: str) -> str:
    """The page's text as a person reads it: no tags, scripts or styles, spaces squeezed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def fields(client: TestClient, url: str) -> dict[str, str]:
    found = dict(
        re.findall(r'name="(csrf_token|shown|question_id)" value="([^"]+)"', client.get(url).text)
    )
    assert "csrf_token" in found
    return found


def shows_both(response: Any, message: str) -> str:
    """A refused submit (422) shows `message` and the consent's, and counts the two."""
    assert response.status_code == 422
    text = visible(response.text)
    assert message in text
    assert CONSENT in text
    assert "请修改下面标出的 2 处问题。" in text
    return text


def next_to(page: str, message: str, field_html: str) -> bool:
    """`message` is shown right by the field (nothing but markup between them)."""
    return re.search(re.escape(message) + r"</p>\s*(<[^>]*>\s*)*?" + field_html, page) is not None


def test_a_question_with_two_faults_shows_both_and_keeps_the_nickname(
    client: TestClient, brand: Brand
) -> None:
    slug, _cid, qa = make_qa(client, brand)
    url = f"/c/{slug}/qa/{qa}"
    refused = client.post(
        f"{url}/ask", data={**fields(client, url), "text": " ", "nickname": "小鹿"}
    )
    text = shows_both(refused, "请先写下你的问题。")
    assert next_to(refused.text, "请先写下你的问题。", '<textarea id="qa-text"')
    assert next_to(refused.text, CONSENT, '<label><input type="checkbox" name="consent"')
    assert 'value="小鹿"' in refused.text  # what was typed is still there
    assert "Write your question" not in text
    assert "Please agree" not in text

    # With HTMX the box swapped in says the same.
    swapped = client.post(
        f"{url}/ask",
        data={**fields(client, url), "text": "", "nickname": "小鹿"},
        headers={"hx-request": "true"},
    )
    assert swapped.status_code == 422
    assert "请先写下你的问题。" in visible(swapped.text)
    assert CONSENT in visible(swapped.text)

    # Consent given and one fault: that one message, no count, nothing about consent.
    one = client.post(
        f"{url}/ask", data={**fields(client, url), "text": "x" * 501, "consent": "yes"}
    )
    assert one.status_code == 422
    assert "最多 500 个字符。" in visible(one.text)
    assert CONSENT not in visible(one.text)
    assert "处问题" not in visible(one.text)


def test_a_vote_without_a_choice_nor_consent_shows_both(client: TestClient, brand: Brand) -> None:
    slug, poll, _options = poll_campaign(client, brand)
    url = f"/c/{slug}/poll/{poll}"
    refused = client.post(f"{url}/vote", data=fields(client, url))
    text = shows_both(refused, "请先选择一个选项。")
    assert next_to(refused.text, CONSENT, '<label><input type="checkbox" name="consent"')
    assert "Choose an option" not in text


def test_a_quiz_answer_without_a_choice_nor_consent_shows_both(
    client: TestClient, brand: Brand
) -> None:
    slug, campaign_id = quiz_campaign(client, brand)
    quiz = add_quiz(client, brand, campaign_id)
    url = f"/c/{slug}/quiz/{quiz['activity_id']}"
    refused = client.post(f"{url}/answer", data=fields(client, url))
    shows_both(refused, "请先选择一个答案。")


def test_an_empty_entry_without_consent_shows_both_and_keeps_the_nickname(
    client: TestClient, brand: Brand
) -> None:
    _cid, contest = make_contest(client, brand)
    url = f"/c/{UGC_SLUG}/ugc/{contest}"
    refused = client.post(
        f"{url}/submit", data={**fields(client, url), "caption": "", "nickname": "阿青"}
    )
    shows_both(refused, "请上传照片、填写视频链接或写几句话。")
    assert next_to(
        refused.text, "请上传照片、填写视频链接或写几句话。", '<textarea id="ugc-caption"'
    )
    assert 'value="阿青"' in refused.text


def test_my_page_forms_show_every_fault_by_its_field(client: TestClient, brand: Brand) -> None:
    slug, _poll, _options = poll_campaign(client, brand)
    page = f"/c/{slug}/me"
    nickname = _form(client, page, f"/c/{slug}/me/nickname")
    refused = client.post(f"/c/{slug}/me/nickname", data={**nickname, "nickname": "  "})
    assert refused.status_code == 422
    text = visible(refused.text)
    assert "此项为必填。" in text
    assert CONSENT in text

    code = _form(client, page, f"/c/{slug}/me/code")
    refused = client.post(
        f"/c/{slug}/me/code", data={**code, "channel": "phone", "destination": ""}
    )
    assert refused.status_code == 422
    form = next(
        f for f in re.findall(r"<form\b.*?</form>", refused.text, flags=re.S) if "/me/code" in f
    )
    assert next_to(form, "此项为必填。", "")  # by the address, inside the code form
    assert CONSENT in visible(form)
    assert 'value="phone" selected' in form  # the channel chosen stays
    # The other forms of the page do not repeat the code form's errors.
    assert visible(refused.text).count(CONSENT) == 1


def test_my_data_code_form_shows_both_faults(client: TestClient, brand: Brand) -> None:
    slug, _poll, _options = poll_campaign(client, brand)
    fields = _form(client, f"/c/{slug}/my-data", f"/c/{slug}/my-data/code")
    refused = client.post(
        f"/c/{slug}/my-data/code", data={**fields, "channel": "email", "destination": " "}
    )
    assert refused.status_code == 422
    text = visible(refused.text)
    assert "此项为必填。" in text
    assert CONSENT in text
    assert 'id="destination-error"' in refused.text
    assert 'id="consent-error"' in refused.text


def test_a_survey_step_without_an_answer_nor_consent_shows_both(
    client: TestClient, brand: Brand
) -> None:
    from tests.activities.test_survey import add_survey, ids
    from tests.activities.test_survey import live_campaign as survey_campaign

    slug, campaign_id = survey_campaign(client, brand)
    survey = add_survey(client, brand, campaign_id)
    url = f"/c/{slug}/survey/{survey['activity_id']}"
    refused = client.post(f"{url}/answer", data=fields(client, url))
    text = shows_both(refused, "这道题必须回答。")
    assert next_to(refused.text, CONSENT, '<label><input type="checkbox" name="consent"')
    assert "needs an answer" not in text
    assert client.get(
        f"/api/v1/public/campaigns/{slug}/surveys/{survey['activity_id']}/progress"
    ).json()["answers"] in ({}, None)

    # A visitor who has joined keeps their draft: question 1 answered on its page, then a
    # reload and question 2 sent blank says only that question 2 needs an answer.
    first = ids(survey)[0]
    page = client.get(url).text
    option = re.findall(r'name="answer" value="(\d+)"', page)[0]
    step = client.post(
        f"{url}/answer",
        data={**fields(client, url), "answer": option, "consent": "yes"},
        follow_redirects=False,
    )
    assert step.status_code == 303, step.text
    blank = client.post(f"{url}/answer", data=fields(client, url))
    assert blank.status_code == 422
    assert "这道题必须回答。" in visible(blank.text)
    assert CONSENT not in visible(blank.text)
    progress = client.get(
        f"/api/v1/public/campaigns/{slug}/surveys/{survey['activity_id']}/progress"
    ).json()
    assert progress["answers"] == {str(first): int(option)}

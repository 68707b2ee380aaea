"""A form sent with the consent box unticked and a field only the participation service checks
(a malformed e-mail address or mobile number, a nickname too long) shows both faults at once,
each by its field, and keeps what was typed (issue #18): the service asks consent first, so
the page's pre-check runs the service's own field checks too. With the box ticked, the one
fault shows alone; with the fault fixed, the consent's alone."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from im2.db import Database
from im2.participation.models import Participant, VerificationCode
from tests.conftest import Brand
from tests.test_comments import _form
from tests.test_polls import live_campaign
from tests.web.test_participant_form_all_errors import CONSENT, next_to, visible

EMAIL = "请输入有效的电子邮件地址。"
PHONE = "请输入手机号，例如 13800138000 或 +8613800138000。"
NICKNAME = "最多 20 个字符。"


def _count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _both(response: Any, message: str) -> str:
    """A refused submit (422) that shows `message` and the consent's; the page's text."""
    assert response.status_code == 422
    text = visible(response.text)
    assert message in text
    assert CONSENT in text
    return text


def _code_form(page: str, action: str) -> str:
    return next(f for f in re.findall(r"<form\b.*?</form>", page, flags=re.S) if action in f)


@pytest.mark.parametrize(
    ("page", "channel", "typed", "message"),
    [
        ("me", "email", "xiaolin@", EMAIL),
        ("me", "phone", "12345", PHONE),
        ("my-data", "email", "xiaolin@@example", EMAIL),
        ("my-data", "phone", "+86 138", PHONE),
    ],
)
def test_a_code_form_shows_a_malformed_address_and_the_consent_together(
    client: TestClient,
    brand: Brand,
    db: Database,
    page: str,
    channel: str,
    typed: str,
    message: str,
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    action = f"/c/{slug}/{page}/code"
    fields = _form(client, f"/c/{slug}/{page}", action)
    refused = client.post(action, data={**fields, "channel": channel, "destination": typed})
    _both(refused, message)
    form = _code_form(refused.text, action)
    # Each by its field: the address's under the address, the consent's in its box.
    assert next_to(form, message, "")
    assert 'id="destination-error"' in form
    assert 'id="consent-error"' in form
    assert re.search(re.escape(message) + r"</p>", form.split('name="consent"')[0])
    assert next_to(form, CONSENT, '<label><input type="checkbox" name="consent"')
    # What was typed stays: the address and the channel.
    assert f'value="{typed}"' in form
    assert f'value="{channel}" selected' in form
    assert "Enter a" not in visible(refused.text)
    # Nothing was stored: no participant, no code.
    assert (_count(db, Participant), _count(db, VerificationCode)) == (0, 0)

    # The box ticked: the address's fault alone, nothing about consent.
    alone = client.post(
        action, data={**fields, "channel": channel, "destination": typed, "consent": "yes"}
    )
    assert alone.status_code == 422
    assert message in visible(alone.text)
    assert CONSENT not in visible(_code_form(alone.text, action))
    assert "处问题" not in visible(alone.text)


def test_a_nickname_too_long_and_the_consent_show_together(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _poll, _options = live_campaign(client, brand)
    action = f"/c/{slug}/me/nickname"
    fields = _form(client, f"/c/{slug}/me", action)
    typed = "春" * 25
    refused = client.post(action, data={**fields, "nickname": typed})
    # Shown once, in the nickname's form: the page's other forms do not repeat its errors.
    assert _both(refused, NICKNAME).count(CONSENT) == 1
    form = _code_form(refused.text, action)
    assert next_to(form, NICKNAME, "")
    assert 'id="nickname-error"' in form
    assert form.index('id="nickname-error"') < form.index('name="consent"')
    assert form.index('name="consent"') < form.index('id="consent-error"')
    assert f'value="{typed}"' in form
    assert _count(db, Participant) == 0

    # A blank nickname says it is required, once, with the consent's.
    blank = client.post(action, data={**fields, "nickname": "  "})
    text = _both(blank, "此项为必填。")
    assert text.count("此项为必填。") == 1

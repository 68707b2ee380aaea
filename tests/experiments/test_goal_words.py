"""An experiment's goal is chosen and shown in words (已投票, 点赞), never as event keys like
`vote.cast` or `share.clicked`, and the variants table scrolls inside its card on a phone."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.experiments.test_console import form
from tests.experiments.test_experiments import campaign_id_of
from tests.test_auth import login
from tests.test_polls import live_campaign

KEY = re.compile(r"\b(?:vote\.cast|share\.clicked|participant\.joined|like\.given)\b")


def test_goals_are_named_in_words(client: TestClient, brand: Brand) -> None:
    _slug, activity_id, _options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    login(client, brand.emails[Role.OWNER])
    base = f"/console/w/acme/campaigns/{campaign_id}/experiments"

    page = client.get(base).text
    assert 'value="vote.cast" checked> 已投票</label>' in page
    assert "> 点赞</label>" in page
    assert "> 好友打开了其分享链接</label>" in page
    assert not KEY.search(re.sub(r'value="[^"]*"', "", page))
    assert '<div class="table-wrap"><table>' in page  # the variants table

    made = client.post(base, data=form(client, activity_id), follow_redirects=True)
    assert made.status_code == 200, made.text
    assert "目标： 已投票" in made.text
    assert not KEY.search(re.sub(r'value="[^"]*"', "", made.text))

"""The experiments console: create from the form (with inline errors), see results, conclude."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.experiments.test_experiments import TITLE_A, campaign_id_of, page_title
from tests.test_auth import csrf, login
from tests.test_polls import live_campaign, vote_url


def form(client: TestClient, activity_id: int, **changes: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf(client),
        "name": "按钮文案",
        "key": "button-text",
        "activity_id": str(activity_id),
        "goal_kinds": "vote.cast",
        "min_effect": "0.2",
        "v0_key": "control",
        "v0_weight": "1",
        "v1_key": "urgent",
        "v1_weight": "1",
        "v1_title": "限时投票，今晚截止！",
        "start": "yes",
    }
    data.update(changes)
    return data


def test_a_marketer_creates_an_experiment_reads_results_and_concludes(
    client: TestClient, brand: Brand
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/experiments"

    empty = client.get(base)
    assert empty.status_code == 200
    assert "还没有实验" in empty.text  # Chinese by default

    bad = client.post(base, data=form(client, activity_id, v1_weight="0"), follow_redirects=False)
    assert bad.status_code == 422
    assert "权重" in bad.text  # the weight error, next to the field
    assert 'value="限时投票，今晚截止！"' in bad.text  # what was typed stays

    made = client.post(base, data=form(client, activity_id), follow_redirects=False)
    assert made.status_code == 303, made.text
    detail_url = made.headers["location"]

    for _ in range(6):
        phone = TestClient(client.app)
        page_title(phone, f"/c/{slug}/poll/{activity_id}")
        phone.post(vote_url(slug, activity_id), json={"options": [options[0]], "consent": True})
    detail = client.get(detail_url)
    assert detail.status_code == 200
    assert "数据不足" in detail.text  # not enough data yet, and how many more
    assert '<script src="/static/vendor/echarts.min.js"' in detail.text
    chart = json.loads(
        re.search(r'id="experiment-chart">(.*?)</script>', detail.text, re.S).group(1)  # type: ignore[union-attr]
    )
    assert len(chart["densities"]) == 2
    rows = re.findall(
        r'<tr data-variant="(\w+)">\s*<td[^>]*>.*?</td>\s*<td[^>]*>(\d+)</td>', detail.text, re.S
    )
    assert sum(int(n) for _, n in rows) == 6

    done = client.post(
        detail_url + "/conclude",
        data={"csrf_token": csrf(client), "winner": "urgent", "apply": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get(detail_url)
    assert "已结束" in after.text
    assert "结束实验" not in after.text
    # The kept variant's title is now the poll's own.
    assert (
        page_title(TestClient(client.app), f"/c/{slug}/poll/{activity_id}")
        == "限时投票，今晚截止！"
    )


def test_concluding_without_applying_keeps_the_original(client: TestClient, brand: Brand) -> None:
    slug, activity_id, _options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/experiments"
    made = client.post(base, data=form(client, activity_id), follow_redirects=False)
    assert made.status_code == 303
    done = client.post(
        made.headers["location"] + "/conclude",
        data={"csrf_token": csrf(client), "winner": "urgent"},  # the box left unticked
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert page_title(TestClient(client.app), f"/c/{slug}/poll/{activity_id}") == TITLE_A


def test_a_viewer_sees_results_but_cannot_create(client: TestClient, brand: Brand) -> None:
    _slug, activity_id, _options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, activity_id)
    assert login(client, brand.emails[Role.VIEWER]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/experiments"
    page = client.get(base)
    assert page.status_code == 200
    assert "新建实验" not in page.text
    refused = client.post(base, data=form(client, activity_id), follow_redirects=False)
    assert refused.status_code == 403

"""The demo's live campaign shows a product survey with real-looking responses and a coffee
quiz with a leaderboard (both formats' `load_demo`)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.demo import DEMO_PASSWORD, DEMO_USERS, load_demo
from tests.test_auth import login


def test_demo_survey_and_quiz(client: TestClient, db: Database, clock: ManualClock) -> None:
    load_demo(db, now=clock.now())
    landing = client.get("/c/sakura-latte-feedback")
    assert "春季新品体验问卷" in landing.text
    assert "咖啡冷知识挑战" in landing.text
    assert login(client, DEMO_USERS[0][0], DEMO_PASSWORD) == 303
    listed = client.get("/console/w/shanye-coffee/campaigns?status=live").text
    campaign_id = int(re.findall(r"/console/w/shanye-coffee/campaigns/(\d+)", listed)[0])
    activities = client.get(f"/console/w/shanye-coffee/campaigns/{campaign_id}/activities").text

    survey_id = int(re.findall(r"/console/w/shanye-coffee/survey/(\d+)", activities)[0])
    survey = client.get(f"/console/w/shanye-coffee/survey/{survey_id}").text
    submitted = int(re.search(r"<dt>已提交</dt><dd>(\d+)</dd>", survey).group(1))  # type: ignore[union-attr]
    assert 90 <= submitted <= 110
    assert "NPS 净推荐值" in survey
    assert "平均评分" in survey

    quiz_ids = sorted(
        {int(i) for i in re.findall(r"/console/w/shanye-coffee/quiz/(\d+)", activities)}
    )
    assert len(quiz_ids) == 2  # the coffee quiz and the menu prediction
    quiz = client.get(f"/console/w/shanye-coffee/quiz/{quiz_ids[0]}").text
    assert "咖啡冷知识挑战" in quiz
    assert "<dt>参与人数</dt><dd>60</dd>" in quiz
    board = TestClient(client.app).get(f"/c/sakura-latte-feedback/quiz/{quiz_ids[0]}/leaderboard")
    assert board.status_code == 200
    assert '<td data-label="名次">1</td>' in board.text

"""An erased person's survey response: their free-text answer is gone from everywhere, their
choices stay under the anonymous stand-in, so every tally, average, NPS and ranking of the
survey is what it was; only the written answers (and how many answered the text question)
lose theirs (docs/privacy.md)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.config import Settings
from im2.db import Database
from im2.privacy.export import build_export
from im2.workspaces.schemas import Role
from tests.activities.test_quiz import live_campaign
from tests.activities.test_survey import add_survey, full_answers, ids, option_ids, public
from tests.conftest import Brand
from tests.privacy.test_erasure import _dump, _erase

THEIR_WORDS = "我住在西湖边的那个小区Wq8"
OTHER_WORDS = "店里音乐太吵了"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"lake_path": tmp_path / "lake", "media_path": tmp_path / "media"}
    )


def _summary(client: TestClient, brand: Brand, survey: dict[str, Any]) -> dict[str, Any]:
    answer = client.get(
        f"/api/v1/surveys/{survey['activity_id']}/summary", headers=brand.auth(Role.ANALYST)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_erasure_keeps_the_choices_and_removes_the_written_answer(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, settings: Settings
) -> None:
    slug, campaign_id = live_campaign(client, brand)
    survey = add_survey(client, brand, campaign_id)
    browser = TestClient(client.app)
    options = [option_ids(browser, slug, survey, p) for p in range(1, 8)]
    q = ids(survey)
    theirs = {**full_answers(survey, options), str(q[6]): THEIR_WORDS}
    sent = client.post(
        public(slug, survey, "/responses"), json={"answers": theirs, "consent": True}
    )
    assert sent.status_code == 201, sent.text
    other = TestClient(client.app)
    others = {
        **full_answers(survey, options),
        str(q[0]): options[0][2],
        str(q[2]): 2,
        str(q[4]): 3,
        str(q[6]): OTHER_WORDS,
    }
    sent = other.post(public(slug, survey, "/responses"), json={"answers": others, "consent": True})
    assert sent.status_code == 201, sent.text

    before = _summary(client, brand, survey)
    by_kind = {s["kind"]: s for s in before["questions"]}
    # The ground truth of the two responses, before anything is erased.
    assert before["responses"] == 2
    assert by_kind["rating"]["average"] == 3.0  # 4 and 2
    assert sorted(by_kind["text"]["texts"]) == sorted([THEIR_WORDS, OTHER_WORDS])
    assert THEIR_WORDS in _dump(db)

    people = client.get("/api/v1/people", headers=brand.auth(Role.OWNER)).json()["items"]
    person = people[-1]["id"]  # newest first: the first respondent is last
    # Their copy names each question and the answer in words.
    with db.session() as session:
        zipped = build_export(
            session,
            workspace_id=brand.workspace_id,
            person_id=person,
            now=clock.now(),
            lake_path=settings.lake_path,
            media_path=settings.media_path,
            out_dir=settings.media_path / "exports",
        )
    data = json.loads(zipfile.ZipFile(zipped).read("data.json"))
    [response] = data["tables"]["survey_responses"]
    named = {a["question"]: a["answer"] for a in response["answers_named"]}
    assert named["你多久来一次？"] == "每天"
    assert named["给樱花拿铁打分"] == 4
    assert named["喜欢哪些地方？"] == ["香气", "颜值"]
    assert named["哪些因素最重要？"] == ["环境", "口味", "价格"]
    assert named["还有什么建议？"] == THEIR_WORDS
    assert OTHER_WORDS not in zipfile.ZipFile(zipped).read("data.json").decode()
    zipped.unlink()

    report = _erase(db, brand, person, clock.now(), settings.lake_path)
    assert report.rows_anonymised.get("survey_responses") == 1

    after = _summary(client, brand, survey)
    # Every figure but the written answers is the same: their choices count as before.
    assert {k: v for k, v in after.items() if k != "questions"} == {
        k: v for k, v in before.items() if k != "questions"
    }
    for was, now in zip(before["questions"], after["questions"], strict=True):
        if was["kind"] == "text":
            # The written answers, and how many answered that question, lose theirs.
            assert was["answered"] == 2
            assert now == {**was, "texts": [OTHER_WORDS], "answered": 1}, now
        else:
            assert now == was, (was, now)
    # Their words are nowhere in the database (the response, its events, the webhooks' log).
    assert THEIR_WORDS not in _dump(db)
    assert OTHER_WORDS in _dump(db)

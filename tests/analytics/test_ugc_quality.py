"""The UGC quality score, from a real contest: submissions, moderation and public votes."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from im2.config import Environment, Settings
from im2.workspaces.schemas import Role
from tests.activities.test_ugc import approve, entries_url, make_contest, photo, submit
from tests.conftest import Brand


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        media_path=tmp_path / "media",
        lake_path=tmp_path / "lake",
    )


def quality(client: TestClient, brand: Brand, campaign_id: int) -> dict:
    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "ugc_quality"},
        headers=brand.auth(Role.ANALYST),
    )
    assert response.status_code == 200, response.text
    result: dict = response.json()["metrics"]["ugc_quality"]
    return result


def test_quality_score_follows_the_documented_rule(client: TestClient, brand: Brand) -> None:
    campaign_id, contest = make_contest(client, brand, votes_per_day=1)
    # Nothing submitted yet: no score (not zero, not NaN).
    empty = quality(client, brand, campaign_id)
    assert empty["value"] is None
    assert empty["rows"] == []

    caption = "春" * 70  # half of the 140 characters that fill the length part
    good = submit(client, contest, image=photo(), caption=caption).json()["entry"]
    approve(client, brand, contest, good["id"])
    for _ in range(3):
        voter = TestClient(client.app)
        vote = voter.post(f"{entries_url(contest)}/{good['id']}/votes", json={"consent": True})
        assert vote.status_code == 201, vote.text
    # A video link without a caption, still waiting for review, no votes.
    other = TestClient(client.app)
    video = submit(other, contest, video_url="https://www.bilibili.com/video/BV1GJ411x7h7")
    assert video.status_code == 201, video.text

    # By hand from the rule in the metric's description: 35 approved, 30 * ln(1+votes)/ln(21),
    # 20 for media, 15 * min(1, characters / 140).
    first = 35 + 30 * math.log(4) / math.log(21) + 20 + 15 * 0.5
    second = 0 + 0 + 20 + 0
    result = quality(client, brand, campaign_id)
    assert result["unit"] == "score"
    assert result["value"] == pytest.approx((first + second) / 2)
    parts = {r["component"]: r for r in result["rows"]}
    assert parts["approved"]["average"] == pytest.approx(0.5)
    assert parts["votes"]["average"] == pytest.approx(1.5)
    assert parts["media"]["average"] == pytest.approx(1.0)
    assert parts["length"]["average"] == pytest.approx(35)
    assert sum(r["points"] for r in result["rows"]) == pytest.approx(result["value"])

    described = {
        m["key"]: m for m in client.get("/api/v1/metrics", headers=brand.auth(Role.VIEWER)).json()
    }["ugc_quality"]
    assert "140" in described["description"]
    assert "ugc.submitted" in described["kinds"]

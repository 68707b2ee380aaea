"""The demo's live Q&A and photo challenge look real: Chinese questions with upvotes, a
gallery of drawn pictures with votes and jury scores, a queue with a flagged entry."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from im2.activities.formats.qa import demo as qa_demo
from im2.activities.formats.ugc import demo as ugc_demo
from im2.clock import ManualClock
from im2.config import get_settings
from im2.db import Database
from im2.events.schemas import ActorType
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor, Role
from tests.activities.test_ugc import settings as settings  # uploads in the test's folder
from tests.conftest import Brand, go_live


def test_demo_content(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = brand.auth(Role.OWNER)
    campaign = go_live(client, brand, slug="demo-live")
    # The demo writes where `im2 demo` would: the configured media folder.
    monkeypatch.setenv("IM2_MEDIA_PATH", str(tmp_path / "media"))
    get_settings.cache_clear()
    try:
        with db.transaction() as session:
            user_id = workspaces.get_user_id(session, email=brand.emails[Role.OWNER])
            owner = Actor(
                type=ActorType.USER,
                id=user_id,
                label="owner",
                workspace_id=brand.workspace_id,
                workspace_slug=brand.slug,
                role=Role.OWNER,
            )
            ids = {"feedback_live": int(campaign["id"])}
            qa_demo.load_demo(session, actor=owner, campaign_ids=ids, now=clock.now())
            ugc_demo.load_demo(session, actor=owner, campaign_ids=ids, now=clock.now())
    finally:
        get_settings.cache_clear()

    landing = client.get("/c/demo-live").text
    qa_id = int(re.findall(r"/c/demo-live/qa/(\d+)", landing)[0])
    ugc_id = int(re.findall(r"/c/demo-live/ugc/(\d+)", landing)[0])
    board = client.get(f"/api/v1/public/campaigns/demo-live/qas/{qa_id}/questions").json()
    assert len(board["questions"]) == 19  # one of twenty hidden by the moderator
    assert board["questions"][0]["pinned"] is True
    assert sum(q["upvotes"] for q in board["questions"]) > 150
    presenter = client.get(f"/c/demo-live/qa/{qa_id}/present").text
    assert "正在回答" in presenter

    gallery = client.get(f"/api/v1/public/campaigns/demo-live/ugcs/{ugc_id}/entries").json()
    assert len(gallery) == 11
    assert sum(e["votes"] for e in gallery) > 90
    picture = client.get(next(e["image_url"] for e in gallery if e["image_url"]))
    assert Image.open(io.BytesIO(picture.content)).size == (720, 720)
    queue = client.get(f"/api/v1/ugcs/{ugc_id}/entries?status=pending", headers=auth).json()
    assert [bool(e["flags"]) for e in queue] == [True, False]
    ranking = client.get(f"/api/v1/ugcs/{ugc_id}/ranking", headers=auth).json()
    assert sum(1 for r in ranking["entries"] if r["jurors"]) == 8

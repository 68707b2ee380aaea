"""Labels joined to their values on public pages use the reader's colon: "连续打卡里程碑：2 天"
and "我同意：参与活动时…" in Chinese, "Streak milestones: 2 days" in English."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.activities.test_checkin import add_checkin
from tests.conftest import Brand, go_live

HALF_WIDTH = re.compile(r"[\u3400-\u9fff]: ")


def test_public_labels_use_the_readers_colon(client: TestClient, brand: Brand) -> None:
    campaign = go_live(client, brand, languages=["zh-CN", "en"])
    checkin = add_checkin(client, brand, campaign["id"])
    chinese = client.get(
        f"/c/{campaign['slug']}/checkin/{checkin}", headers={"accept-language": "zh-CN"}
    ).text
    assert "连续打卡里程碑：2 天" in chinese
    campaign_page = client.get(f"/c/{campaign['slug']}", headers={"accept-language": "zh-CN"}).text
    assert "我同意：" in campaign_page  # the comment box's consent
    assert not HALF_WIDTH.search(re.sub(r"<[^>]+>", "", chinese + campaign_page))
    english = client.get(f"/c/{campaign['slug']}/checkin/{checkin}?lang=en").text
    assert "Streak milestones: 2 days" in english

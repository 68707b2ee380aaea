"""我的数据 inside WeChat, which does not download files: next to the zip's download link the
page says to open it in the browser (··· → 在浏览器中打开); in a browser it does not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from im2.participation.senders import MemorySender
from tests.conftest import Brand
from tests.people.helpers import verify
from tests.privacy.test_requests import outbox, settings  # noqa: F401
from tests.privacy.test_self_service import PHONE, _open, _post
from tests.test_polls import live_campaign, vote_url
from tests.wechat.helpers import SAFARI_UA, WECHAT_UA


def test_the_data_download_inside_wechat_says_to_open_the_browser(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,  # noqa: F811
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    client.headers["User-Agent"] = WECHAT_UA
    voted = client.post(
        vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
    )
    assert voted.status_code == 201
    verify(client, slug, outbox, "phone", PHONE)
    assert _open(client, slug, outbox).status_code == 303
    assert _post(client, slug, "export").status_code == 303
    page = client.get(f"/c/{slug}/my-data").text
    assert 'id="download"' in page
    assert 'id="open-in-browser"' in page
    assert "在浏览器中打开" in page
    client.headers["User-Agent"] = SAFARI_UA
    page = client.get(f"/c/{slug}/my-data").text
    assert 'id="download"' in page
    assert 'id="open-in-browser"' not in page

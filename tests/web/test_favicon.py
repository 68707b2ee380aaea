"""Every page names its icon, and the icon is there (no 404 for /favicon.ico on each page)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Brand
from tests.test_polls import live_campaign


def test_console_and_public_pages_link_an_icon_that_exists(
    client: TestClient, brand: Brand
) -> None:
    slug, _poll_id, _options = live_campaign(client, brand)
    for path in ("/console/login", f"/c/{slug}", "/c/no-such-campaign"):
        page = client.get(path).text
        icon = re.search(r'<link rel="icon" href="([^"]+)"', page)
        assert icon, path
        served = client.get(icon.group(1))
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("image/svg+xml")
        assert served.content.startswith(b"<svg")

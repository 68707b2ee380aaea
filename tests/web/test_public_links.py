"""Links that leave the page (share links, QR codes, posters) point at the server people
reached, not at a default address: a server on another port gives links on that port."""

from __future__ import annotations

import io
import re

import httpx
import pytest
import qrcode
import qrcode.image.svg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from im2.cli import app as cli
from im2.clock import ManualClock
from im2.config import Settings, get_settings
from im2.db import Database
from tests.conftest import Brand, LiveServer
from tests.sharing.test_poster import drawn_matrix, expected_matrix
from tests.test_polls import live_campaign, vote_url
from tests.test_sharing import _get_link


def _sharer(http: httpx.Client | TestClient, brand: Brand) -> tuple[str, str]:
    """A participant who voted and took a share link: (campaign slug, link code)."""
    slug, poll_id, options = live_campaign(http, brand)  # type: ignore[arg-type]
    voted = http.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201, voted.text
    return slug, _get_link(http, slug)  # type: ignore[arg-type]


def test_share_links_qr_codes_and_posters_use_the_servers_own_port(
    live_server: LiveServer, brand: Brand
) -> None:
    assert not live_server.url.endswith(":8000")
    with httpx.Client(base_url=live_server.url, timeout=60) as phone:
        slug, code = _sharer(phone, brand)
        page = phone.get(f"/c/{slug}/share").text
        links = re.findall(r'value="(http[^"]+/s/[^"]+)"', page)
        assert links, page[:2000]
        assert all(link.startswith(f"{live_server.url}/s/{code}?ch=") for link in links)
        assert "127.0.0.1:8000" not in page

        target = f"{live_server.url}/s/{code}?ch=qr"
        svg = phone.get(f"/s/{code}/qr.svg").content
        expected = io.BytesIO()
        qrcode.make(target, image_factory=qrcode.image.svg.SvgPathImage).save(expected)
        assert svg == expected.getvalue()

        poster = Image.open(io.BytesIO(phone.get(f"/c/{slug}/share/poster.png").content))
        poster.load()
        matrix = expected_matrix(target)
        assert drawn_matrix(poster, len(matrix)) == matrix


def test_a_configured_public_address_wins_and_proxy_headers_count_only_when_trusted(
    settings: Settings, db: Database, clock: ManualClock, brand: Brand
) -> None:
    from im2.app import create_app

    with TestClient(
        create_app(settings, db=db, clock=clock), base_url="http://lan-host:9000"
    ) as phone:
        slug, code = _sharer(phone, brand)
        cookies = dict(phone.cookies)

    def first_link(configured: Settings, **headers: str) -> str:
        app = create_app(configured, db=db, clock=clock)
        with TestClient(app, base_url="http://lan-host:9000", cookies=cookies) as phone:
            page = phone.get(f"/c/{slug}/share", headers=headers).text
        return re.findall(r'value="(http[^"]+/s/[^"]+)"', page)[0]

    assert first_link(settings) == f"http://lan-host:9000/s/{code}?ch=link"
    forwarded = {"X-Forwarded-Host": "im2.example.net", "X-Forwarded-Proto": "https"}
    assert first_link(settings, **forwarded).startswith("http://lan-host:9000/s/")
    trusted = settings.model_copy(update={"trust_forwarded_for": True})
    assert first_link(trusted, **forwarded).startswith("https://im2.example.net/s/")
    public = Settings(**{**settings.model_dump(), "base_url": "https://im2.example.com/"})
    assert first_link(public, **forwarded).startswith("https://im2.example.com/s/")


def test_links_built_outside_a_request_follow_host_and_port(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    assert Settings().serving_at(host="0.0.0.0", port=9000).base_url == "http://127.0.0.1:9000"  # noqa: S104
    assert (
        Settings(base_url="https://im2.example.com").serving_at(host="::1", port=9000).base_url
        == "https://im2.example.com"
    )
    served: list[FastAPI] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: served.append(app))
    monkeypatch.setattr("im2.demo.load_demo", lambda db, now: False)
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    monkeypatch.delenv("IM2_BASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        shown = CliRunner().invoke(cli, ["demo", "--port", "9000"])
        assert shown.exit_code == 0, shown.output
        assert "http://127.0.0.1:9000/console" in shown.output
        assert "8000" not in shown.output
        assert served[-1].state.settings.base_url == "http://127.0.0.1:9000"
        monkeypatch.setenv("IM2_PORT", "9100")
        get_settings.cache_clear()
        assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
        assert served[-1].state.settings.base_url == "http://127.0.0.1:9100"
    finally:
        get_settings.cache_clear()

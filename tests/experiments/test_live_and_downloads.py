"""The experiment page's two charts download as CSV, Excel and Parquet with the numbers the page
shows, and the page's results move by themselves when people take part (server-sent events)."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from im2.workspaces.schemas import Role
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.experiments.test_experiments import campaign_id_of, experiment_body, page_title
from tests.test_auth import login
from tests.test_polls import POLL, live_campaign, vote_url


def started(client: TestClient | httpx.Client, brand: Brand, campaign_id: int, poll: int) -> int:
    created = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(poll),
        headers=brand.auth(Role.OWNER),
    )
    assert created.status_code == 201, created.text
    experiment_id: int = created.json()["id"]
    return experiment_id


def test_each_chart_downloads_the_numbers_the_page_shows(client: TestClient, brand: Brand) -> None:
    slug, poll, options = live_campaign(client, brand)
    campaign_id = campaign_id_of(client, brand, poll)
    experiment_id = started(client, brand, campaign_id, poll)
    for i in range(6):
        phone = TestClient(client.app)
        page_title(phone, f"/c/{slug}/poll/{poll}")
        if i % 2 == 0:
            vote = phone.post(vote_url(slug, poll), json={"options": [options[0]], "consent": True})
            assert vote.status_code == 201
    assert login(client, brand.emails[Role.ANALYST]) == 303
    url = f"/console/w/acme/campaigns/{campaign_id}/experiments/{experiment_id}"

    page = client.get(url).text

    for chart in ("variants", "posterior"):
        for fmt in ("csv", "xlsx", "parquet"):
            assert f'href="{url}/export/{chart}.{fmt}"' in page
    shown = {
        key: int(n)
        for key, n in re.findall(
            r'<tr data-variant="([\w-]+)">.*?data-cell="exposures">(\d+)<', page, re.S
        )
    }
    assert sum(shown.values()) == 6
    download = client.get(url + "/export/variants.csv")
    assert download.status_code == 200
    disposition = download.headers["content-disposition"]
    assert disposition == 'attachment; filename="spring-vote-poster-text-variants.csv"'
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert {r["key"]: int(r["exposures"]) for r in rows} == shown
    assert sum(int(r["conversions"]) for r in rows) == 3
    assert {"probability_best", "expected_loss", "interval_low", "needed"} <= set(rows[0])
    sheet = load_workbook(io.BytesIO(client.get(url + "/export/variants.xlsx").content)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:2] == ["key", "name"]
    curves = pq.read_table(io.BytesIO(client.get(url + "/export/posterior.parquet").content))
    assert curves.column_names == ["variant", "name", "rate", "density"]
    assert sorted(set(curves.column("variant").to_pylist())) == ["control", "prize"]
    drawn = json.loads(
        re.search(r'id="experiment-chart">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    )
    assert curves.num_rows == 2 * len(drawn["grid"])
    # The page's live data is the same.
    data = client.get(url + "/data").json()
    assert {v["key"]: v["exposures"] for v in data["variants"]} == shown
    assert data["verdict"] in page
    # A chart that does not exist, and an experiment under another campaign's address.
    assert client.get(url + "/export/happiness.csv").status_code == 422
    other = client.get(
        f"/console/w/acme/campaigns/{campaign_id + 999}/experiments/{experiment_id}/data"
    )
    assert other.status_code == 404


def _console(server: LiveServer, email: str) -> httpx.Client:
    http = httpx.Client(base_url=server.url, timeout=20)
    form = http.get("/console/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    done = http.post(
        "/console/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
    )
    assert done.status_code in (200, 303), done.text[:300]
    return http


def _listen(
    http: httpx.Client,
    url: str,
    event: str,
    enough: Callable[[list[Any]], bool],
    found: list[Any],
    ready: threading.Event,
) -> None:
    with http.stream("GET", url) as response:
        assert response.status_code == 200
        ready.set()
        name = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name == event:
                found.append(json.loads(line[5:].strip()))
                if enough(found):
                    return


def test_the_results_move_when_someone_takes_part(live_server: LiveServer, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    campaign = live_server.live_campaign(brand)
    with httpx.Client(base_url=live_server.url, timeout=20) as api:
        poll = api.post(f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner)
        poll_id = poll.json()["id"]
        experiment_id = started(api, brand, campaign["id"], poll_id)
        options = api.get(f"/api/v1/polls/{poll_id}/results", headers=owner).json()["options"]
    console = _console(live_server, brand.emails[Role.ANALYST])
    found: list[dict[str, Any]] = []
    ready = threading.Event()
    url = f"/console/w/acme/campaigns/{campaign['id']}/experiments/{experiment_id}/stream"

    # The page view may push a snapshot of its own before the vote's: read until the vote shows.
    def converted(seen: list[Any]) -> bool:
        return len(seen) >= 2 and sum(v["conversions"] for v in seen[-1]["variants"]) > 0

    listener = threading.Thread(
        target=_listen, args=(console, url, "results", converted, found, ready), daemon=True
    )
    listener.start()
    assert ready.wait(10)

    with httpx.Client(base_url=live_server.url, timeout=20) as phone:
        assert phone.get(f"/c/{campaign['slug']}/poll/{poll_id}").status_code == 200
        vote = phone.post(
            f"/api/v1/public/campaigns/{campaign['slug']}/polls/{poll_id}/votes",
            json={"options": [options[0]["id"]], "consent": True},
        )
        assert vote.status_code == 201, vote.text

    listener.join(timeout=15)
    console.close()
    assert len(found) >= 2, found
    assert sum(v["exposures"] for v in found[0]["variants"]) == 0  # the state on connect
    assert sum(v["exposures"] for v in found[-1]["variants"]) == 1  # pushed after the vote
    assert sum(v["conversions"] for v in found[-1]["variants"]) == 1
    assert len(found[-1]["chart"]["densities"]) == 2

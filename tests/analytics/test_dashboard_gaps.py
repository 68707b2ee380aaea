"""What the dashboard audit found missing: early dates and foreign activities refused with a
message, empty downloads that keep their header, KPI cards with their targets, the share tree."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from datetime import timedelta
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.workspaces.schemas import Role
from tests.analytics.conftest import add_events
from tests.analytics.test_dashboard import embedded
from tests.analytics.test_metrics import START, make_campaign, story
from tests.conftest import PASSWORD, Brand, LiveServer
from tests.test_auth import login
from tests.test_polls import POLL

RANGE = "Times must lie between 2000 and 2100."


def console_client(server: LiveServer, email: str) -> httpx.Client:
    """A console user's session against the live server (for server-sent event streams)."""
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


def listen(
    http: httpx.Client,
    url: str,
    event: str,
    want: int,
    *,
    found: list[Any],
    ready: threading.Event,
) -> None:
    """Collect the stream's `event` messages until there are `want` of them."""
    with http.stream("GET", url) as response:
        assert response.status_code == 200
        ready.set()
        name = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name == event:
                found.append(json.loads(line[5:].strip()))
                if len(found) >= want:
                    return


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00", "0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"],
)
def test_a_date_far_outside_the_range_is_refused_with_the_range_message(
    client: TestClient, brand: Brand, since: str
) -> None:
    campaign_id = make_campaign(client, brand)
    field = "until" if since.startswith("9999") else "since"

    answer = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "reach", field: since},
        headers=brand.auth(Role.ANALYST),
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == {"code": "invalid", "message": RANGE, "field": field}
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/analytics"
    page = client.get(base, params={field: since[:16]})
    assert page.status_code == 422
    assert "时间必须在 2000 年到 2100 年之间" in page.text
    data = client.get(base + "/data", params={field: since})
    assert data.status_code == 422
    assert "2000" in data.json()["error"]["message"]
    download = client.get(base + "/export/reach.csv", params={field: since})
    assert download.status_code == 422


def test_an_activity_filter_outside_the_campaign_names_the_activity(
    client: TestClient, brand: Brand
) -> None:
    campaign_id = make_campaign(client, brand)
    other_id = make_campaign(client, brand, slug="other-one", name="另一场")
    poll = client.post(
        f"/api/v1/campaigns/{other_id}/polls", json=POLL, headers=brand.auth(Role.OWNER)
    )
    assert poll.status_code == 201, poll.text
    foreign = poll.json()["id"]
    viewer = brand.auth(Role.ANALYST)

    for activity in (999999, foreign):
        answer = client.get(
            f"/api/v1/campaigns/{campaign_id}/metrics",
            params={"metrics": "reach", "activity": activity},
            headers=viewer,
        )
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["field"] == "activity"
        assert str(activity) in error["message"]
    # The activity's own campaign accepts it.
    own = client.get(
        f"/api/v1/campaigns/{other_id}/overview", params={"activity": foreign}, headers=viewer
    )
    assert own.status_code == 200

    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/analytics"
    page = client.get(base, params={"activity": foreign})
    assert page.status_code == 422
    assert f"互动 {foreign} 不属于本活动" in page.text
    data = client.get(base + "/data", params={"activity": 999999})
    assert data.status_code == 422
    assert "999999" in data.json()["error"]["message"]


def test_an_empty_chart_download_still_has_its_header(client: TestClient, brand: Brand) -> None:
    campaign_id = make_campaign(client, brand)
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/analytics/export"

    for metric, header in (
        ("timeseries", ["day", "reach", "participants", "interactions", "shares"]),
        ("cascade", ["trees", "largest_tree", "depth", "max_breadth"]),
        ("ugc_quality", ["component", "name", "weight", "average", "part", "points"]),
    ):
        text = client.get(f"{base}/{metric}.csv").content.decode("utf-8-sig")
        lines = text.splitlines()
        assert len(lines) == 1, text  # the header and no rows
        assert lines[0].split(",")[: len(header)] == header
        table = pq.read_table(io.BytesIO(client.get(f"{base}/{metric}.parquet").content))
        assert table.num_rows == 0
        assert table.column_names[: len(header)] == header
        sheet = load_workbook(io.BytesIO(client.get(f"{base}/{metric}.xlsx").content)).active
        assert sheet is not None
        assert [c.value for c in sheet[1]][: len(header)] == header


def test_a_download_has_the_registry_columns_empty_or_not(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """The header of a table metric's file is the one the registry lists (`/api/v1/metrics`),
    so a file from a quiet week lines up with one from a busy week."""
    empty_id = make_campaign(client, brand, slug="quiet-one")
    busy_id = make_campaign(client, brand)
    story(db, brand, busy_id)
    clock.advance(timedelta(days=10))
    registry = {
        m["key"]: m["columns"]
        for m in client.get("/api/v1/metrics", headers=brand.auth(Role.ANALYST)).json()
        if m["unit"] == "table" or m["columns"]
    }
    assert login(client, brand.emails[Role.ANALYST]) == 303

    for metric in ("timeseries", "aisas_funnel", "retention_cohorts", "kpi_progress", "cascade"):
        for campaign_id in (empty_id, busy_id):
            url = f"/console/w/acme/campaigns/{campaign_id}/analytics/export/{metric}.csv"
            text = client.get(url).content.decode("utf-8-sig")
            assert next(csv.reader(io.StringIO(text))) == registry[metric], (metric, campaign_id)


def card(html: str, metric: str) -> dict[str, str]:
    """What a KPI card says: its value, target, progress and verdict (tags stripped)."""
    found = re.search(
        rf'<div class="card kpi-card" data-metric="{metric}">(.*?)</progress>\s*'
        r'<div class="track[^"]*" data-track>([^<]*)</div>',
        html,
        re.S,
    )
    assert found, f"no card for {metric}"
    body = found.group(1)

    def text(attr: str) -> str:
        match = re.search(rf"<[^>]*\b{attr}\b[^>]*>([^<]*)<", body)
        assert match, attr
        return match.group(1).strip()

    return {
        "value": text("data-value"),
        "target": text("data-target"),
        "progress": text("data-progress"),
        "track": found.group(2).strip(),
        "shown": "true" if re.search(r"data-goal\s*>", body) else "false",
    }


def test_kpi_cards_show_their_target_and_progress(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(
        client,
        brand,
        kpi_targets=[
            {"metric": "participants", "target_value": 10},
            {"metric": "interaction_rate", "target_value": 150},
            {"metric": "shares", "target_value": 4},
        ],
    )
    story(db, brand, campaign_id)
    clock.advance(timedelta(days=10))
    assert login(client, brand.emails[Role.ANALYST]) == 303

    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/analytics").text

    # 3 of 10 participants with three weeks to go; 6 interactions over 3 viewers is 200%.
    participants = card(page, "participants")
    assert participants | {"track": ""} == {
        "value": "3",
        "target": "10",
        "progress": "30.0%",
        "track": "",
        "shown": "true",
    }
    assert participants["track"] in ("有望达成", "落后")
    assert card(page, "interaction_rate") == {
        "value": "200.0%",
        "target": "150.0%",
        "progress": "133.3%",
        "track": "有望达成",
        "shown": "true",
    }
    # A target on a metric without a card of its own adds its card: 1 share of 4.
    assert card(page, "shares")["value"] == "1"
    assert card(page, "shares")["progress"] == "25.0%"
    # A metric without a target shows no target line.
    assert card(page, "revenue")["shown"] == "false"
    assert "目标值" in page


def brought(db: Database, brand: Brand, campaign_id: int, pairs: list[tuple[str, str]]) -> None:
    """Each (sharer, newcomer): the newcomer clicks the sharer's link and joins, in order,
    a minute apart, on the first day."""
    rows = []
    for n, (sharer, newcomer) in enumerate(pairs, start=1):
        at = START + timedelta(hours=2, minutes=2 * n)
        rows += [
            (K.SHARE_CLICKED, newcomer, at, {"channel": "wechat", "referrer": sharer}),
            (
                K.PARTICIPANT_JOINED,
                newcomer,
                at + timedelta(seconds=30),
                {"channel": "wechat", "properties": {"referrer": sharer}},
            ),
        ]
    add_events(db, rows, workspace_id=brand.workspace_id, campaign_id=campaign_id)  # type: ignore[arg-type]


def test_the_overview_draws_the_largest_share_cascades(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)  # p1 brings p4
    brought(db, brand, campaign_id, [("p4", "p5"), ("p4", "p6"), ("p2", "p7")])
    clock.advance(timedelta(days=10))
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/analytics"

    page = client.get(base)

    assert page.status_code == 200
    assert "分享树" in page.text
    assert '<script src="/static/share-tree.js"' in page.text
    assert client.get("/static/share-tree.js").status_code == 200
    assert 'id="chart-share_tree"' in page.text
    assert re.search(r'id="share-tree-empty" hidden>', page.text)
    assert re.search(r'data-cascade="largest_tree">4<', page.text)  # p1 → p4 → p5, p6
    tree = embedded(page.text)["metrics"]["share_tree"]
    assert tree["value"] == 4
    assert [
        (r["tree"], r["participant"], r["parent"], r["depth"], r["people_brought"])
        for r in tree["rows"]
    ] == [
        (1, "p1", None, 0, 3),
        (1, "p4", "p1", 1, 2),
        (1, "p5", "p4", 2, 0),
        (1, "p6", "p4", 2, 0),
        (2, "p2", None, 0, 1),
        (2, "p7", "p2", 1, 0),
    ]
    # The page's data, the API and the download carry the same tree.
    api = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "share_tree"},
        headers=brand.auth(Role.ANALYST),
    ).json()["metrics"]["share_tree"]
    assert api["rows"] == tree["rows"]
    assert client.get(base + "/data").json()["metrics"]["share_tree"]["rows"] == tree["rows"]
    download = client.get(base + "/export/share_tree.csv")
    assert f'href="{base}/export/share_tree.csv"' in page.text
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [(r["participant"], r["parent"]) for r in rows] == [
        ("p1", ""),
        ("p4", "p1"),
        ("p5", "p4"),
        ("p6", "p4"),
        ("p2", ""),
        ("p7", "p2"),
    ]
    assert f'href="{base}/export/cascade.xlsx"' in page.text


def test_without_shares_the_share_tree_says_so(client: TestClient, brand: Brand) -> None:
    campaign_id = make_campaign(client, brand)
    assert login(client, brand.emails[Role.ANALYST]) == 303

    page = client.get(f"/console/w/acme/campaigns/{campaign_id}/analytics")

    assert page.status_code == 200
    assert re.search(r'id="share-tree-empty">还没有人通过分享链接加入。<', page.text)
    assert embedded(page.text)["metrics"]["share_tree"] == {
        "key": "share_tree",
        "name": "分享树",
        "unit": "table",
        "value": 0,
        "rows": [],
    }


def test_the_live_minute_chart_downloads_its_minutes(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    add_events(
        db,
        [(K.VOTE_CAST, "p1", clock.now()), (K.VOTE_CAST, "p2", clock.now())],
        workspace_id=brand.workspace_id,
        campaign_id=campaign_id,
    )
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/analytics"

    page = client.get(base + "/live").text

    for fmt in ("csv", "xlsx", "parquet"):
        assert f'href="{base}/export/per_minute.{fmt}"' in page
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(base + "/export/per_minute.csv").content.decode("utf-8-sig"))
        )
    )
    assert len(rows) == 60  # the last hour, quiet minutes included
    assert sum(int(r["interactions"]) for r in rows) == 2
    shown = client.get(base + "/live/data").json()
    assert [r["minute"] for r in rows] == [r["minute"] for r in shown["rows"]]


def test_the_comparison_moves_when_a_compared_campaign_has_new_events(
    client: TestClient, live_server: LiveServer, brand: Brand, db: Database, clock: ManualClock
) -> None:
    first = make_campaign(client, brand)
    second = make_campaign(client, brand, slug="second-one", name="第二场")
    add_events(
        db, [(K.VOTE_CAST, "q1", clock.now())], workspace_id=brand.workspace_id, campaign_id=second
    )
    console = console_client(live_server, brand.emails[Role.ANALYST])
    query = f"campaign={first}&campaign={second}&metric=participants"
    page = console.get(f"/console/w/acme/analytics/compare?{query}")
    assert '"/console/w/acme/analytics/compare/stream?"' in page.text
    found: list[dict[str, Any]] = []
    ready = threading.Event()
    listener = threading.Thread(
        target=listen,
        args=(console, f"/console/w/acme/analytics/compare/stream?{query}", "comparison", 2),
        kwargs={"found": found, "ready": ready},
        daemon=True,
    )
    listener.start()
    assert ready.wait(10)

    add_events(
        db, [(K.VOTE_CAST, "q2", clock.now())], workspace_id=brand.workspace_id, campaign_id=second
    )

    listener.join(timeout=15)
    console.close()
    assert [m["values"] for m in found[0]["metrics"]] == [[0, 1]]  # the state on connect
    assert [m["values"] for m in found[-1]["metrics"]] == [[0, 2]]  # pushed after the vote

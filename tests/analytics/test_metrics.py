"""The metric registry on a small campaign whose every number can be worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from im2.analytics.lake import move_events_to_lake
from im2.analytics.metrics import METRICS
from im2.campaigns.schemas import KpiMetric
from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.workspaces.schemas import Role
from tests.analytics.conftest import add_events
from tests.conftest import START, Brand, campaign_payload
from tests.test_polls import POLL

DAY = timedelta(days=1)


def make_campaign(client: TestClient, brand: Brand, **overrides: object) -> int:
    payload = campaign_payload(
        starts_at="2026-03-02T09:00:00",
        ends_at="2026-03-31T22:00:00",
        kpi_targets=[
            {"metric": "participants", "target_value": 10},
            {"metric": "interaction_rate", "target_value": 150},
        ],
        channels=[
            {"channel": "weibo", "media": "paid", "budget": 8000},
            {"channel": "wechat", "media": "owned"},
        ],
    )
    payload.update(overrides)
    response = client.post("/api/v1/campaigns", json=payload, headers=brand.auth(Role.OWNER))
    assert response.status_code == 201, response.text
    campaign_id: int = response.json()["id"]
    return campaign_id


def story(db: Database, brand: Brand, campaign_id: int) -> None:
    """Day 1 (Monday 2 March, Shanghai): p1-p3 see the campaign on Weibo, p4 arrives through
    p1's share on WeChat; p1, p2, p4 vote, p1 shares and buys for 100. p1 comes back on day 2,
    p2 on day 8."""
    t = START
    common = {"workspace_id": brand.workspace_id, "campaign_id": campaign_id}
    add_events(
        db,
        [
            (K.CAMPAIGN_VIEWED, "p1", t, {"channel": "weibo"}),
            (K.CAMPAIGN_VIEWED, "p2", t, {"channel": "weibo"}),
            (K.CAMPAIGN_VIEWED, "p3", t, {"channel": "weibo"}),
            (K.VOTE_CAST, "p1", t + timedelta(minutes=1), {"channel": "weibo"}),
            (K.VOTE_CAST, "p2", t + timedelta(minutes=2), {"channel": "weibo"}),
            (K.SHARE_CREATED, "p1", t + timedelta(minutes=3), {"channel": "wechat"}),
            (
                K.SHARE_CLICKED,
                "p4",
                t + timedelta(minutes=9),
                {"channel": "wechat", "referrer": "p1"},
            ),
            (
                K.PARTICIPANT_JOINED,
                "p4",
                t + timedelta(minutes=10),
                {"channel": "wechat", "properties": {"referrer": "p1"}},
            ),
            (K.VOTE_CAST, "p4", t + timedelta(minutes=11), {"channel": "wechat"}),
            (K.CONVERSION_RECORDED, "p1", t + timedelta(hours=1), {"properties": {"amount": 100}}),
            (K.CAMPAIGN_VIEWED, "p1", t + DAY, {"channel": "weibo"}),
            (K.VOTE_CAST, "p1", t + DAY, {"channel": "weibo"}),
            (K.VOTE_CAST, "p2", t + 7 * DAY, {"channel": "weibo"}),
        ],
        **common,  # type: ignore[arg-type]
    )


def overview(
    client: TestClient, brand: Brand, campaign_id: int, **params: str
) -> dict[str, dict[str, Any]]:
    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/overview", params=params, headers=brand.auth(Role.VIEWER)
    )
    assert response.status_code == 200, response.text
    metrics: dict[str, dict[str, Any]] = response.json()["metrics"]
    return metrics


def values(metrics: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    return {k: v["value"] for k, v in metrics.items()}


EXPECTED = {
    "participants": 3,
    "reach": 4,
    "interactions": 6,
    "interaction_rate": 200,
    "conversions": 1,
    "conversion_rate": 25,
    "revenue": 100,
    "roi": pytest.approx(-98.75),
    "k_factor": pytest.approx(1 / 3),
    "retention_d7": pytest.approx(100 / 3),
    "new_vs_returning": pytest.approx(200 / 3),
}


def test_every_number_of_a_hand_worked_campaign(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)

    metrics = overview(client, brand, campaign_id)

    assert {k: values(metrics)[k] for k in EXPECTED} == EXPECTED
    funnel = {r["stage"]: r["people"] for r in metrics["aisas_funnel"]["rows"]}
    assert funnel == {"attention": 4, "interest": 3, "search": 2, "action": 2, "share": 1}
    coverage = {r["channel"]: r["reach"] for r in metrics["coverage_by_channel"]["rows"]}
    assert coverage == {"weibo": 3, "wechat": 1}
    media = {r["media"]: (r["reach"], r["budget"]) for r in metrics["media_breakdown"]["rows"]}
    assert media == {"paid": (3, 8000), "owned": (0, 0), "earned": (1, 0)}
    cohort = metrics["retention_cohorts"]["rows"][0]
    assert cohort["cohort"] == "2026-03-02"
    assert cohort["size"] == 3
    assert cohort["d1"] == pytest.approx(100 / 3)
    assert cohort["d30"] is None  # day 30 has not come yet
    series = metrics["timeseries"]["rows"]
    assert [r["day"] for r in series][:2] == ["2026-03-02", "2026-03-03"]
    assert len(series) == 8  # quiet days in between are zeros, not gaps
    assert series[0]["revenue"] == 100
    heat = {(r["weekday"], r["hour"]): r["events"] for r in metrics["hour_of_week"]["rows"]}
    assert len(heat) == 168
    # Monday 10:00 in Shanghai: day 1's 3 views, 3 votes, share, click, join; p2's vote a week on.
    assert heat[(1, 10)] == 10
    assert metrics["cascade"]["rows"][0]["depth"] == 1


def test_kpi_progress_and_forecast(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)

    rows = overview(client, brand, campaign_id)["kpi_progress"]["rows"]

    participants, rate = rows
    assert participants["metric"] == "participants"
    assert participants["value"] == 3
    assert participants["progress"] == pytest.approx(30)
    # 3 people joined on day 1 and none since: the trend of the last two weeks is flat-ish and
    # the forecast lies between what is reached and the target.
    assert 3 <= participants["forecast"] < 10
    assert participants["on_track"] is False
    assert rate["value"] == 200
    assert rate["forecast"] == 200  # rates are assumed to hold
    assert rate["on_track"] is True


def test_numbers_are_the_same_from_the_database_tail_the_lake_or_both(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    from_db = overview(client, brand, campaign_id)

    move_events_to_lake(db, lake_path=lake_path, now=clock.now(), batch_size=7, max_batches=1)
    half = overview(client, brand, campaign_id)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now())
    from_lake = overview(client, brand, campaign_id)

    assert values(from_db) == values(half) == values(from_lake)
    assert from_lake["aisas_funnel"] == from_db["aisas_funnel"]


def test_the_last_second_counts(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, lake_path: Path
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    move_events_to_lake(db, lake_path=lake_path, now=clock.now())

    add_events(db, [(K.VOTE_CAST, "p9", clock.now())], campaign_id=campaign_id)

    assert values(overview(client, brand, campaign_id))["participants"] == 4


def test_filters_by_time_channel_and_activity(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    poll = client.post(
        f"/api/v1/campaigns/{campaign_id}/polls", json=POLL, headers=brand.auth(Role.OWNER)
    )
    assert poll.status_code == 201, poll.text
    poll_id = poll.json()["id"]
    story(db, brand, campaign_id)
    add_events(db, [(K.VOTE_CAST, "p7", START, {"activity_id": poll_id})], campaign_id=campaign_id)
    clock.advance(10 * DAY)

    day_two = values(
        overview(
            client, brand, campaign_id, since="2026-03-03T00:00:00", until="2026-03-04T00:00:00"
        )
    )
    wechat = values(overview(client, brand, campaign_id, channel="wechat"))
    activity = values(overview(client, brand, campaign_id, activity=str(poll_id)))

    assert (day_two["participants"], day_two["interactions"]) == (1, 1)
    assert day_two["new_vs_returning"] == 100  # p1 had already taken part on day 1
    assert (wechat["reach"], wechat["participants"]) == (1, 2)
    assert wechat["roi"] is None  # no budget on WeChat
    assert (activity["participants"], activity["interactions"]) == (1, 1)


def test_an_empty_campaign_shows_zeros_and_empty_rates_never_nan(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)

    metrics = overview(client, brand, campaign_id)

    got = values(metrics)
    assert (got["participants"], got["reach"], got["revenue"]) == (0, 0, 0)
    assert (got["interaction_rate"], got["conversion_rate"], got["k_factor"]) == (None, None, None)
    assert got["retention_d7"] is None
    # No revenue was recorded (an engagement campaign records none): ROI does not apply, and
    # −100 % would read as a failure the campaign never aimed at (issue 18).
    assert got["roi"] is None
    assert metrics["timeseries"]["rows"] == []
    assert metrics["cascade"]["rows"] == []
    assert metrics["aisas_funnel"]["rows"][0]["of_attention"] is None


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"metrics": "participants,happiness"}, "metrics", "happiness"),
        ({"metrics": ""}, "metrics", "at least one"),
        ({"metrics": "reach", "since": "2026-03-05", "until": "2026-03-01"}, "until", "after"),
        ({"metrics": "reach", "since": "1970-01-01T00:00:00"}, "since", "2000"),
        (
            {"metrics": "reach", "since": "2000-01-02T00:00:00", "until": "2099-01-01T00:00:00"},
            "until",
            "ten years",
        ),
        ({"metrics": "reach", "channel": "myspace"}, "channel", "myspace"),
    ],
)
def test_bad_input_is_a_4xx_with_a_message(
    client: TestClient, brand: Brand, params: dict[str, str], field: str, words: str
) -> None:
    campaign_id = make_campaign(client, brand)

    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics", params=params, headers=brand.auth(Role.ANALYST)
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]


def test_metrics_endpoint_answers_only_what_was_asked(
    client: TestClient, brand: Brand, db: Database
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)

    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": ["reach,participants", "reach"]},
        headers=brand.auth(Role.VIEWER),
    )

    body = response.json()
    assert list(body["metrics"]) == ["reach", "participants"]
    assert body["metrics"]["reach"] == {
        "key": "reach",
        "name": "Reach",
        "unit": "count",
        "value": 4.0,
        "rows": None,
    }


def test_other_workspaces_campaigns_and_missing_tokens_are_refused(
    client: TestClient, brand: Brand
) -> None:
    campaign_id = make_campaign(client, brand)

    assert client.get(f"/api/v1/campaigns/{campaign_id}/overview").status_code == 401
    assert (
        client.get("/api/v1/campaigns/999999/overview", headers=brand.auth(Role.VIEWER)).status_code
        == 404
    )


def test_the_registry_lists_every_metric_and_defines_every_kpi(
    client: TestClient, brand: Brand
) -> None:
    response = client.get(
        "/api/v1/metrics", headers={**brand.auth(Role.VIEWER), "Accept-Language": "zh-CN"}
    )

    listed = {m["key"]: m for m in response.json()}
    assert set(listed) == set(METRICS)
    assert {k.value for k in KpiMetric} <= set(listed)
    assert listed["participants"]["name"] == "参与人数"
    assert "share.created" in listed["aisas_funnel"]["kinds"]


@pytest.mark.parametrize("in_lake", [False, True])
def test_days_and_hours_follow_the_campaigns_zone_across_a_daylight_saving_change(
    client: TestClient,
    brand: Brand,
    db: Database,
    clock: ManualClock,
    lake_path: Path,
    in_lake: bool,
) -> None:
    # Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on Sunday 29 March 2026. Both votes are
    # at 00:30 local time, so each belongs to the day after its UTC date.
    campaign_id = make_campaign(client, brand, timezone="Europe/Berlin")
    before = datetime(2026, 3, 27, 23, 30, tzinfo=UTC)  # Sat 28 March 00:30 CET
    after = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # Mon 30 March 00:30 CEST
    add_events(
        db,
        [(K.VOTE_CAST, "p1", before), (K.VOTE_CAST, "p2", after)],
        workspace_id=brand.workspace_id,
        campaign_id=campaign_id,
    )
    clock.advance(40 * DAY)
    if in_lake:
        move_events_to_lake(db, lake_path=lake_path, now=clock.now())

    metrics = overview(client, brand, campaign_id)

    series = {r["day"]: r["participants"] for r in metrics["timeseries"]["rows"]}
    assert series == {"2026-03-28": 1, "2026-03-29": 0, "2026-03-30": 1}
    busy = {(r["weekday"], r["hour"]) for r in metrics["hour_of_week"]["rows"] if r["events"]}
    assert busy == {(6, 0), (1, 0)}  # Saturday and Monday, the hour after midnight

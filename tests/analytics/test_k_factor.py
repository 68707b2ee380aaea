"""The K-factor against ground truth: a simulated Galton–Watson share process, written as
events through the event writer into the test database, must read back (API and registry)
as its mean offspring, within a tolerance derived from the sample size.

The process: organic joiners (roots) arrive at random over a few days; every participant
brings Poisson(m) friends, each joining 1 hour to 2.5 days after them (inside the 3-day
invitation window, so the cohort estimator's expectation is m itself). Friends whose join would
fall after the end of observation have not joined yet, as in a running campaign. The offspring
of different people are independent Poisson(m) counts, so the estimate's standard error is
sqrt(m / n) over the n people who had the whole window; the test allows 3 of them (a fixed seed
makes it deterministic; a random seed would fail 0.3 % of runs).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import EventKind as K
from im2.sharing.cascade import build_forest, estimate_k
from im2.workspaces.schemas import Role
from tests.analytics.conftest import add_events
from tests.analytics.test_metrics import make_campaign, story
from tests.conftest import START, Brand
from tests.test_auth import login

DAY = 86_400.0
WINDOW = 3 * DAY  # the registry's documented invitation window


@dataclass(frozen=True)
class Cascade:
    parent: np.ndarray  # -1 for organic joiners
    time: np.ndarray  # seconds after START, whole seconds
    end: float  # end of observation, seconds after START

    def truth(self) -> tuple[int, int]:
        """People who had the whole window, and the friends they brought (all of whose
        delays lie inside the window by construction)."""
        eligible = self.time <= self.end - WINDOW
        brought = int(np.count_nonzero((self.parent >= 0) & eligible[np.maximum(self.parent, 0)]))
        return int(np.count_nonzero(eligible)), brought


def simulate(
    m: float, *, roots: int, roots_over_days: float, end_days: float, seed: int
) -> Cascade:
    rng = np.random.default_rng(seed)
    end = end_days * DAY
    parents: list[int] = [-1] * roots
    times: list[float] = list(np.sort(rng.uniform(0, roots_over_days * DAY, roots)))
    frontier = list(range(roots))
    while frontier:
        born: list[int] = []
        for node in frontier:
            for _ in range(int(rng.poisson(m))):
                at = times[node] + rng.uniform(3600, 2.5 * DAY)
                if at <= end:  # later friends have not joined yet when we look
                    parents.append(node)
                    times.append(at)
                    born.append(len(parents) - 1)
        frontier = born
    return Cascade(np.array(parents), np.floor(np.array(times)), end)


def write(db: Database, brand: Brand, campaign_id: int, cascade: Cascade) -> None:
    """One participant.joined per person, carrying the participant who brought them."""
    rows: list[Any] = []
    for i, (parent, t) in enumerate(
        zip(cascade.parent.tolist(), cascade.time.tolist(), strict=True)
    ):
        extra = {"referrer": f"g{parent}"} if parent >= 0 else {}
        rows.append((K.PARTICIPANT_JOINED, f"g{i}", START + timedelta(seconds=t), extra))
    add_events(db, rows, workspace_id=brand.workspace_id, campaign_id=campaign_id, channel="wechat")


def read_k(client: TestClient, brand: Brand, campaign_id: int) -> dict[str, Any]:
    response = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "k_factor"},
        headers=brand.auth(Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["metrics"]["k_factor"]
    return found


CASES = {
    # Growing: ~2,200 participants, ~1,100 of them with the whole window by day 11.
    "viral 1.2": (1.2, {"roots": 150, "roots_over_days": 5, "end_days": 11, "seed": 12}),
    # Dying out: ~1,700 participants from 800 organic joiners over 16 days.
    "fading 0.6": (0.6, {"roots": 800, "roots_over_days": 16, "end_days": 16, "seed": 6}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_galton_watson_share_process_reads_back_as_its_mean_offspring(
    case: str, client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    m, shape = CASES[case]
    cascade = simulate(m, **shape)
    campaign_id = make_campaign(client, brand, objective="fission")
    write(db, brand, campaign_id, cascade)
    clock.advance(timedelta(seconds=cascade.end) - (clock.now() - START))

    got = read_k(client, brand, campaign_id)

    row = got["rows"][0]
    eligible, brought = cascade.truth()
    assert (row["eligible_participants"], row["brought_in_window"]) == (eligible, brought)
    tolerance = 3 * math.sqrt(m / eligible)
    assert got["value"] == pytest.approx(m, abs=tolerance)
    assert row["ci_low"] <= m <= row["ci_high"]
    # The interval's half-width is 1.96 standard errors, and a Poisson's variance is its mean.
    half = (row["ci_high"] - row["ci_low"]) / 2
    assert half == pytest.approx(1.96 * math.sqrt(m / eligible), rel=0.15)
    # The old ratio (everyone brought / everyone) cannot tell a growing campaign from another.
    assert row["invited_participants"] / row["participants"] < 1


def test_a_viral_campaign_reads_above_one_and_can_meet_the_template_target(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    m, shape = CASES["viral 1.2"]
    cascade = simulate(m, **shape)
    campaign_id = make_campaign(
        client,
        brand,
        objective="fission",
        kpi_targets=[{"metric": "k_factor", "target_value": 1.2}],
    )
    write(db, brand, campaign_id, cascade)
    clock.advance(timedelta(seconds=cascade.end) - (clock.now() - START))

    got = read_k(client, brand, campaign_id)

    # The whole interval lies above 1: the campaign visibly grows by itself, and the
    # invite-friends template's target of 1.2 is inside what such a campaign reads.
    assert got["rows"][0]["ci_low"] > 1
    assert got["rows"][0]["ci_low"] <= 1.2 <= got["rows"][0]["ci_high"]


def test_after_the_campaign_ends_its_last_days_are_not_counted_as_failures(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """People who joined in the campaign's last 3 days could not finish inviting: looked at a
    month later they are still left out, and K stays the process's mean offspring."""
    m, shape = CASES["fading 0.6"]
    cascade = simulate(m, **shape)
    ends = (START + timedelta(seconds=cascade.end)).astimezone(UTC)
    local_end = (ends + timedelta(hours=8)).replace(tzinfo=None)  # Asia/Shanghai wall clock
    campaign_id = make_campaign(client, brand, ends_at=local_end.isoformat(timespec="seconds"))
    write(db, brand, campaign_id, cascade)
    clock.advance(timedelta(days=30) + timedelta(seconds=cascade.end) - (clock.now() - START))

    got = read_k(client, brand, campaign_id)

    row = got["rows"][0]
    eligible, _brought = cascade.truth()
    assert row["eligible_participants"] == eligible
    assert datetime.fromisoformat(row["measured_until"]) == ends
    assert got["value"] == pytest.approx(m, abs=3 * math.sqrt(m / eligible))


def test_the_pure_core_agrees_with_the_database_path() -> None:
    """The same cascade straight into the cascade core (what `im2 cascade` and the registry
    share), at a size where the interval is tight."""
    cascade = simulate(1.2, roots=400, roots_over_days=5, end_days=12, seed=3)
    forest = build_forest(cascade.parent, time=cascade.time)

    k = estimate_k(forest, end=cascade.end, window=WINDOW)

    eligible, brought = cascade.truth()
    assert (k.eligible, k.brought) == (eligible, brought)
    assert k.k_factor == pytest.approx(1.2, abs=3 * math.sqrt(1.2 / eligible))
    assert k.ci_low <= 1.2 <= k.ci_high
    # Every friend of the process joined inside the window; looking without an end of
    # observation (the cascade taken as finished) counts the newest joiners as failures.
    assert estimate_k(forest).k_factor < 1


def test_the_dashboard_report_and_download_show_the_interval_and_the_cohort(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """The hand-worked story: p1 brought p4, p2 nobody, p4 nobody; ten days on, all three had
    the window. Offspring 1, 0, 0: K 1/3, sample sd sqrt(1/3), half-width 1.96·sd/sqrt(3)."""
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(timedelta(days=10))
    half = 1.96 * math.sqrt(1 / 3) / math.sqrt(3)
    low, high = max(0.0, 1 / 3 - half), 1 / 3 + half
    interval = f"95% 置信区间 {low:.2f} – {high:.2f}"
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}"

    dashboard = client.get(f"{base}/analytics").text
    report = client.get(f"{base}/report").text
    download = client.get(f"{base}/analytics/export/k_factor.csv")

    card = re.search(
        r'data-metric="k_factor"[^>]*title="([^"]+)"(.*?)</div>\s*<div class="kpi-goal',
        dashboard,
        re.S,
    )
    assert card is not None
    assert "有机会邀请" in card.group(1)  # the registry's definition, in Chinese
    assert interval in card.group(2)
    assert "按加入满 3 天的 3 位参与者计算" in card.group(2)
    assert interval in report
    assert f"K 因子 0.33（95% 置信区间 {low:.2f}–{high:.2f}）" in report
    assert download.status_code == 200
    table = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert table[0]["eligible_participants"] == "3"
    assert float(table[0]["ci_high"]) == pytest.approx(high, abs=1e-3)

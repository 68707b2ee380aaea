"""The report says what the activities came to (the poll's winner, its top options) and its
conclusion names the poll's result; the funnel's conclusion never calls a stage a person can
skip (搜索) the biggest drop. Checked on the console page a marketer reads, in Chinese."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.reports.numbers import fmt_forecast
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.reports.test_reports import sent_campaign
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url


def _vote(client: TestClient, slug: str, poll: int, option: int) -> None:
    phone = TestClient(client.app)  # each vote from its own phone
    made = phone.post(vote_url(slug, poll), json={"options": [option], "consent": True})
    assert made.status_code == 201, made.text


def _section(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</section>", start)]


def test_the_report_names_the_polls_winner_and_skips_skippable_stages(
    client: TestClient, brand: Brand
) -> None:
    slug, poll, options = live_campaign(client, brand)  # 樱花拿铁, 抹茶冷萃, 桂花乌龙
    for option in (options[1], options[1], options[1], options[0]):
        _vote(client, slug, poll, option)
    campaign_id = sent_campaign(client, brand, poll)
    assert login(client, brand.emails[Role.VIEWER]) == 303

    html = client.get(f"/console/w/acme/campaigns/{campaign_id}/report").text

    results = _section(html, 'id="activity-results"')
    assert "你最想喝哪款春季新品？" in results
    assert "「抹茶冷萃」胜出：3 票，占 75.0%（共 4 人投票）。" in results
    items = re.findall(r"<li>([^<]*)</li>", results)
    assert items == ["抹茶冷萃：3 票（75.0%）", "樱花拿铁：1 票（25.0%）", "桂花乌龙：0 票（0.0%）"]
    conclusions = _section(html, 'id="conclusions"')
    assert "你最想喝哪款春季新品？：「抹茶冷萃」胜出" in conclusions
    # Four voters came straight to the poll: no one "searched", and that is not a drop; no one
    # shared either, which is said as such rather than as "only 0.0 % went on".
    assert "搜索" not in conclusions
    assert "0.0% 的人进入下一阶段" not in conclusions
    assert re.search(r"还没有人到达：[^<]*分享", conclusions)


def test_a_poll_without_votes_says_so_and_a_tie_names_both(
    client: TestClient, brand: Brand
) -> None:
    slug, poll, options = live_campaign(client, brand)
    campaign_id = sent_campaign(client, brand, poll)
    assert login(client, brand.emails[Role.VIEWER]) == 303
    report = f"/console/w/acme/campaigns/{campaign_id}/report"
    assert "还没有人投票。" in _section(client.get(report).text, 'id="activity-results"')

    _vote(client, slug, poll, options[0])
    _vote(client, slug, poll, options[2])
    tied = _section(client.get(report).text, 'id="activity-results"')
    assert "樱花拿铁、桂花乌龙 并列第一，各得 1 票（共 2 人投票）。" in tied


def test_forecasts_are_whole_people_and_money_keeps_its_cents() -> None:
    assert fmt_forecast(1210.25, "count") == "1,210"
    assert fmt_forecast(1210.5, "count") == "1,210"  # banker's rounding of a half: still whole
    assert fmt_forecast(12.345, "percent") == "12.3%"
    assert fmt_forecast(99.5, "CNY") == "¥99.50"
    assert fmt_forecast(None, "count") == "—"

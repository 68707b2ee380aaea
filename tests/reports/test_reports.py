"""Campaign effect reports: the console page, the PDF and HTML downloads, the API and the
command line, checked against the analytics API's numbers for a hand-worked campaign."""

from __future__ import annotations

import base64
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from im2.cli import app as cli
from im2.clock import ManualClock
from im2.config import Settings, get_settings
from im2.db import Database
from im2.events.service import list_events
from im2.listening.schemas import MentionIn
from im2.listening.service import do_ingest_batch
from im2.workspaces.schemas import Role
from im2.workspaces.service import system_actor
from tests.activities.test_ugc import SLUG, approve, entries_url, make_contest, photo, submit
from tests.analytics.test_metrics import DAY, make_campaign, overview, story
from tests.conftest import Brand, LiveServer
from tests.experiments.test_experiments import experiment_body
from tests.listening.conftest import lexicon_scorer
from tests.test_auth import login
from tests.test_polls import live_campaign, page_form, vote_url
from tests.test_sharing import _get_link

runner = CliRunner()


def attributes(html: str, selector_attr: str) -> dict[str, dict[str, str]]:
    """data-* attributes of the elements carrying `selector_attr`, keyed by its value."""
    found: dict[str, dict[str, str]] = {}
    for tag in re.findall(rf"<(?:td|tr)\b[^>]*\b{selector_attr}=\"[^\"]*\"[^>]*>", html):
        attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag))
        found[attrs[selector_attr.removeprefix("data-")]] = attrs
    return found


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def pdf_text(content: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_the_report_shows_the_numbers_of_the_analytics_api(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    api = overview(client, brand, campaign_id)
    counts = client.get(
        f"/api/v1/campaigns/{campaign_id}/metrics",
        params={"metrics": "ugc_count,shares"},
        headers=brand.auth(Role.VIEWER),
    ).json()["metrics"]
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/report"

    page = client.get(base)

    assert page.status_code == 200
    html = page.text
    for heading in ("活动效果报告", "1. 目标", "2. 执行", "3. 数据", "4. 结论", "KPI 完成情况"):
        assert heading in html
    assert f'href="{base}.pdf?locale=zh_CN"' in html
    assert f'href="{base}.html?locale=zh_CN"' in html
    assert "下载 PDF" in html

    figures = attributes(html, "data-metric")
    for key in ("participants", "reach", "interactions", "interaction_rate", "conversions"):
        assert number(figures[key]["value"]) == api[key]["value"], key
    for key in ("revenue", "roi", "k_factor", "retention_d7", "conversion_rate"):
        assert number(figures[key]["value"]) == pytest.approx(api[key]["value"]), key
    assert number(figures["ugc_count"]["value"]) == counts["ugc_count"]["value"]
    assert number(figures["shares"]["value"]) == counts["shares"]["value"]
    kpis = {r["metric"]: r for r in api["kpi_progress"]["rows"]}
    assert set(kpis) == {"participants", "interaction_rate"}
    for key, row in kpis.items():
        assert number(figures[key]["value"]) == pytest.approx(row["value"])
        assert number(figures[key]["target"]) == row["target"]
        assert number(figures[key]["progress"]) == pytest.approx(row["progress"])
    stages = attributes(html, "data-stage")
    assert {k: number(v["people"]) for k, v in stages.items()} == {
        r["stage"]: r["people"] for r in api["aisas_funnel"]["rows"]
    }
    channels = attributes(html, "data-channel")
    assert {k: number(v["reach"]) for k, v in channels.items()} == {
        r["channel"]: r["reach"] for r in api["coverage_by_channel"]["rows"]
    }
    # The hand-worked story: 3 of 10 participants with three weeks to go and a flat trend is
    # behind; an interaction rate of 200 % beats the 150 % target; Weibo reached the most.
    assert "参与人数：目前 3（目标 10 的 30.0%），进度落后" in html
    assert "互动率（%）：已达成目标 150.0%，实际 200.0%" in html
    assert "触达最多的渠道：微博，3 人（占总触达的 75.0%）" in html
    assert "漏斗中流失最大的一步" in html
    # The form's random CSRF token may spell "NaN" (it did in CI); only the page's text counts.
    text = re.sub(r'<input type="hidden"[^>]*>', "", html)
    assert "NaN" not in text
    assert "nan%" not in text


def test_the_pdf_holds_the_kpi_table_in_the_bundled_font(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    api = overview(client, brand, campaign_id)
    assert login(client, brand.emails[Role.VIEWER]) == 303

    response = client.get(f"/console/w/acme/campaigns/{campaign_id}/report.pdf")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    assert response.headers["content-disposition"].endswith("spring-vote-report-20260312.pdf")
    reader, text = pdf_text(response.content)
    pages = len(reader.pages)
    assert pages >= 2
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.5)  # A4
    assert reader.pages[0].mediabox.height == pytest.approx(841.89, abs=0.5)
    assert "KPI 完成情况" in text
    kpis = {r["metric"]: r for r in api["kpi_progress"]["rows"]}
    table = text[text.index("KPI 完成情况") :]
    assert re.search(rf"参与人数\s+10\s+3\s+{kpis['participants']['progress']:.1f}%", table), table[
        :400
    ]
    assert f"{kpis['interaction_rate']['progress']:.1f}%" in table
    for n in range(1, pages + 1):  # running header and page numbers on every page
        assert f"{n} / {pages}" in reader.pages[n - 1].extract_text()
        assert "活动效果报告" in reader.pages[n - 1].extract_text()
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts
    assert all("IM2-Noto-Sans-SC" in name for name in fonts), fonts  # the @font-face, no other

    with db.session() as session:
        events = list_events(session, kinds=["report.generated"])
    assert [(e.campaign_id, e.properties["format"], e.actor_type) for e in events] == [
        (campaign_id, "pdf", "user")
    ]


def test_html_download_in_english_has_path_only_charts(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    assert login(client, brand.emails[Role.VIEWER]) == 303

    response = client.get(
        f"/console/w/acme/campaigns/{campaign_id}/report.html", params={"locale": "en"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.startswith("<!doctype html>")
    assert '<html lang="en">' in html
    for heading in ("Campaign effect report", "1. Objectives", "4. Conclusions"):
        assert heading in html
    assert "/static/" not in html  # standalone: opens from disk
    charts = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(charts) >= 4  # KPI, daily series, funnel, channels
    for chart in charts:
        svg = base64.b64decode(chart).decode("utf-8")
        assert svg.startswith("<svg")
        assert "<text" not in svg  # glyphs are paths: no font needed to read it
        assert "<path" in svg
    assert client.get(f"/console/w/acme/campaigns/{campaign_id}/report.docx").status_code == 422
    assert (
        client.get(
            f"/console/w/acme/campaigns/{campaign_id}/report", params={"locale": "fr"}
        ).status_code
        == 422
    )


def test_an_empty_campaign_gives_empty_states_not_errors(
    client: TestClient, brand: Brand, clock: ManualClock
) -> None:
    campaign_id = make_campaign(client, brand, kpi_targets=[], channels=[])
    assert login(client, brand.emails[Role.VIEWER]) == 303
    base = f"/console/w/acme/campaigns/{campaign_id}/report"

    page = client.get(base)
    pdf = client.get(base + ".pdf")

    assert page.status_code == 200
    for empty in ("未设置 KPI 目标", "本活动还没有互动内容", "未规划投放渠道", "暂无数据"):
        assert empty in page.text
    assert "活动尚未触达任何人" in page.text
    assert "data:image/svg" not in page.text  # no empty charts
    for bad in ("NaN", "nan%", "None", "inf"):  # as a number, not inside words (influence)
        assert not re.search(rf"(?<![A-Za-z]){re.escape(bad)}(?![A-Za-z])", page.text), bad
    assert pdf.status_code == 200
    _reader, text = pdf_text(pdf.content)
    assert "活动尚未触达任何人" in text
    assert "NaN" not in text


def test_the_api_returns_the_report_and_refuses_bad_requests(
    client: TestClient, brand: Brand, db: Database
) -> None:
    campaign_id = make_campaign(client, brand)
    viewer = brand.auth(Role.VIEWER)

    html = client.get(
        f"/api/v1/campaigns/{campaign_id}/report", params={"format": "html"}, headers=viewer
    )
    bad = client.get(
        f"/api/v1/campaigns/{campaign_id}/report", params={"format": "xml"}, headers=viewer
    )
    missing = client.get("/api/v1/campaigns/999999/report", headers=viewer)

    assert html.status_code == 200
    assert "活动效果报告" in html.text
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "format"
    assert "xml" in bad.json()["error"]["message"]
    assert missing.status_code == 404
    with db.session() as session:
        events = list_events(session, kinds=["report.generated"])
    assert [(e.properties["format"], e.actor_type) for e in events] == [("html", "token")]


@pytest.fixture
def cli_env(
    db: Database, database_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    monkeypatch.setenv("IM2_LAKE_PATH", str(settings.lake_path))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def test_the_command_line_writes_a_report_and_explains_mistakes(
    client: TestClient, brand: Brand, db: Database, cli_env: Database, tmp_path: Path
) -> None:
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    target = tmp_path / "report.pdf"

    made = runner.invoke(cli, ["report", "spring-vote", "--format", "pdf", "--output", str(target)])
    unknown = runner.invoke(cli, ["report", "no-such-campaign", "--format", "pdf"])
    bad_format = runner.invoke(cli, ["report", "spring-vote", "--format", "docx"])
    bad_locale = runner.invoke(cli, ["report", "spring-vote", "--locale", "fr"])
    nowhere = runner.invoke(
        cli, ["report", "spring-vote", "-f", "html", "-o", str(tmp_path / "no" / "such.html")]
    )
    into_folder = runner.invoke(cli, ["report", "spring-vote", "-f", "html", "-o", str(tmp_path)])

    assert made.exit_code == 0, made.output
    _reader, text = pdf_text(target.read_bytes())
    assert "KPI 完成情况" in text  # Chinese by default
    assert unknown.exit_code == 1
    assert "no-such-campaign" in unknown.output
    assert bad_format.exit_code == 1
    assert "docx" in bad_format.output
    assert bad_locale.exit_code == 1
    assert "fr" in bad_locale.output
    assert nowhere.exit_code == 1
    assert "cannot write" in nowhere.output
    assert into_folder.exit_code == 0, into_folder.output
    written = list(tmp_path.glob("spring-vote-report-*.html"))
    assert len(written) == 1
    assert "活动效果报告" in written[0].read_text(encoding="utf-8")
    with db.session() as session:
        events = list_events(session, kinds=["report.generated"])
    # One event per file written; none for the file that could not be written.
    assert [(e.properties["format"], e.actor_type) for e in events] == [
        ("pdf", "system"),
        ("html", "system"),
    ]


def test_the_report_lists_top_entries_top_sharers_and_the_sentiment_timeline(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    _campaign_id, contest = make_contest(client, brand)
    alice, bob, carol = (TestClient(client.app) for _ in range(3))
    sent = submit(alice, contest, image=photo(), caption="樱花树下的拿铁", nickname="阿May")
    assert sent.status_code == 201, sent.text
    form = page_form(alice, f"/c/{SLUG}/me")
    alice.post(f"/c/{SLUG}/me/nickname", data={**form, "nickname": "阿May"})
    code = _get_link(alice, SLUG)
    bob.get(f"/s/{code}?ch=wechat", follow_redirects=False)  # bob comes through alice's link
    second = submit(bob, contest, image=photo(), caption="山顶的手冲", nickname="小白")
    assert second.status_code == 201, second.text
    for receipt in (sent, second):
        approve(client, brand, contest, receipt.json()["entry"]["id"])
    vote = f"{entries_url(contest)}/{sent.json()['entry']['id']}/votes"
    assert carol.post(vote, json={"consent": True}).status_code == 201
    with db.transaction() as session:
        do_ingest_batch(
            session,
            actor=system_actor(session, workspace_slug="acme"),
            mentions=[
                MentionIn(
                    platform="weibo",
                    post_id=str(i),
                    text=text,
                    posted_at=clock.now() - timedelta(hours=i + 1),
                )
                for i, text in enumerate(("好喜欢这个活动", "咖啡不错", "排队太久，差评"))
            ],
            now=clock.now(),
            scorer=lexicon_scorer,
        )
    campaign_id = sent_campaign(client, brand, contest)
    assert login(client, brand.emails[Role.VIEWER]) == 303

    html = client.get(f"/console/w/acme/campaigns/{campaign_id}/report").text

    ugc = html[html.index('id="ugc-table"') : html.index("</table>", html.index('id="ugc-table"'))]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", ugc)
    # contest, rank, author, caption, votes, jury average, score (no juror: votes alone)
    # A viewer (no people:read) gets the authors' and sharers' nicknames masked.
    assert cells[:7] == ["晒出你的春日咖啡", "1", "阿**y", "樱花树下的拿铁", "1", "—", "40.0"]
    assert cells[7:14] == ["晒出你的春日咖啡", "2", "小*", "山顶的手冲", "0", "—", "0.0"]
    sharers = html[html.index('id="sharer-table"') :]
    assert re.search(r"<td>阿\*\*y</td><td class=\"num\">1</td>", sharers)
    assert "舆情情感趋势" in html
    assert "活动期间品牌相关提及：3 条" in html


def sent_campaign(client: TestClient, brand: Brand, activity_id: int) -> int:
    """The campaign an activity belongs to."""
    response = client.get(f"/api/v1/activities/{activity_id}", headers=brand.auth(Role.OWNER))
    campaign_id: int = response.json()["campaign_id"]
    return campaign_id


def test_the_report_shows_the_experiments_results(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    campaign_id = sent_campaign(client, brand, activity_id)
    created = client.post(
        f"/api/v1/campaigns/{campaign_id}/experiments",
        json=experiment_body(activity_id),
        headers=brand.auth(Role.OWNER),
    )
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    for i in range(6):
        phone = TestClient(client.app)
        assert phone.get(f"/c/{slug}/poll/{activity_id}").status_code == 200
        if i % 2 == 0:
            phone.post(vote_url(slug, activity_id), json={"options": [options[0]], "consent": True})
    results = client.get(
        f"/api/v1/experiments/{experiment_id}/results",
        headers={**brand.auth(Role.ANALYST), "Accept-Language": "zh-CN"},  # as the report speaks
    ).json()
    assert login(client, brand.emails[Role.VIEWER]) == 303

    html = client.get(f"/console/w/acme/campaigns/{campaign_id}/report").text

    assert "实验结果" in html
    assert "海报文案 A/B" in html
    shown = attributes(html, "data-variant")
    assert {k: (int(v["exposures"]), int(v["conversions"])) for k, v in shown.items()} == {
        v["key"]: (v["exposures"], v["conversions"]) for v in results["variants"]
    }
    assert sum(int(v["exposures"]) for v in shown.values()) == 6
    assert results["verdict"] in html  # the experiments domain's verdict, also a conclusion
    assert f"实验「海报文案 A/B」：{results['verdict']}" in html


def test_reports_made_at_the_same_time_do_not_disturb_each_other(
    live_server: LiveServer, client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """matplotlib's settings are process-wide: concurrent requests must still each get the
    same, complete charts (drawing is serialised), and every file its own event."""
    campaign_id = make_campaign(client, brand)
    story(db, brand, campaign_id)
    clock.advance(10 * DAY)
    url = f"{live_server.url}/api/v1/campaigns/{campaign_id}/report"
    headers = brand.auth(Role.ANALYST)

    def fetch(locale: str) -> httpx.Response:
        return httpx.get(
            url, params={"format": "html", "locale": locale}, headers=headers, timeout=120
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(fetch, ["zh_CN", "en", "zh_CN", "en"]))

    assert [r.status_code for r in responses] == [200] * 4
    charts = [re.findall(r'src="(data:image/svg\+xml;base64,[^"]+)"', r.text) for r in responses]
    assert len(charts[0]) >= 4
    assert charts[0] == charts[2]  # the same data and language give the same SVG
    assert charts[1] == charts[3]
    assert charts[0] != charts[1]  # the legends are in each report's own language
    with db.session() as session:
        events = list_events(session, kinds=["report.generated"])
    assert sorted(e.properties["locale"] for e in events) == ["en", "en", "zh_CN", "zh_CN"]

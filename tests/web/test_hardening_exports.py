"""What a visitor types never runs as a formula in the brand's spreadsheet (OWASP CSV injection:
issue 16 found a live HYPERLINK in the channel coverage export)."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from im2.spreadsheet import safe_cell
from im2.web.downloads import csv_download
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_auth import login
from tests.test_polls import live_campaign, vote_url

FORMULA = '=HYPERLINK("http://x.y","a")'


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        (FORMULA, "'" + FORMULA),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("weibo", "weibo"),
        ("a=b", "a=b"),
        ("", ""),
        (-3, -3),
        (-0.5, -0.5),
        ("-0.50", "-0.50"),
        ("+86", "+86"),
        (None, None),
    ],
)
def test_formula_text_is_escaped_and_numbers_stay_numbers(cell: object, shown: object) -> None:
    assert safe_cell(cell) == shown


def test_the_console_csv_download_escapes_formulas() -> None:
    response = csv_download(
        [{"name": FORMULA, "votes": -2}], columns=["name", "votes"], filename="x.csv"
    )
    [row] = csv.DictReader(io.StringIO(bytes(response.body).decode("utf-8-sig")))
    assert row == {"name": "'" + FORMULA, "votes": "-2"}


def test_a_channel_typed_by_a_visitor_is_text_in_the_csv_and_excel_exports(
    client: TestClient, brand: Brand
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    visitor = client.get(f"/c/{slug}/poll/{poll_id}", params={"ch": FORMULA})
    assert visitor.status_code == 200
    voted = client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201, voted.text

    campaign = client.get(f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.OWNER)).json()
    assert login(client, brand.emails[Role.ANALYST]) == 303
    base = f"/console/w/{brand.slug}/campaigns/{campaign['campaign_id']}/analytics/export"

    download = client.get(f"{base}/coverage_by_channel.csv")
    assert download.status_code == 200, download.text[:300]
    cells = [
        c for row in csv.reader(io.StringIO(download.content.decode("utf-8-sig"))) for c in row
    ]
    assert "'" + FORMULA in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)

    sheet = load_workbook(io.BytesIO(client.get(f"{base}/coverage_by_channel.xlsx").content)).active
    assert sheet is not None
    values = [cell for row in sheet.iter_rows() for cell in row]
    assert "'" + FORMULA in [c.value for c in values]
    assert all(c.data_type != "f" for c in values)  # no formula cell at all

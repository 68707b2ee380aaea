"""The segment builder in the console: a form of conditions whose count follows the edits,
saving as versions, errors shown on the row, and the members' CSV."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.test_segments import Population, people  # noqa: F401 (the fixture)
from tests.test_auth import login
from tests.test_console import form_token

BASE = "/console/w/acme/people/segments"


def _count(html: str) -> int | None:
    found = re.search(r'id="seg-count-value">([\d,]+)<', html)
    return int(found.group(1).replace(",", "")) if found else None


def test_build_count_save_and_version_a_segment_in_the_console(
    client: TestClient,
    brand: Brand,
    people: Population,  # noqa: F811 (the fixture)
) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(BASE + "/new")
    assert page.status_code == 200, page.text[:300]
    assert "人群" in page.text or "新建人群" in page.text
    token = form_token(client, BASE + "/new", BASE + "/new")
    form = {"csrf_token": token, "rows": "1", "match": "all", "name": ""}
    # The first row: stage, ticking 传播者 and 拥护者 (A and G).
    chosen = {**form, "c0_field": "stage", "c0_op": "in"}
    posted = client.post(
        BASE + "/new",
        data={**chosen, "c0_values": ["spreader", "advocate"]},
        headers={"HX-Request": "true"},
    )
    assert posted.status_code == 200
    assert _count(posted.text) == 2
    # Add a row (tag), type VIP: only A.
    added = client.post(
        BASE + "/new",
        data={
            **chosen,
            "c0_values": ["spreader", "advocate"],
            "action": "add",
            "new_field": "tag",
        },
    )
    assert 'name="c1_field"' in added.text
    two = {
        **chosen,
        "rows": "2",
        "c0_values": ["spreader", "advocate"],
        "c1_field": "tag",
        "c1_op": "has",
        "c1_text": "vip",
    }
    assert _count(client.post(BASE + "/new", data=two).text) == 1
    # A bad row is shown on the row, with no count, and nothing is saved.
    bad = client.post(
        BASE + "/new",
        data={**two, "c1_field": "score", "c1_op": "gte", "c1_value": "high", "action": "save",
              "name": "x"},
    )  # fmt: skip
    assert bad.status_code == 422
    assert 'id="row-1" aria-invalid="true"' in bad.text
    assert _count(bad.text) is None
    saved = client.post(
        BASE + "/new", data={**two, "name": "VIP 传播者", "action": "save"}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text[:500]
    url = saved.headers["location"].split("?")[0]
    shown = client.get(url)
    assert _count(shown.text) == 1
    assert 'value="vip"' in shown.text
    # Edit: any of the two conditions (A, G) → version 2, version 1 still listed.
    token = form_token(client, url, url)
    again = client.post(
        url,
        data={**two, "csrf_token": token, "match": "any", "name": "VIP 传播者", "action": "save"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert again.headers["location"].endswith("?saved=2")
    page2 = client.get(url)
    assert _count(page2.text) == 2
    assert page2.text.count("<li>") >= 2
    listing = client.get(BASE)
    assert "VIP 传播者" in listing.text
    export = client.get(url + "/members.csv")
    assert export.status_code == 200
    assert sorted(int(line.split(",")[0]) for line in export.text.splitlines()[1:]) == people.of(
        "A", "G"
    )


def test_analysts_do_not_reach_the_builder(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.ANALYST]) == 303
    assert client.get(BASE).status_code == 403

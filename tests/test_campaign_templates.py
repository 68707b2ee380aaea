"""Campaign templates are whole campaigns: a marketer picks one, submits the pre-filled form
unchanged, and gets the campaign AND its activities with their content (the charity vote's poll
with its causes, the launch feedback's survey with its skip rule ...), ready to go live."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand, take_live
from tests.test_auth import login


class _Form(HTMLParser):
    """The fields a browser would post from the page's campaign form, as pre-filled."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("action", "").endswith("/campaigns"):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value") or "on"
            elif a.get("type") != "submit":
                self.fields[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
        elif (
            tag == "option"
            and self._select
            and ("selected" in a or self._select not in self.fields)
        ):
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def _create_from_template(client: TestClient, brand: Brand, key: str, slug: str) -> int:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get(
        f"/console/w/acme/campaigns/new?template={key}", headers={"Accept-Language": "zh-CN"}
    )
    assert page.status_code == 200
    form = _Form()
    form.feed(page.text)
    fields = {**form.fields, "slug": slug}
    made = client.post(
        "/console/w/acme/campaigns",
        data=fields,
        headers={"Accept-Language": "zh-CN"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    return int(made.headers["location"].rsplit("/", 1)[1])


def _activities(client: TestClient, brand: Brand, campaign_id: int) -> list[dict]:
    listed = client.get(
        f"/api/v1/campaigns/{campaign_id}/activities", headers=brand.auth(Role.OWNER)
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    return body["items"] if isinstance(body, dict) else body


def test_charity_vote_creates_its_poll_with_the_causes(client: TestClient, brand: Brand) -> None:
    campaign_id = _create_from_template(client, brand, "charity_vote", "charity-test")
    activities = _activities(client, brand, campaign_id)
    assert [a["kind"] for a in activities] == ["poll"]
    take_live(client, brand, campaign_id)
    poll = activities[0]
    page = client.get(f"/c/charity-test/poll/{poll['id']}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    for cause in ("乡村学校图书角", "流浪动物救助站", "城市公园植树", "独居老人关爱热线"):
        assert cause in page.text


def test_launch_feedback_creates_a_survey_with_a_skip_rule_and_a_qa(
    client: TestClient, brand: Brand
) -> None:
    campaign_id = _create_from_template(client, brand, "launch_feedback", "launch-test")
    activities = _activities(client, brand, campaign_id)
    assert sorted(a["kind"] for a in activities) == ["qa", "survey"]
    survey = next(a for a in activities if a["kind"] == "survey")
    summary = client.get(
        f"/api/v1/surveys/{survey['id']}/summary", headers=brand.auth(Role.OWNER)
    ).json()
    assert [q["kind"] for q in summary["questions"]] == ["single", "rating", "nps", "text"]
    assert summary["questions"][0]["text"] == "你已经试过新品了吗？"
    take_live(client, brand, campaign_id)
    phone = TestClient(client.app)
    first = phone.get(f"/c/launch-test/survey/{survey['id']}")
    assert "你已经试过新品了吗？" in first.text


@pytest.mark.parametrize(
    ("key", "kinds"),
    [("photo_challenge", ["ugc"]), ("invite_coupon", ["referral"])],
)
def test_every_other_template_creates_its_activity(
    client: TestClient, brand: Brand, key: str, kinds: list[str]
) -> None:
    campaign_id = _create_from_template(client, brand, key, f"{key.replace('_', '-')}-test")
    activities = _activities(client, brand, campaign_id)
    assert [a["kind"] for a in activities] == kinds
    assert all(a["title"] for a in activities)
    take_live(client, brand, campaign_id)


def test_a_blank_campaign_has_no_activities(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    page = client.get("/console/w/acme/campaigns/new?template=")
    form = _Form()
    form.feed(page.text)
    fields = {
        **form.fields,
        "name": "空白活动",
        "slug": "blank-test",
        "objective": "engagement",
        "starts_at": "2026-04-01T10:00",
        "ends_at": "2026-04-10T10:00",
    }
    made = client.post("/console/w/acme/campaigns", data=fields, follow_redirects=False)
    assert made.status_code == 303, made.text
    assert _activities(client, brand, int(made.headers["location"].rsplit("/", 1)[1])) == []

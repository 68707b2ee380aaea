"""The console as a marketer uses it: forms, inline errors, filters, roles, language."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand, campaign_payload
from tests.test_auth import csrf, login

FORM = {
    "name": "双十一预热互动",
    "slug": "double-11-warmup",
    "objective": "engagement",
    "description": "预热投票",
    "audience": "全体会员",
    "timezone": "Asia/Shanghai",
    "starts_at": "2026-03-05T10:00",
    "ends_at": "2026-03-15T22:00",
    "kpi_metric_0": "participants",
    "kpi_value_0": "3000",
    "ch_weibo": "on",
    "media_weibo": "paid",
    "budget_weibo": "5000",
    "ch_wechat": "on",
    "media_wechat": "owned",
}


def _form_page(action: str) -> str:
    """The console page that holds the form posting to `action`."""
    if action.endswith("/campaigns"):
        return action + "/new?template="
    if action.endswith(("/transition", "/duplicate")):
        return action.rsplit("/", 1)[0]
    return action


def form_token(client: TestClient, page: str, action: str) -> str:
    html = client.get(page).text
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        if f'action="{action}"' in form:
            match = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert match, f"the form posting to {action} carries no CSRF token"
            return match.group(1)
    raise AssertionError(f"no form posting to {action} on {page}")


def _post_form(client: TestClient, url: str, data: dict[str, str], *, has_form: bool = True):
    """Submit like a browser: with the CSRF token of the form on the page that posts to `url`.
    With has_form=False (the user's page offers no such form) the logout form's token is used."""
    if has_form:
        token = form_token(client, _form_page(url), url)
    else:
        token = csrf(client, "/console/w/acme/campaigns")
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def test_create_campaign_with_inline_errors_then_success(client: TestClient, brand: Brand) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    bad = _post_form(
        client, "/console/w/acme/campaigns", {**FORM, "ends_at": "2026-03-01T10:00", "name": ""}
    )
    assert bad.status_code == 422
    assert 'id="name-error"' in bad.text
    assert "此项为必填" in bad.text
    # The form keeps what the user typed.
    assert 'value="double-11-warmup"' in bad.text
    assert client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()["items"] == []

    date_error = _post_form(
        client, "/console/w/acme/campaigns", {**FORM, "ends_at": "2026-03-01T10:00"}
    )
    assert date_error.status_code == 422
    assert 'id="ends_at-error"' in date_error.text
    assert "结束时间必须晚于开始时间" in date_error.text

    ok = _post_form(client, "/console/w/acme/campaigns", FORM)
    assert ok.status_code == 303
    detail = client.get(ok.headers["location"])
    assert "双十一预热互动" in detail.text
    assert "微博" in detail.text
    assert "5,000 CNY" in detail.text
    created = client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()["items"][0]
    assert [c["channel"] for c in created["channels"]] == ["wechat", "weibo"]
    assert created["kpi_targets"][0]["target_value"] == 3000


def test_bad_kpi_and_channel_rows_point_at_their_row(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.OWNER])
    bad = _post_form(
        client, "/console/w/acme/campaigns", {**FORM, "kpi_value_0": "lots", "budget_weibo": "-1"}
    )
    assert bad.status_code == 422
    assert 'id="kpi_0-error"' in bad.text
    assert 'id="channel_weibo-error"' in bad.text


def test_duplicate_slug_and_unknown_timezone_on_the_form(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.OWNER])
    assert _post_form(client, "/console/w/acme/campaigns", FORM).status_code == 303
    dup = _post_form(client, "/console/w/acme/campaigns", FORM)
    assert dup.status_code == 409
    assert 'id="slug-error"' in dup.text
    tz = _post_form(
        client, "/console/w/acme/campaigns", {**FORM, "slug": "x2", "timezone": "Asia/Atlantis"}
    )
    assert tz.status_code == 422
    assert 'id="timezone-error"' in tz.text


def test_template_prefills_the_form(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.EDITOR])
    picker = client.get("/console/w/acme/campaigns/new")
    assert "公益投票" in picker.text
    assert "邀请好友得优惠券" in picker.text
    form = client.get("/console/w/acme/campaigns/new?template=charity_vote")
    assert 'value="你来定，我们捐"' in form.text
    assert 'name="ch_weibo" checked' in form.text
    assert client.get("/console/w/acme/campaigns/new?template=nope").status_code == 422


def test_list_filters_and_transitions(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    a = client.post(
        "/api/v1/campaigns",
        json=campaign_payload(slug="a", name="Alpha", objective="ugc"),
        headers=owner,
    ).json()
    client.post(
        "/api/v1/campaigns",
        json=campaign_payload(slug="b", name="Beta 活动", objective="fission"),
        headers=owner,
    )
    login(client, brand.emails[Role.EDITOR])
    page = client.get("/console/w/acme/campaigns?objective=ugc")
    assert "Alpha" in page.text
    assert "Beta 活动" not in page.text  # a CSRF token cannot spell it
    moved = _post_form(
        client, f"/console/w/acme/campaigns/{a['id']}/transition", {"status": "scheduled"}
    )
    assert moved.status_code == 303
    scheduled = client.get("/console/w/acme/campaigns?status=scheduled")
    assert "Alpha" in scheduled.text
    assert "Beta 活动" not in scheduled.text
    wrong = _post_form(
        client, f"/console/w/acme/campaigns/{a['id']}/transition", {"status": "archived"}
    )
    assert wrong.status_code == 409
    assert "不能从" in wrong.text
    assert client.get("/console/w/acme/campaigns?status=bogus").status_code == 422


def test_edit_form_round_trip(client: TestClient, brand: Brand) -> None:
    cid = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.OWNER)
    ).json()["id"]
    login(client, brand.emails[Role.EDITOR])
    form = client.get(f"/console/w/acme/campaigns/{cid}/edit")
    assert 'value="2026-03-10T10:00"' in form.text  # shown in the campaign's own time zone
    saved = _post_form(
        client,
        f"/console/w/acme/campaigns/{cid}/edit",
        {**FORM, "slug": "spring-vote", "name": "改名后"},
    )
    assert saved.status_code == 303
    assert (
        client.get(f"/api/v1/campaigns/{cid}", headers=brand.auth(Role.OWNER)).json()["name"]
        == "改名后"
    )


def test_analyst_reads_everything_and_changes_nothing(client: TestClient, brand: Brand) -> None:
    cid = client.post(
        "/api/v1/campaigns", json=campaign_payload(), headers=brand.auth(Role.OWNER)
    ).json()["id"]
    login(client, brand.emails[Role.ANALYST])
    detail = client.get(f"/console/w/acme/campaigns/{cid}")
    assert detail.status_code == 200
    assert "/edit" not in detail.text
    assert "排期发布" not in detail.text
    assert client.get("/console/w/acme/audit").status_code == 200
    assert client.get("/console/w/acme/members").status_code == 200
    assert client.get(f"/console/w/acme/campaigns/{cid}/edit").status_code == 403
    edit = _post_form(client, f"/console/w/acme/campaigns/{cid}/edit", FORM, has_form=False)
    assert edit.status_code == 403
    assert (
        _post_form(
            client,
            f"/console/w/acme/campaigns/{cid}/transition",
            {"status": "scheduled"},
            has_form=False,
        ).status_code
        == 403
    )
    assert (
        client.get(f"/api/v1/campaigns/{cid}", headers=brand.auth(Role.OWNER)).json()["status"]
        == "draft"
    )


def test_viewer_sees_campaigns_but_not_audit(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.VIEWER])
    assert client.get("/console/w/acme/campaigns").status_code == 200
    assert client.get("/console/w/acme/audit").status_code == 403


def test_tokens_page_shows_a_new_token_once(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.OWNER])
    created = _post_form(
        client,
        "/console/w/acme/tokens",
        {"name": "POS 收银", "role": "editor", "expires_in_days": ""},
    )
    assert created.status_code == 201
    import re

    secret = re.search(r'id="new-token">([^<]+)<', created.text).group(1)
    assert secret.startswith("im2_")
    assert secret not in client.get("/console/w/acme/tokens").text
    assert (
        client.get("/api/v1/campaigns", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )
    bad = _post_form(
        client, "/console/w/acme/tokens", {"name": "x", "role": "editor", "expires_in_days": "-3"}
    )
    assert bad.status_code == 422


def test_members_page_adds_a_member(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.OWNER])
    added = _post_form(
        client,
        "/console/w/acme/members",
        {
            "email": "new@acme.example.com",
            "display_name": "新同事",
            "role": "viewer",
            "password": "a good long pw",
        },
    )
    assert added.status_code == 303
    assert "新同事" in client.get("/console/w/acme/members").text
    no_pw = _post_form(
        client,
        "/console/w/acme/members",
        {"email": "other@acme.example.com", "display_name": "x", "role": "viewer", "password": ""},
    )
    assert no_pw.status_code == 422
    assert 'id="password-error"' in no_pw.text


def test_language_switch(client: TestClient, brand: Brand) -> None:
    login(client, brand.emails[Role.OWNER])
    assert "活动" in client.get("/console/w/acme/campaigns").text
    switched = client.get("/console/lang/en?next=/console/w/acme/campaigns")
    assert "New campaign" in switched.text
    assert "新建活动" not in switched.text
    assert (
        client.get("/console/lang/zh_CN?next=https://evil.example", follow_redirects=False).headers[
            "location"
        ]
        == "/console"
    )


def test_audit_page_lists_before_and_after(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=owner).json()["id"]
    client.patch(f"/api/v1/campaigns/{cid}", json={"name": "新名字"}, headers=owner)
    login(client, brand.emails[Role.ANALYST])
    page = client.get("/console/w/acme/audit?action=campaign.")
    assert "编辑活动：名称：" in page.text  # the change in the reader's words, not its key
    assert "→ 新名字" in page.text
    assert "campaign.update" not in page.text.replace('placeholder="campaign."', "")
    assert "创建 API 令牌" not in page.text


def test_campaign_detail_shows_its_history(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    cid = client.post("/api/v1/campaigns", json=campaign_payload(), headers=owner).json()["id"]
    client.post(f"/api/v1/campaigns/{cid}/transitions", json={"status": "scheduled"}, headers=owner)
    login(client, brand.emails[Role.ANALYST])
    page = client.get(f"/console/w/acme/campaigns/{cid}").text
    assert "变更历史" in page
    assert "状态：草稿 → 已排期" in page
    assert "campaign.status" not in page
    assert "draft → scheduled" not in page
    assert page.index("状态：草稿") < page.index("创建活动：")  # newest first

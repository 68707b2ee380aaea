"""The minors gate from the console: the campaign form's checkbox with its plain explanation
(PIPL Art. 31); turned on, the public join asks the age and a child needs the guardian's step;
turned off again, it does not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from im2.workspaces.schemas import Role
from tests.conftest import Brand, take_live
from tests.people.test_consent import _join
from tests.test_auth import login
from tests.test_console import FORM, _post_form

CAMPAIGN_FORM = {**FORM, "starts_at": "2026-03-01T10:00"}


def test_the_console_toggle_turns_the_guardian_step_on_and_off(
    client: TestClient, brand: Brand
) -> None:
    assert login(client, brand.emails[Role.EDITOR]) == 303
    new = client.get("/console/w/acme/campaigns/new?template=").text
    assert 'name="minors_gate"' in new
    assert "第三十一条" in new
    assert "监护人" in new

    made = _post_form(client, "/console/w/acme/campaigns", {**CAMPAIGN_FORM, "minors_gate": "on"})
    assert made.status_code == 303, made.text[:2000]
    cid = int(made.headers["location"].rstrip("/").rsplit("/", 1)[1])
    owner = brand.auth(Role.OWNER)
    assert client.get(f"/api/v1/campaigns/{cid}", headers=owner).json()["minors_gate"] is True
    detail = client.get(f"/console/w/acme/campaigns/{cid}").text
    assert "须经父母或其他监护人同意" in detail
    edit = client.get(f"/console/w/acme/campaigns/{cid}/edit").text
    assert 'name="minors_gate" checked' in edit

    take_live(client, brand, cid)
    slug = CAMPAIGN_FORM["slug"]
    phone = TestClient(client.app)
    assert "未满 14 周岁" in phone.get(f"/c/{slug}/me").text
    assert _join(phone, slug, consent="yes").status_code == 422  # the age is asked
    child = _join(phone, slug, consent="yes", age="under_14")
    assert child.status_code == 422  # a child needs the guardian's confirmation
    assert "监护人" in child.text
    assert _join(phone, slug, consent="yes", age="under_14", guardian="yes").status_code == 303

    # Turned off from the same form (the box left unticked): the age is not asked any more.
    off = _post_form(client, f"/console/w/acme/campaigns/{cid}/edit", CAMPAIGN_FORM)
    assert off.status_code == 303, off.text[:2000]
    assert client.get(f"/api/v1/campaigns/{cid}", headers=owner).json()["minors_gate"] is False
    other = TestClient(client.app)
    assert "未满 14 周岁" not in other.get(f"/c/{slug}/me").text
    assert _join(other, slug, consent="yes").status_code == 303

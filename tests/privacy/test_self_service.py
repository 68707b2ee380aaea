"""我的数据, the participant's own data page: a one-time code opens it, then a copy to download,
deletion, withdrawal and correction requests; unverified requesters learn nothing, and
repeated requests are rate-limited (issue #20)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from im2.participation.senders import MemorySender
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.helpers import verify
from tests.privacy.test_requests import outbox, settings  # noqa: F401
from tests.test_polls import live_campaign, vote_url

PHONE = "13800138000"


def _token(client: TestClient, slug: str, action: str, query: str = "") -> str:
    page = client.get(f"/c/{slug}/my-data{query}")
    forms = re.findall(r"<form\b.*?</form>", page.text, flags=re.S)
    form = next(f for f in forms if f'action="/c/{slug}/my-data/{action}"' in f)
    found = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert found is not None
    return found.group(1)


def _post(client: TestClient, slug: str, action: str, query: str = "", **data: Any) -> Any:
    token = _token(client, slug, action, query)
    return client.post(
        f"/c/{slug}/my-data/{action}",
        data={**data, "csrf_token": token},
        follow_redirects=False,
    )


def _open(client: TestClient, slug: str, outbox: MemorySender, phone: str = PHONE) -> Any:  # noqa: F811
    sent = _post(client, slug, "code", channel="phone", destination=phone, consent="yes")
    assert sent.status_code == 303, sent.text[:300]
    code = outbox.sent[-1][2]
    return _post(client, slug, "verify", "?sent=phone", channel="phone", code=code)


def test_code_then_download_then_deletion(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,  # noqa: F811
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    # Phone A votes and verifies the number on its "me" page.
    voted = client.post(
        vote_url(slug, activity_id), json={"options": [options[0]], "consent": True}
    )
    assert voted.status_code == 201
    verify(client, slug, outbox, "phone", PHONE)
    # Someone else votes from another phone.
    client.cookies.clear()
    client.post(vote_url(slug, activity_id), json={"options": [options[2]], "consent": True})

    # Later, on a new phone, the person opens 我的数据: nothing is shown before a code.
    client.cookies.clear()
    page = client.get(f"/c/{slug}/my-data")
    assert page.status_code == 200
    assert "下载副本" not in page.text
    # Actions without a proof: 404, nothing done.
    assert client.post(f"/c/{slug}/my-data/export", data={}).status_code in (403, 404)

    # A wrong code opens nothing.
    sent = _post(client, slug, "code", channel="phone", destination=PHONE, consent="yes")
    assert sent.status_code == 303
    wrong = _post(client, slug, "verify", "?sent=phone", channel="phone", code="000000")
    if outbox.sent[-1][2] != "000000":
        assert wrong.status_code == 422
        assert "下载副本" not in wrong.text
    opened = _post(client, slug, "verify", "?sent=phone", channel="phone", code=outbox.sent[-1][2])
    assert opened.status_code == 303, opened.text[:300]
    page = client.get(opened.headers["location"])
    assert "下载副本" in page.text

    # Download: the file holds phone A's vote and none of the other phone's.
    made = _post(client, slug, "export")
    assert made.status_code == 303, made.text[:300]
    page = client.get(f"/c/{slug}/my-data")
    link = re.search(rf'href="(/c/{slug}/my-data/download/\d+)"', page.text)
    assert link is not None, page.text[-2000:]
    zipped = client.get(link.group(1))
    assert zipped.status_code == 200
    data = json.loads(zipfile.ZipFile(io.BytesIO(zipped.content)).read("data.json"))
    assert len(data["tables"]["poll_ballots"]) == 1
    phones = {p["verified_phone"] for p in data["tables"]["participants"]}
    assert phones == {PHONE}

    # Deletion: the box must be ticked; then the brand sees a verified self-service request.
    unticked = _post(client, slug, "delete")
    assert unticked.status_code == 422
    assert 'id="confirm-error"' in unticked.text
    asked = _post(client, slug, "delete", confirm="yes")
    assert asked.status_code == 303
    listed = client.get("/api/v1/privacy/requests", headers=brand.auth(Role.OWNER)).json()
    kinds = {(r["kind"], r["channel"], r["status"]) for r in listed["items"]}
    assert ("deletion", "self_service", "verified") in kinds
    assert ("access", "self_service", "done") in kinds
    # The download was logged as the person's own.
    access = next(r for r in listed["items"] if r["kind"] == "access")
    detail = client.get(
        f"/api/v1/privacy/requests/{access['id']}", headers=brand.auth(Role.OWNER)
    ).json()
    assert [(e["action"], e["actor"]) for e in detail["log"]][-1] == (
        "export_downloaded",
        "participant",
    )


def test_unknown_number_looks_the_same_and_opens_only_this_device(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,  # noqa: F811
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    client.post(vote_url(slug, activity_id), json={"options": [options[0]], "consent": True})
    verify(client, slug, outbox, "phone", PHONE)

    client.cookies.clear()
    known = _post(client, slug, "code", channel="phone", destination=PHONE, consent="yes")
    client.cookies.clear()
    unknown = _post(client, slug, "code", channel="phone", destination="13900139000", consent="yes")
    # Same answer whether or not anyone holds the number.
    assert (known.status_code, known.headers["location"]) == (
        unknown.status_code,
        unknown.headers["location"],
    )
    # A number nobody held opens only this new device's (empty) data.
    code = outbox.sent[-1][2]
    opened = _post(client, slug, "verify", "?sent=phone", channel="phone", code=code)
    assert opened.status_code == 303
    _post(client, slug, "export")
    page = client.get(f"/c/{slug}/my-data")
    link = re.search(rf'href="(/c/{slug}/my-data/download/(\d+))"', page.text)
    assert link is not None
    data = json.loads(
        zipfile.ZipFile(io.BytesIO(client.get(link.group(1)).content)).read("data.json")
    )
    assert "poll_ballots" not in data["tables"]
    # Another person's request id: 404.
    other = int(link.group(2)) - 1
    assert client.get(f"/c/{slug}/my-data/download/{other}").status_code == 404


def test_repeated_code_requests_are_rate_limited(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,  # noqa: F811
) -> None:
    slug, _activity_id, _options = live_campaign(client, brand)
    answers = [
        _post(
            client, slug, "code", channel="email", destination=f"a{i}@example.com", consent="yes"
        ).status_code
        for i in range(12)
    ]
    # Three codes per ten minutes per participant (the participation rule), and at most ten
    # requests an hour from one device here: the rest are refused with 429.
    assert answers[:3] == [303, 303, 303]
    assert set(answers[3:]) == {429}
    assert len(outbox.sent) == 3

"""The console's data-request pages: the list with due dates and overdue marks, recording a
request, a request's page with its log, and answering it (issue #20)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from im2.clock import ManualClock
from im2.participation.senders import MemorySender
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.privacy.test_requests import _two_voters, outbox, settings  # noqa: F401
from tests.test_auth import csrf, login

BASE = "/console/w/acme/privacy"


def test_console_records_lists_and_answers_a_request(
    client: TestClient,
    brand: Brand,
    outbox: MemorySender,  # noqa: F811
    clock: ManualClock,
) -> None:
    first, _second = _two_voters(client, brand, outbox)
    assert login(client, brand.emails[Role.OWNER]) == 303
    empty = client.get(BASE)
    assert empty.status_code == 200
    assert "数据请求" in empty.text

    # A bad person number is refused on the form, naming the field; nothing is recorded.
    token = csrf(client, BASE)
    bad = client.post(BASE, data={"csrf_token": token, "person_id": "abc", "kind": "access"})
    assert bad.status_code == 422
    assert 'id="person_id-error"' in bad.text
    made = client.post(
        BASE,
        data={"csrf_token": token, "person_id": str(first), "kind": "restriction"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    page_url = made.headers["location"]
    request_id = int(page_url.rsplit("/", 1)[1])

    # Overdue after 15 days: marked on the list.
    clock.advance(timedelta(days=15, minutes=1))
    assert login(client, brand.emails[Role.OWNER]) == 303  # the console session has expired
    listed = client.get(BASE)
    row = re.search(rf"<tr id=\"request-{request_id}\">.*?</tr>", listed.text, flags=re.S)
    assert row is not None
    assert "已逾期" in row.group(0)
    assert "1 个待处理的请求已超过截止日期。" in listed.text

    # Restricting before verifying is refused with a message on the page.
    token = csrf(client, page_url)
    early = client.post(f"{page_url}/restrict", data={"csrf_token": token})
    assert early.status_code == 409
    assert "请先核实请求人的身份" in early.text
    for action in ("verify", "restrict"):
        done = client.post(
            f"{page_url}/{action}", data={"csrf_token": token}, follow_redirects=False
        )
        assert done.status_code == 303, done.text
    detail = client.get(page_url)
    assert "已限制处理" in detail.text  # the log names the step
    assert "已逾期" not in detail.text  # done: no longer overdue

    # An analyst sees no data requests; a viewer neither.
    client.cookies.clear()
    assert login(client, brand.emails[Role.ANALYST]) == 303
    assert client.get(BASE).status_code == 403

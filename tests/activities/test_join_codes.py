"""Join codes: the presenter's six digits lead a phone to the activity; a wrong code gets a
participant's page (not a console error), guessing is limited, codes never point at two live
activities, and two presenters opened at once share one code."""

from __future__ import annotations

import re
import threading
from typing import Any

from fastapi.testclient import TestClient

from im2.activities import service as activities
from im2.activities.presenter import service as presenter
from im2.clock import ManualClock
from im2.db import Database
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Role
from tests.conftest import Brand, go_live
from tests.test_auth import login

POLL = {"title": "今年夏天喝什么", "options": [{"label": "冰美式"}, {"label": "椰子拿铁"}]}


def _poll(client: TestClient, brand: Brand, **campaign: Any) -> tuple[dict[str, Any], int]:
    created = go_live(client, brand, **campaign)
    poll = client.post(
        f"/api/v1/campaigns/{created['id']}/polls", json=POLL, headers=brand.auth(Role.OWNER)
    )
    assert poll.status_code == 201, poll.text
    return created, int(poll.json()["id"])


def _code(page: str) -> str:
    match = re.search(r'data-code="(\d+)"', page)
    assert match, page[:300]
    return match.group(1)


def test_the_code_on_the_big_screen_leads_a_phone_to_the_poll(
    client: TestClient, brand: Brand
) -> None:
    campaign, poll = _poll(client, brand)
    assert login(client, brand.emails[Role.VIEWER]) == 303
    screen = client.get(f"/console/w/acme/activities/{poll}/present")
    assert screen.status_code == 200
    code = _code(screen.text)
    assert re.fullmatch(r"[1-9]\d{5}", code)
    # The QR code and the address a person can type both say where to go.
    assert "data:image/svg+xml;base64," in screen.text
    assert "testserver/j" in screen.text
    # Opening the screen again (a second projector) shows the same code.
    assert _code(client.get(f"/console/w/acme/activities/{poll}/present").text) == code

    phone = TestClient(client.app, base_url="http://testserver")
    found = phone.get(f"/j/{code}", follow_redirects=False)
    assert found.status_code == 303
    assert found.headers["location"] == f"/c/{campaign['slug']}/poll/{poll}"
    assert "冰美式" in phone.get(f"/j/{code}").text
    # Typed into the form with a space, as it is shown (123 456).
    typed = phone.get("/j", params={"code": f"{code[:3]} {code[3:]}"}, follow_redirects=False)
    assert typed.headers["location"] == f"/j/{code}"


def test_a_wrong_code_gets_a_friendly_page_and_guessing_is_limited(
    client: TestClient, brand: Brand
) -> None:
    campaign, _poll_id = _poll(client, brand)
    wrong = client.get("/j/000000", headers={"Accept-Language": "zh-CN"})
    assert wrong.status_code == 404
    assert "没有活动使用参与码 000000" in wrong.text
    assert "控制台" not in wrong.text  # a participant's page, not the console's error
    assert 'name="code"' in wrong.text  # and a box to type it again
    assert client.get("/j/abc").status_code == 404

    # A browser that has been to a campaign: 20 misses an hour (two are above).
    client.get(f"/c/{campaign['slug']}")
    statuses = [client.get(f"/j/{100000 + n}").status_code for n in range(21)]
    assert statuses[:18] == [404] * 18
    assert statuses[-1] == 429
    assert "错误次数太多" in client.get("/j/123456").text
    # Another browser on the same network still gets in, until the network's 100 misses.
    other = TestClient(client.app, base_url="http://testserver")
    assert other.get(f"/j/{100000}").status_code == 404
    misses = [other.get(f"/j/{200000 + n}").status_code for n in range(80)]
    assert misses[-1] == 429


def test_only_brand_users_open_the_presenter(client: TestClient, brand: Brand) -> None:
    _campaign, poll = _poll(client, brand)
    # Not signed in: the console's sign-in, never the screen (a quiz's shows the answers).
    anonymous = client.get(f"/console/w/acme/activities/{poll}/present", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)
    assert login(client, brand.emails[Role.VIEWER]) == 303
    assert client.get("/console/w/acme/activities/999999/present").status_code == 404


def test_a_code_is_never_shared_by_two_live_activities(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    first_campaign, first = _poll(client, brand)
    _second_campaign, second = _poll(client, brand, slug="autumn-vote")
    now = clock.now()
    draws = iter(["314159", "314159", "271828"])
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug="acme")
        one = activities.get_activity(session, actor=actor, activity_id=first)
        two = activities.get_activity(session, actor=actor, activity_id=second)
        a = presenter.do_join_code(
            session,
            activity=one,
            workspace_id=brand.workspace_id,
            now=now,
            draw=lambda: next(draws),
        )
        b = presenter.do_join_code(
            session,
            activity=two,
            workspace_id=brand.workspace_id,
            now=now,
            draw=lambda: next(draws),
        )
    assert (a, b) == ("314159", "271828")

    # Once the first campaign is archived, its code may go to a new activity.
    for status in ("ended", "archived"):
        client.post(
            f"/api/v1/campaigns/{first_campaign['id']}/transitions",
            json={"status": status},
            headers=brand.auth(Role.OWNER),
        ).raise_for_status()
    third_campaign, third = _poll(client, brand, slug="winter-vote")
    with db.transaction() as session:
        actor = workspaces.system_actor(session, workspace_slug="acme")
        three = activities.get_activity(session, actor=actor, activity_id=third)
        c = presenter.do_join_code(
            session, activity=three, workspace_id=brand.workspace_id, now=now, draw=lambda: "314159"
        )
    assert c == "314159"
    found = client.get("/j/314159", follow_redirects=False)
    assert found.headers["location"] == f"/c/{third_campaign['slug']}/poll/{third}"


def test_two_presenters_opened_at_once_share_one_code(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    _campaign, poll = _poll(client, brand)
    start = threading.Barrier(4)
    codes: list[str] = []
    errors: list[BaseException] = []

    def open_presenter() -> None:
        try:
            start.wait()
            with db.transaction() as session:
                actor = workspaces.system_actor(session, workspace_slug="acme")
                activity = activities.get_activity(session, actor=actor, activity_id=poll)
                codes.append(
                    presenter.do_join_code(
                        session, activity=activity, workspace_id=brand.workspace_id, now=clock.now()
                    )
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_presenter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(codes) == 4
    assert len(set(codes)) == 1
    with db.session() as session:
        assert presenter.get_join_code(session, activity_id=poll) == codes[0]


def test_an_archived_campaigns_code_leads_nowhere(client: TestClient, brand: Brand) -> None:
    campaign, poll = _poll(client, brand)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    code = _code(client.get(f"/console/w/acme/activities/{poll}/present").text)
    for status in ("ended", "archived"):
        client.post(
            f"/api/v1/campaigns/{campaign['id']}/transitions",
            json={"status": status},
            headers=brand.auth(Role.OWNER),
        ).raise_for_status()
    assert client.get(f"/j/{code}").status_code == 404

"""Deleting an activity: one nobody has taken part in goes (console with a confirm step, and
the API, idempotent, with an audit entry); one with people's data is kept, with a clear reason
and the way to close it instead; a vote racing the delete leaves a whole record or none."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from fastapi.testclient import TestClient

from im2.db import Database
from im2.workspaces.schemas import Role
from tests.conftest import Brand, LiveServer, go_live
from tests.test_auth import login
from tests.test_console import form_token

POLL = {"title": "春季新品投票", "options": [{"label": "樱花拿铁"}, {"label": "抹茶冷萃"}]}


def _draft_with_poll(client: TestClient, brand: Brand) -> tuple[dict[str, Any], int]:
    owner = brand.auth(Role.OWNER)
    campaign = client.post(
        "/api/v1/campaigns",
        json={"name": "春季活动", "slug": "spring-draft", "objective": "engagement"},
        headers=owner,
    )
    assert campaign.status_code == 201, campaign.text
    poll = client.post(f"/api/v1/campaigns/{campaign.json()['id']}/polls", json=POLL, headers=owner)
    assert poll.status_code == 201, poll.text
    return campaign.json(), poll.json()["id"]


def _audit_actions(client: TestClient, brand: Brand) -> list[tuple[str, int | None, str]]:
    rows = client.get("/api/v1/audit", headers=brand.auth(Role.OWNER)).json()
    return [(r["action"], r["target_id"], r["summary"]) for r in rows]


def test_a_draft_poll_nobody_voted_in_is_deleted_after_the_confirm_step(
    client: TestClient, brand: Brand
) -> None:
    campaign, poll_id = _draft_with_poll(client, brand)
    assert login(client, brand.emails[Role.EDITOR]) == 303
    detail = client.get(f"/console/w/acme/poll/{poll_id}")
    assert f'href="/console/w/acme/poll/{poll_id}/delete"' in detail.text

    confirm = client.get(f"/console/w/acme/poll/{poll_id}/delete")
    assert confirm.status_code == 200
    assert "删除这个互动？" in confirm.text
    assert "此操作无法撤销" in confirm.text
    # Nothing is gone until the marketer confirms.
    assert client.get(f"/console/w/acme/poll/{poll_id}").status_code == 200

    url = f"/console/w/acme/poll/{poll_id}/delete"
    token = form_token(client, url, url)
    done = client.post(url, data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/w/acme/campaigns/{campaign['id']}"

    listed = client.get(f"/console/w/acme/campaigns/{campaign['id']}/activities")
    assert "春季新品投票" not in listed.text
    assert client.get(f"/console/w/acme/poll/{poll_id}").status_code == 404
    assert ("activity.delete", poll_id, "春季新品投票") in _audit_actions(client, brand)

    # A double click sends the form twice: the second lands on the campaigns, not on an error.
    again = client.post(url, data={"csrf_token": token}, follow_redirects=False)
    assert again.status_code == 303


def test_the_api_deletes_once_and_a_repeat_changes_nothing(
    client: TestClient, brand: Brand
) -> None:
    campaign, poll_id = _draft_with_poll(client, brand)
    editor = brand.auth(Role.EDITOR)

    refused = client.delete(f"/api/v1/activities/{poll_id}", headers=brand.auth(Role.ANALYST))
    assert refused.status_code == 403
    assert client.get(f"/api/v1/activities/{poll_id}", headers=editor).status_code == 200

    assert client.delete(f"/api/v1/activities/{poll_id}", headers=editor).status_code == 204
    assert client.delete(f"/api/v1/activities/{poll_id}", headers=editor).status_code == 204
    assert client.get(f"/api/v1/activities/{poll_id}", headers=editor).status_code == 404
    listed = client.get(f"/api/v1/campaigns/{campaign['id']}/activities", headers=editor).json()
    assert listed == []
    deletes = [a for a in _audit_actions(client, brand) if a[0] == "activity.delete"]
    assert deletes == [("activity.delete", poll_id, "春季新品投票")]  # one entry, not two

    missing = client.delete("/api/v1/activities/999999", headers=editor)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"]
    assert client.delete("/api/v1/activities/abc", headers=editor).status_code == 422


def test_the_api_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/activities/{activity_id}"]["delete"]
    assert {"204", "404", "409"} <= set(operation["responses"])


def test_a_poll_people_voted_in_is_kept_and_the_marketer_is_told_what_to_do(
    client: TestClient, brand: Brand
) -> None:
    owner = brand.auth(Role.OWNER)
    campaign = go_live(client, brand)
    poll_id = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()["id"]
    options = client.get(f"/api/v1/polls/{poll_id}/results", headers=owner).json()["options"]
    voted = client.post(
        f"/api/v1/public/campaigns/{campaign['slug']}/polls/{poll_id}/votes",
        json={"options": [options[0]["id"]], "consent": True},
    )
    assert voted.status_code == 201, voted.text

    refused = client.delete(
        f"/api/v1/activities/{poll_id}", headers={**owner, "Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    assert "已经有人参与" in message
    assert "结束活动" in message
    assert "归档" in message

    assert login(client, brand.emails[Role.OWNER]) == 303
    page = client.get(f"/console/w/acme/poll/{poll_id}/delete")
    assert page.status_code == 200
    assert "这个互动不能删除" in page.text
    assert "删除互动" not in page.text  # no button that would fail
    assert f'href="/console/w/acme/campaigns/{campaign["id"]}"' in page.text

    results = client.get(f"/api/v1/polls/{poll_id}/results", headers=owner).json()
    assert results["ballots"] == 1  # the vote and its poll are still there for the reports
    export = client.get(f"/console/w/acme/poll/{poll_id}/export.csv")
    assert export.status_code == 200


def test_an_ended_campaigns_activity_is_not_deleted(client: TestClient, brand: Brand) -> None:
    owner = brand.auth(Role.OWNER)
    campaign = go_live(client, brand)
    poll_id = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()["id"]
    client.post(
        f"/api/v1/campaigns/{campaign['id']}/transitions", json={"status": "ended"}, headers=owner
    ).raise_for_status()
    refused = client.delete(f"/api/v1/activities/{poll_id}", headers=owner)
    assert refused.status_code == 409
    assert client.get(f"/api/v1/activities/{poll_id}", headers=owner).status_code == 200


def _counts(db: Database, poll_id: int) -> dict[str, int]:
    from sqlalchemy import text

    with db.session() as session:
        return {
            name: int(session.execute(text(sql), {"id": poll_id}).scalar_one())
            for name, sql in {
                "activity": "SELECT count(*) FROM activities WHERE id = :id",
                "ballots": "SELECT count(*) FROM poll_ballots WHERE activity_id = :id",
                "choices": "SELECT count(*) FROM poll_choices c JOIN poll_ballots b"
                " ON b.id = c.ballot_id WHERE b.activity_id = :id",
                "events": "SELECT count(*) FROM events WHERE activity_id = :id"
                " AND kind = 'vote.cast'",
            }.items()
        }


def test_votes_racing_the_delete_leave_whole_records_or_none(
    live_server: LiveServer, brand: Brand, db: Database
) -> None:
    owner = brand.auth(Role.OWNER)
    base = live_server.url
    campaign = live_server.live_campaign(brand)
    for _round in range(3):
        poll = httpx.post(
            f"{base}/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
        ).json()
        option = httpx.get(f"{base}/api/v1/polls/{poll['id']}/results", headers=owner).json()[
            "options"
        ][0]["id"]
        url = f"{base}/api/v1/public/campaigns/{campaign['slug']}/polls/{poll['id']}/votes"
        start = threading.Barrier(9)

        def vote(_i: int, url: str = url, option: int = option, start: Any = start) -> int:
            with httpx.Client(timeout=30) as phone:
                start.wait()
                return phone.post(url, json={"options": [option], "consent": True}).status_code

        def delete(poll_id: int = poll["id"], start: Any = start) -> int:
            start.wait()
            return httpx.delete(
                f"{base}/api/v1/activities/{poll_id}", headers=owner, timeout=30
            ).status_code

        with ThreadPoolExecutor(max_workers=9) as pool:
            deleting = pool.submit(delete)
            codes = list(pool.map(vote, range(8)))
            deleted = deleting.result()
        assert set(codes) <= {201, 404}, codes  # never a 500, never a wrong "already voted"
        counts = _counts(db, poll["id"])
        if deleted == 204:
            assert counts == {"activity": 0, "ballots": 0, "choices": 0, "events": 0}
            assert 201 not in codes  # a vote that was answered "counted" is never lost
        else:
            assert deleted == 409
            landed = codes.count(201)
            assert landed >= 1
            assert counts == {
                "activity": 1,
                "ballots": landed,
                "choices": landed,
                "events": landed,
            }


def test_a_poll_under_an_ab_experiment_is_kept(client: TestClient, brand: Brand) -> None:
    from tests.experiments.test_experiments import experiment_body

    owner = brand.auth(Role.OWNER)
    campaign = go_live(client, brand)
    poll_id = client.post(
        f"/api/v1/campaigns/{campaign['id']}/polls", json=POLL, headers=owner
    ).json()["id"]
    experiment = client.post(
        f"/api/v1/campaigns/{campaign['id']}/experiments",
        json=experiment_body(poll_id),
        headers=owner,
    )
    assert experiment.status_code == 201, experiment.text
    refused = client.delete(
        f"/api/v1/activities/{poll_id}", headers={**owner, "Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 409
    assert "A/B 实验" in refused.json()["error"]["message"]
    found = client.get(f"/api/v1/experiments/{experiment.json()['id']}", headers=owner)
    assert found.status_code == 200

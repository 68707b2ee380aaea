"""The people list: filters (stage, tag, attribute, verified, campaign, last seen), the four
sorts with keyset pages that show everyone once, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import update

from im2.clock import ManualClock
from im2.db import Database
from im2.incentives import service as incentives
from im2.participation.models import Participant
from im2.people.models import Person
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url


def _at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, tzinfo=UTC)


# name: (stage, score, last seen day)
PROFILE = {
    "C-1": ("advocate", 91.0, 1),
    "C-2": ("spreader", 75.5, 5),
    "C-3": ("participant", 40.0, None),
    "C-4": (None, None, 3),
    "voter-1": ("participant", 40.0, 4),
    "voter-2": ("bystander", 10.0, 2),
}


def _ids(client: TestClient, brand: Brand, **params: object) -> list[int]:
    """Every page of the list, following next_cursor, three at a time."""
    ids: list[int] = []
    cursor = None
    while True:
        query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/people", params=query, headers=brand.auth(Role.EDITOR))
        assert page.status_code == 200, page.text
        body = page.json()
        ids.extend(p["id"] for p in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


def _setup(client: TestClient, brand: Brand, db: Database, clock: ManualClock) -> dict[str, int]:
    slug, poll_id, options = live_campaign(client, brand)
    voters = []
    for i in range(2):
        phone = TestClient(client.app)
        voted = phone.post(vote_url(slug, poll_id), json={"options": [options[i]], "consent": True})
        assert voted.status_code == 201
        voters.append(phone)
    auth = brand.auth(Role.EDITOR)
    people = client.get("/api/v1/people", headers=auth).json()["items"]
    by_name: dict[str, int] = {}
    participants: dict[str, int] = {}
    for n, person in enumerate(sorted(p["id"] for p in people)):
        detail = client.get(f"/api/v1/people/{person}", headers=auth).json()
        by_name[f"voter-{n + 1}"] = person
        participants[f"voter-{n + 1}"] = next(
            int(i["value"]) for i in detail["identities"] if i["kind"] == "participant"
        )
    imported = client.post(
        "/api/v1/people/imports",
        files={
            "file": (
                "crm.csv",
                "crm,email,tags,city\n"
                "C-1,a@example.com,VIP,上海\n"
                "C-2,,VIP,北京\n"
                "C-3,,,上海\n"
                "C-4,,,\n".encode(),
            )
        },
        headers=auth,
    )
    assert imported.json()["applied"], imported.text
    for crm in ("C-1", "C-2", "C-3", "C-4"):
        [found] = client.get("/api/v1/people", params={"q": crm}, headers=auth).json()["items"]
        by_name[crm] = found["id"]
    with db.transaction() as session:
        for name, (stage, score, day) in PROFILE.items():
            session.execute(
                update(Person)
                .where(Person.id == by_name[name])
                .values(stage=stage, score=score, last_seen_at=None if day is None else _at(day))
            )
        for name, points in (("voter-1", 50), ("voter-2", 300)):
            incentives.award_points(
                session,
                workspace_id=brand.workspace_id,
                campaign_id=None,
                participant_id=participants[name],
                points=points,
                key=f"test:{name}",
                reason="test",
                now=clock.now(),
            )
    return by_name


def test_sorts_and_pages(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    ids = _setup(client, brand, db, clock)
    name = {v: k for k, v in ids.items()}

    def names(**params: object) -> list[str]:
        return [name[i] for i in _ids(client, brand, **params)]

    # Last seen, newest first; never seen last (newest person first among them).
    assert names() == ["C-2", "voter-1", "C-4", "voter-2", "C-1", "C-3"]
    # Stage from advocate down; the same stage newest person first; no stage last.
    assert names(sort="stage") == ["C-1", "C-2", "C-3", "voter-1", "voter-2", "C-4"]
    # Score, ties newest person first; no score last.
    assert names(sort="score") == ["C-1", "C-2", "C-3", "voter-1", "voter-2", "C-4"]
    # Points held, most first; nobody else has any (newest first).
    assert names(sort="points") == ["voter-2", "voter-1", "C-4", "C-3", "C-2", "C-1"]
    points = client.get(
        "/api/v1/people", params={"sort": "points"}, headers=brand.auth(Role.EDITOR)
    ).json()["items"]
    assert [p["points"] for p in points[:3]] == [300, 50, 0]


def test_filters(client: TestClient, brand: Brand, db: Database, clock: ManualClock) -> None:
    ids = _setup(client, brand, db, clock)
    name = {v: k for k, v in ids.items()}

    def names(**params: object) -> set[str]:
        return {name[i] for i in _ids(client, brand, **params)}

    assert names(stage="participant") == {"C-3", "voter-1"}
    assert names(tag="VIP") == {"C-1", "C-2"}
    assert names(attribute="city=上海") == {"C-1", "C-3"}
    assert names(verified="true") == {"C-1"}
    assert names(verified="false") == {"C-2", "C-3", "C-4", "voter-1", "voter-2"}
    assert names(seen_from="2026-03-02T00:00:00Z", seen_until="2026-03-05T00:00:00Z") == {
        "C-4",
        "voter-1",
        "voter-2",
    }
    campaign_id = client.get("/api/v1/campaigns", headers=brand.auth(Role.OWNER)).json()["items"][
        0
    ]["id"]
    assert names(campaign_id=campaign_id) == {"voter-1", "voter-2"}
    assert names(campaign_id=campaign_id, stage="bystander") == {"voter-2"}
    assert names(q=str(ids["C-4"])) == {"C-4"}
    assert names(q=f"#{ids['C-4']}") == {"C-4"}
    assert names(q="A@Example.com") == {"C-1"}
    assert names(q="nobody") == set()


def test_search_finds_nicknames_by_their_start(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    ids = _setup(client, brand, db, clock)
    name = {v: k for k, v in ids.items()}
    auth = brand.auth(Role.EDITOR)
    nicknames = {"voter-1": "小明同学", "voter-2": "Ming_%x"}
    with db.transaction() as session:
        for who, nickname in nicknames.items():
            detail = client.get(f"/api/v1/people/{ids[who]}", headers=auth).json()
            [participant] = [
                int(i["value"]) for i in detail["identities"] if i["kind"] == "participant"
            ]
            session.execute(
                update(Participant).where(Participant.id == participant).values(nickname=nickname)
            )

    def names(q: str) -> set[str]:
        return {name[i] for i in _ids(client, brand, q=q)}

    assert names("小明") == {"voter-1"}
    assert names("小明同学") == {"voter-1"}
    assert names("明同学") == set()  # the start of a nickname, not any part of it
    assert names("小明同学们") == set()
    assert names("Ming_%") == {"voter-2"}  # % and _ are letters here, not wildcards
    assert names("Ming__") == set()
    assert names("M") == {"voter-2"}


def test_bad_input_names_the_field(client: TestClient, brand: Brand) -> None:
    auth = brand.auth(Role.EDITOR)
    cases = [
        ({"stage": "hero"}, "stage"),
        ({"attribute": "city"}, "attribute"),
        ({"cursor": "nonsense"}, "cursor"),
        ({"sort": "height"}, "sort"),
        ({"seen_from": "2026-03-05T00:00:00Z", "seen_until": "2026-03-01T00:00:00Z"}, "seen_until"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"tag": "v\x00"}, "tag"),
    ]
    for params, field in cases:
        answer = client.get("/api/v1/people", params=params, headers=auth)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["field"] == field, (params, answer.text)
    # A cursor of one sort is refused by another.
    client.post(
        "/api/v1/people/imports",
        files={"file": ("c.csv", b"crm\nA\nB\nC\n")},
        headers=auth,
    )
    page = client.get("/api/v1/people", params={"limit": 1}, headers=auth).json()
    other = client.get(
        "/api/v1/people", params={"sort": "score", "cursor": page["next_cursor"]}, headers=auth
    )
    assert other.status_code == 422
    assert client.get("/api/v1/people", headers=brand.auth(Role.ANALYST)).status_code == 403

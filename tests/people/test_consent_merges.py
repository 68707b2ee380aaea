"""Consent records follow identity merges: the kept person holds both persons' records, the most
recent decision per purpose wins and a withdrawal is never lost; undoing the merge gives each
person back their own records in their own state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from im2.clock import ManualClock
from im2.db import Database
from im2.people.consent.models import ConsentRecord
from im2.people.consent.schemas import Purpose
from im2.people.models import Person
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.people.test_consent import _join, _people_consenting
from tests.test_polls import live_campaign


def _person_of_last_join(db: Database) -> int:
    with db.session() as session:
        return int(session.scalars(select(Person.id).order_by(Person.id.desc())).first() or 0)


def _decide(client: TestClient, brand: Brand, person_id: int, purpose: str, granted: bool) -> None:
    done = client.post(
        f"/api/v1/people/{person_id}/consents",
        json={"purpose": purpose, "granted": granted},
        headers=brand.auth(Role.EDITOR),
    )
    assert done.status_code == 200, done.text


def _states(client: TestClient, brand: Brand, person_id: int) -> dict[str, bool]:
    read = client.get(f"/api/v1/people/{person_id}/consents", headers=brand.auth(Role.OWNER))
    assert read.status_code == 200, read.text
    return {s["purpose"]: s["granted"] for s in read.json()["states"]}


def _records(db: Database) -> list[tuple[int, int, str, bool, str | None]]:
    """(record id, person, purpose, withdrawn, withdrawal channel), in id order."""
    with db.session() as session:
        return [
            (r.id, r.person_id, r.purpose, r.withdrawn_at is not None, r.withdrawn_channel)
            for r in session.scalars(select(ConsentRecord).order_by(ConsentRecord.id))
        ]


def test_consents_follow_a_merge_and_its_undo(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    # Two phones of one customer, each joined on its own: two persons.
    assert _join(client, slug, consent="yes").status_code == 303
    kept = _person_of_last_join(db)
    phone = TestClient(client.app)
    assert _join(phone, slug, consent="yes").status_code == 303
    merged = _person_of_last_join(db)
    assert kept != merged

    # Marketing: granted on the kept side first, withdrawn on the other side later -> the
    # withdrawal is the most recent decision and wins.
    _decide(client, brand, kept, "marketing", True)
    clock.advance(timedelta(minutes=5))
    _decide(client, brand, merged, "marketing", False)
    # Profiling: withdrawn on the kept side, granted again later on the other side -> the later
    # grant wins (the withdrawal stays on record).
    clock.advance(timedelta(minutes=5))
    _decide(client, brand, kept, "profiling", False)
    clock.advance(timedelta(minutes=5))
    _decide(client, brand, merged, "profiling", True)
    # Third parties: granted on the merged side only -> the survivor holds it.
    _decide(client, brand, merged, "third_party", True)

    before = {kept: _states(client, brand, kept), merged: _states(client, brand, merged)}
    assert before[kept] == {
        "taking_part": True,
        "marketing": True,
        "third_party": False,
        "profiling": False,
    }
    assert before[merged] == {
        "taking_part": True,
        "marketing": False,
        "third_party": True,
        "profiling": True,
    }
    records_before = _records(db)

    clock.advance(timedelta(minutes=5))
    merge = client.post(
        f"/api/v1/people/{merged}/merge", json={"into": kept}, headers=brand.auth(Role.EDITOR)
    )
    assert merge.status_code == 201, merge.text
    after = _states(client, brand, kept)
    assert after == {
        "taking_part": True,
        "marketing": False,  # the later withdrawal won over the earlier grant
        "third_party": True,
        "profiling": True,  # the later grant won over the earlier withdrawal
    }
    # Every record is the survivor's now, nothing was deleted, and the merge's own doing is
    # marked: the kept person's earlier marketing grant, withdrawn with channel "merge".
    records = _records(db)
    assert {r[1] for r in records} == {kept}
    assert len(records) == len(records_before)
    by_merge = [r for r in records if r[4] == "merge"]
    assert [(r[2], r[3]) for r in by_merge] == [("marketing", True)]
    # The filters other work uses agree at once: the survivor is out of marketing's yes,
    # in profiling.
    assert kept not in _granted(db, brand.workspace_id, Purpose.MARKETING)
    assert kept in _people_consenting(db, brand.workspace_id, Purpose.PROFILING)

    undone = client.post(
        f"/api/v1/people/merges/{merge.json()['id']}/undo", headers=brand.auth(Role.EDITOR)
    )
    assert undone.status_code == 200, undone.text
    assert _states(client, brand, kept) == before[kept]
    assert _states(client, brand, merged) == before[merged]
    assert _records(db) == records_before


def test_a_withdrawal_and_a_grant_at_the_same_moment_the_withdrawal_wins(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, _activity, _options = live_campaign(client, brand)
    assert _join(client, slug, consent="yes").status_code == 303
    kept = _person_of_last_join(db)
    assert _join(TestClient(client.app), slug, consent="yes").status_code == 303
    merged = _person_of_last_join(db)
    _decide(client, brand, kept, "marketing", True)
    _decide(client, brand, merged, "marketing", False)  # the same clock reading
    merge = client.post(
        f"/api/v1/people/{merged}/merge", json={"into": kept}, headers=brand.auth(Role.EDITOR)
    )
    assert merge.status_code == 201, merge.text
    assert _states(client, brand, kept)["marketing"] is False


def test_a_merge_made_by_a_verified_phone_carries_consents_too(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    """The automatic merge (two devices verify the same phone) goes through the same code."""
    from im2.participation.senders import MemorySender
    from tests.people.helpers import verify

    outbox = MemorySender()
    client.app.state.code_sender = outbox
    slug, _activity, _options = live_campaign(client, brand)
    assert _join(client, slug, consent="yes").status_code == 303
    first = _person_of_last_join(db)
    verify(client, slug, outbox, "phone", "13912345678")
    clock.advance(timedelta(minutes=5))
    other = TestClient(client.app)
    assert _join(other, slug, consent="yes").status_code == 303
    second = _person_of_last_join(db)
    _decide(client, brand, second, "profiling", False)
    clock.advance(timedelta(minutes=5))
    verify(other, slug, outbox, "phone", "13912345678")
    with db.session() as session:
        survivor = session.get(Person, second)
        assert survivor is not None
        assert survivor.merged_into_id == first  # the older person is kept
    states = _states(client, brand, first)
    assert states["profiling"] is False  # the merged person's withdrawal came along
    assert states["taking_part"] is True


def _granted(db: Database, workspace_id: int, purpose: Purpose) -> set[Any]:
    from im2.people.consent import service as consents

    with db.session() as session:
        return set(
            session.scalars(
                select(Person.id).where(
                    Person.workspace_id == workspace_id,
                    consents.granted(session, workspace_id=workspace_id, purpose=purpose),
                )
            )
        )

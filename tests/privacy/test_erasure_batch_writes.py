"""What one batch erasure writes, exactly (`erase_people`, retention's path), on both databases:
two people erased together, each with several participants (merged devices) whose votes went
out as webhook deliveries. The stand-in people, the stand-in participants and the erasure
records take their ids in the order the people were given (then each person's participants in
the order they joined), as erasing them one by one in that order would; every delivery of
their votes names the stand-ins, never the former participants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from im2.clock import ManualClock
from im2.db import Database
from im2.privacy.erasure import STAND_IN_CONSENT, erase_people
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url
from tests.webhooks.test_webhooks import add_endpoint, outbox


def _person_of(db: Database, participant: int) -> int:
    with db.session() as session:
        return int(
            session.execute(
                text(
                    "SELECT person_id FROM person_identities "
                    "WHERE kind = 'participant' AND value = :v"
                ),
                {"v": str(participant)},
            ).scalar_one()
        )


def _device_person(
    client: TestClient, db: Database, slug: str, poll_id: int, option: int
) -> tuple[int, int, str]:
    """A new device votes: (its participant, its person, its device id)."""
    device = TestClient(client.app)
    voted = device.post(vote_url(slug, poll_id), json={"options": [option], "consent": True})
    assert voted.status_code == 201, voted.text
    with db.session() as session:
        participant, device_id = session.execute(
            text("SELECT id, device_id FROM participants ORDER BY id DESC LIMIT 1")
        ).one()
    return int(participant), _person_of(db, int(participant)), str(device_id)


def _rows(db: Database, sql: str, **params: Any) -> list[Any]:
    with db.session() as session:
        return list(session.execute(text(sql), params).all())


def test_two_people_erased_in_one_batch_get_their_stand_ins_and_records_in_order(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, tmp_path: Path
) -> None:
    slug, poll_id, options = live_campaign(client, brand)
    add_endpoint(client, brand, "https://hooks.example.com/im2", ["vote.cast"])
    auth = brand.auth(Role.EDITOR)
    # P votes from three devices, then Q from two, then R (kept) from one; each person's other
    # devices are merged into their first (as the brand merges them by hand).
    devices = [_device_person(client, db, slug, poll_id, options[i % 2]) for i in range(6)]
    p_parts, q_parts, kept = devices[:3], devices[3:5], devices[5]
    for group in (p_parts, q_parts):
        for _part, person, _device in group[1:]:
            merged = client.post(
                f"/api/v1/people/{person}/merge", json={"into": group[0][1]}, headers=auth
            )
            assert merged.status_code == 201, merged.text
    person_p, person_q = p_parts[0][1], q_parts[0][1]
    assert outbox(db, clock) >= 6
    before = client.get(f"/api/v1/polls/{poll_id}/results", headers=brand.auth(Role.OWNER))
    deliveries_before = {
        int(d.id): d.event_id
        for d in _rows(db, "SELECT id, event_id FROM webhook_deliveries ORDER BY id")
    }
    assert len(deliveries_before) == 6  # one vote each
    people_before = max(r.id for r in _rows(db, "SELECT id FROM people"))
    participants_before = max(r.id for r in _rows(db, "SELECT id FROM participants"))
    old = {
        int(r.id): r
        for r in _rows(db, "SELECT id, created_at, first_campaign_id FROM participants")
    }

    erased = [person_q, person_p]  # not the order they came in: the order given is kept
    where: dict[str, Any] = {"lake_path": tmp_path / "lake", "media_path": tmp_path / "media"}
    with db.transaction() as session:
        reports = erase_people(
            session,
            workspace_id=brand.workspace_id,
            person_ids=erased,
            reason="test",
            now=clock.now(),
            **where,
        )
    assert [r.person_id for r in reports] == erased
    assert [r.webhook_deliveries_scrubbed for r in reports] == [2, 3]
    assert [r.rows_deleted["participants"] for r in reports] == [2, 3]

    # The records: one per person, ids in the order given.
    records = _rows(
        db, "SELECT id, person_id, summary, lake_pending FROM privacy_erasures ORDER BY id"
    )
    assert [r.person_id for r in records] == erased
    assert [r.id for r in records] == [r.erasure_id for r in reports]
    assert [_json(r.summary)["webhook_deliveries_scrubbed"] for r in records] == [2, 3]

    # The stand-in people: one each, after every existing person, in the order given.
    stand_in_people = [
        int(r.id) for r in _rows(db, "SELECT id FROM people WHERE id > :m", m=people_before)
    ]
    assert len(stand_in_people) == 2
    # The stand-in participants: after every existing one, Q's two then P's three, each
    # person's in the order their former participants joined.
    moved: list[int] = []
    for record, parts in zip(records, (q_parts, p_parts), strict=True):
        mapping = {int(k): int(v) for k, v in _json(record.lake_pending)["participants"].items()}
        assert sorted(mapping) == [part for part, _person, _device in parts]
        moved += [mapping[part] for part, _person, _device in parts]
    assert moved == list(range(participants_before + 1, participants_before + 6))
    stand_ins = {
        int(r.id): r
        for r in _rows(
            db,
            "SELECT id, device_id, consent_version, created_at, first_campaign_id "
            "FROM participants WHERE id > :m",
            m=participants_before,
        )
    }
    assert sorted(stand_ins) == moved
    gone = [part for part, _person, _device in q_parts + p_parts]
    for former, new in zip(gone, moved, strict=True):
        assert stand_ins[new].consent_version == STAND_IN_CONSENT
        assert stand_ins[new].created_at == old[former].created_at
        assert stand_ins[new].first_campaign_id == old[former].first_campaign_id
    devices_now = {r.device_id for r in stand_ins.values()}
    assert not devices_now & {device for _part, _person, device in devices}
    # Each stand-in person holds exactly its own stand-in participants.
    for person, first, last in ((stand_in_people[0], 0, 2), (stand_in_people[1], 2, 5)):
        linked = _rows(
            db,
            "SELECT value FROM person_identities WHERE person_id = :p AND kind = 'participant'",
            p=person,
        )
        assert sorted(int(r.value) for r in linked) == moved[first:last]
    remaining = {int(r.id) for r in _rows(db, "SELECT id FROM participants")}
    assert not remaining & set(gone)

    # Every delivery is still there; the erased people's name their stand-ins only, the kept
    # person's is untouched.
    after = {
        int(d.id): d
        for d in _rows(db, "SELECT id, event_id, payload, last_response FROM webhook_deliveries")
    }
    assert {i: d.event_id for i, d in after.items()} == deliveries_before
    actors = sorted(str(_json(d.payload)["actor"]["id"]) for d in after.values())
    assert all(d.last_response is None for d in after.values())
    assert actors == sorted([str(n) for n in moved] + [str(kept[0])])
    # The votes still count: the results are the same.
    again = client.get(f"/api/v1/polls/{poll_id}/results", headers=brand.auth(Role.OWNER))
    assert again.json()["options"] == before.json()["options"]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

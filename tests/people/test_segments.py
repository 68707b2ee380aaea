"""Segments: ground truth over a small population whose membership is known by construction,
every condition kind, groups, the never-members (merged, restricted, withdrawn profiling),
versions, 422s that name the field, and the CSV export."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from im2.clock import ManualClock
from im2.db import Database
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.people.consent.models import ConsentRecord
from im2.people.models import Person, PersonAttribute, PersonIdentity, PersonTag
from im2.people.segments.jobs import segment_facts_job
from im2.workspaces.schemas import Role
from tests.conftest import Brand

C1, C2 = 9001, 9002  # campaign ids as the event log carries them
POLL_ACTIVITY, UGC_ACTIVITY = 71, 72


@dataclass
class Population:
    ids: dict[str, int]

    def of(self, *letters: str) -> list[int]:
        return sorted(self.ids[x] for x in letters)


def _person(
    session: Any,
    ws: int,
    now: datetime,
    *,
    stage: str | None = None,
    score: float | None = None,
    last_seen: datetime | None = None,
    tags: tuple[str, ...] = (),
    attributes: dict[str, str] | None = None,
    identities: tuple[tuple[str, str], ...] = (),
    restricted: bool = False,
) -> Person:
    person = Person(
        workspace_id=ws,
        created_at=now,
        stage=stage,
        score=score,
        last_seen_at=last_seen,
        restricted_at=now if restricted else None,
    )
    session.add(person)
    session.flush()
    for tag in tags:
        session.add(
            PersonTag(workspace_id=ws, person_id=person.id, tag=tag, source="api", created_at=now)
        )
    for key, value in (attributes or {}).items():
        session.add(
            PersonAttribute(
                workspace_id=ws, person_id=person.id, key=key, value=value, updated_at=now
            )
        )
    for kind, value in identities:
        session.add(
            PersonIdentity(
                workspace_id=ws,
                person_id=person.id,
                kind=kind,
                value=value,
                hint=None,
                created_at=now,
            )
        )
    session.flush()
    return person


def _act(
    session: Any,
    ws: int,
    at: datetime,
    kind: EventKind,
    actor: str | None,
    *,
    campaign: int | None = None,
    activity: int | None = None,
    channel: str | None = None,
    referrer: str | None = None,
    properties: dict[str, Any] | None = None,
) -> None:
    actor_type = (
        ActorType.SYSTEM
        if actor is None
        else ActorType.VISITOR
        if actor.startswith("d:")
        else ActorType.PARTICIPANT
    )
    record_event(
        session,
        kind=kind,
        occurred_at=at,
        workspace_id=ws,
        actor_type=actor_type,
        actor_id=actor,
        campaign_id=campaign,
        activity_id=activity,
        channel=channel,
        referrer=referrer,
        properties=properties,
    )


@pytest.fixture
def people(db: Database, brand: Brand, clock: ManualClock) -> Population:
    """A: spreader, score 80, VIP in 上海, phone, came by wechat through share code abc, voted
    in C1's poll, 50 points minus 20 spent, seen 2 days ago.
    B: participant, score 40, tag new, 北京, came by weibo, UGC entry in C2, 10 points, seen
    40 days ago.
    C: bystander, one device that looked at C1 from a QR code, never seen by the ladder.
    A agreed to marketing contact; B agreed and withdrew.
    G: advocate, score 70, level gold, e-mail, a device that looked first (weibo) and a
    participant who then voted in C1 (wechat); seen a day ago.
    D (restricted), E (withdrew profiling) and F (merged into A) are never members, though D
    and E match most conditions."""
    now = clock.now()
    ws = brand.workspace_id
    earlier = now - timedelta(hours=2)
    with db.transaction() as s:
        a = _person(
            s, ws, now, stage="spreader", score=80, last_seen=now - timedelta(days=2),
            tags=("vip",), attributes={"city": "上海"},
            identities=(("participant", "101"), ("device", "dev1"), ("phone", "hash-a")),
        )  # fmt: skip
        b = _person(
            s, ws, now, stage="participant", score=40, last_seen=now - timedelta(days=40),
            tags=("new",), attributes={"city": "北京"}, identities=(("participant", "102"),),
        )  # fmt: skip
        c = _person(s, ws, now, stage="bystander", identities=(("device", "dev3"),))
        g = _person(
            s, ws, now, stage="advocate", score=70, last_seen=now - timedelta(days=1),
            attributes={"level": "gold"},
            identities=(("participant", "107"), ("device", "dev7"), ("email", "hash-g")),
        )  # fmt: skip
        d = _person(
            s, ws, now, stage="advocate", score=95, last_seen=now, tags=("vip",),
            attributes={"city": "上海"}, identities=(("participant", "104"),), restricted=True,
        )  # fmt: skip
        e = _person(
            s, ws, now, stage="spreader", score=85, last_seen=now, tags=("vip",),
            attributes={"city": "上海"}, identities=(("participant", "105"),),
        )  # fmt: skip
        s.add(
            ConsentRecord(
                workspace_id=ws, person_id=e.id, purpose="profiling", version="2026-12",
                channel="my_page", granted_at=earlier, withdrawn_at=now,
            )
        )  # fmt: skip
        for who, withdrawn in ((a, None), (b, now)):  # A agreed to marketing; B withdrew it
            s.add(
                ConsentRecord(
                    workspace_id=ws, person_id=who.id, purpose="marketing", version="2026-12",
                    channel="my_page", granted_at=earlier, withdrawn_at=withdrawn,
                )
            )  # fmt: skip
        f = _person(s, ws, now, stage="spreader", score=99, tags=("vip",))
        f.merged_into_id = a.id
        # The event log, as the domains write it.
        _act(s, ws, earlier, EventKind.PARTICIPANT_JOINED, "101", campaign=C1,
             channel="wechat", referrer="abc")  # fmt: skip
        _act(s, ws, earlier, EventKind.VOTE_CAST, "101", campaign=C1, activity=POLL_ACTIVITY)
        _act(s, ws, earlier, EventKind.POINTS_AWARDED, None, campaign=C1,
             properties={"participant": 101, "points": 50})  # fmt: skip
        _act(s, ws, earlier, EventKind.POINTS_SPENT, "101", properties={"points": 20})
        _act(s, ws, earlier, EventKind.CAMPAIGN_VIEWED, "d:dev3", campaign=C1, channel="qr")
        _act(s, ws, earlier, EventKind.UGC_SUBMITTED, "102", campaign=C2,
             activity=UGC_ACTIVITY, channel="weibo")  # fmt: skip
        _act(s, ws, earlier, EventKind.POINTS_AWARDED, None, campaign=C2,
             properties={"participant": 102, "points": 10})  # fmt: skip
        _act(s, ws, earlier - timedelta(minutes=5), EventKind.CAMPAIGN_VIEWED, "d:dev7",
             campaign=C1, channel="weibo")  # fmt: skip
        _act(s, ws, earlier, EventKind.VOTE_CAST, "107", campaign=C1, activity=POLL_ACTIVITY,
             channel="wechat")  # fmt: skip
        # D and E did everything A did.
        for who in ("104", "105"):
            _act(s, ws, earlier, EventKind.VOTE_CAST, who, campaign=C1, activity=POLL_ACTIVITY,
                 channel="wechat", referrer="abc")  # fmt: skip
        ids = {"A": a.id, "B": b.id, "C": c.id, "G": g.id, "D": d.id, "E": e.id, "F": f.id}
    clock.advance(timedelta(minutes=1))  # the facts job reads settled events only
    assert segment_facts_job(db, clock) >= 12
    return Population(ids)


def _members(client: TestClient, brand: Brand, rule: dict[str, Any]) -> int:
    got = client.post(
        "/api/v1/segments/preview", json={"rule": rule}, headers=brand.auth(Role.EDITOR)
    )
    assert got.status_code == 200, got.text
    count: int = got.json()["count"]
    return count


_NAMES = itertools.count(1)


def _ids(client: TestClient, brand: Brand, rule: dict[str, Any]) -> list[int]:
    """The members' ids, through a saved segment's CSV export."""
    saved = client.post(
        "/api/v1/segments",
        json={"name": f"t{next(_NAMES)}", "rule": rule},
        headers=brand.auth(Role.EDITOR),
    )
    assert saved.status_code == 201, saved.text
    export = client.get(
        f"/api/v1/segments/{saved.json()['id']}/members.csv", headers=brand.auth(Role.EDITOR)
    )
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    return sorted(int(r["person_id"]) for r in rows)


def one(**condition: Any) -> dict[str, Any]:
    return {"match": "all", "conditions": [condition]}


CASES: list[tuple[dict[str, Any], str]] = [
    (one(field="stage", values=["spreader"]), "A"),
    (one(field="stage", op="not_in", values=["spreader", "advocate"]), "BC"),
    (one(field="score", op="gte", value=70), "AG"),
    (one(field="score", op="between", value=30, to=80), "ABG"),
    (one(field="score", op="lte", value=50), "B"),
    (one(field="campaign", values=[C1]), "AG"),
    (one(field="campaign", op="not_in", values=[C1]), "BC"),
    (one(field="activity_kind", values=["ugc"]), "B"),
    (one(field="activity_kind", values=["poll"]), "AG"),
    (one(field="activity_kind", values=["poll", "ugc"]), "ABG"),
    (one(field="activity_kind", op="not_in", values=["ugc"]), "ACG"),
    (one(field="activity_kind", values=["quiz"]), ""),
    (
        {
            "match": "all",
            "conditions": [
                {"field": "activity_kind", "values": ["poll"]},
                {"field": "campaign", "op": "not_in", "values": [C2]},
                {"field": "verified", "value": True},
            ],
        },
        "AG",
    ),
    (
        {
            "match": "all",
            "conditions": [
                {"field": "activity_kind", "values": ["poll"]},
                {"field": "tag", "op": "has_not", "values": ["vip"]},
                {"field": "city", "op": "not_in", "values": ["北京"]},
            ],
        },
        "G",
    ),
    (
        {
            "match": "all",
            "conditions": [
                {"field": "campaign", "op": "not_in", "values": [C2]},
                {"field": "stage", "values": ["spreader"]},
            ],
        },
        "A",
    ),
    (one(field="channel", values=["weibo"]), "BG"),
    (one(field="channel", values=["wechat"]), "A"),
    (one(field="channel", values=["qr"]), "C"),
    (one(field="channel", op="not_in", values=["weibo"]), "AC"),
    (one(field="source", values=["abc"]), "A"),
    (one(field="source", op="any"), "A"),
    (one(field="points", op="gte", value=20), "A"),
    (one(field="points", op="lte", value=5), "CG"),
    (one(field="points", op="between", value=5, to=15), "B"),
    (one(field="tag", values=["vip"]), "A"),
    (one(field="tag", op="has_not", values=["vip"]), "BCG"),
    (one(field="attribute", key="level", values=["gold"]), "G"),
    (one(field="attribute", key="level", op="exists"), "G"),
    (one(field="attribute", key="level", op="not_in", values=["gold"]), "ABC"),
    (one(field="city", values=["上海"]), "A"),
    (one(field="city", op="not_in", values=["上海"]), "BCG"),
    (one(field="last_seen", op="within", days=7), "AG"),
    (one(field="last_seen", op="before", days=30), "BC"),
    (one(field="verified"), "AG"),
    (one(field="verified", kind="phone"), "A"),
    (one(field="verified", value=False), "BC"),
    (one(field="consent"), "A"),
    (one(field="consent", value=False), "BCG"),
    (one(field="consent", purpose="third_party"), ""),
    ({"match": "all", "conditions": []}, "ABCG"),
    (
        {
            "match": "all",
            "conditions": [
                {"field": "stage", "values": ["spreader", "advocate"]},
                {
                    "match": "any",
                    "conditions": [
                        {"field": "tag", "values": ["vip"]},
                        {"field": "city", "values": ["北京"]},
                    ],
                },
            ],
        },
        "A",
    ),
    (
        {
            "match": "any",
            "conditions": [
                {"field": "channel", "values": ["qr"]},
                {"field": "points", "op": "between", "value": 5, "to": 15},
            ],
        },
        "BC",
    ),
]


def test_every_condition_selects_the_people_known_to_match(
    client: TestClient, brand: Brand, people: Population
) -> None:
    for rule, expected in CASES:
        assert _members(client, brand, rule) == len(expected), (rule, expected)
        assert _ids(client, brand, rule) == people.of(*expected), (rule, expected)


def test_a_merge_and_its_undo_move_the_facts_with_the_identities(
    client: TestClient, brand: Brand, people: Population, db: Database, clock: ManualClock
) -> None:
    # C (a device that only looked, from a QR code, before B's first action) turns out to be
    # B: B's person now holds the device, so C's first touch becomes B's first touch.
    qr = one(field="channel", values=["qr"])
    weibo = one(field="channel", values=["weibo"])
    merged = client.post(
        f"/api/v1/people/{people.ids['C']}/merge",
        json={"into": people.ids["B"]},
        headers=brand.auth(Role.EDITOR),
    )
    assert merged.status_code == 201, merged.text
    segment_facts_job(db, clock)  # the next run of the facts job follows the merge
    assert _ids(client, brand, qr) == people.of("B")
    assert _ids(client, brand, weibo) == people.of("G")
    assert _ids(client, brand, one(field="activity_kind", values=["ugc"])) == people.of("B")
    assert _members(client, brand, {"match": "all", "conditions": []}) == 3

    clock.advance(timedelta(minutes=1))
    undone = client.post(
        f"/api/v1/people/merges/{merged.json()['id']}/undo", headers=brand.auth(Role.EDITOR)
    )
    assert undone.status_code == 200, undone.text
    segment_facts_job(db, clock)
    assert _ids(client, brand, qr) == people.of("C")
    assert _ids(client, brand, weibo) == people.of("B", "G")
    assert _members(client, brand, {"match": "all", "conditions": []}) == 4


def test_activity_kinds_follow_a_merge_and_its_undo(
    client: TestClient, brand: Brand, people: Population, db: Database, clock: ManualClock
) -> None:
    # B (UGC in C2) turns out to be A (voted in C1): A took part in both kinds, B in none.
    ugc = one(field="activity_kind", values=["ugc"])
    poll_not_ugc = {
        "match": "all",
        "conditions": [
            {"field": "activity_kind", "values": ["poll"]},
            {"field": "activity_kind", "op": "not_in", "values": ["ugc"]},
        ],
    }
    assert _ids(client, brand, poll_not_ugc) == people.of("A", "G")
    merged = client.post(
        f"/api/v1/people/{people.ids['B']}/merge",
        json={"into": people.ids["A"]},
        headers=brand.auth(Role.EDITOR),
    )
    assert merged.status_code == 201, merged.text
    segment_facts_job(db, clock)
    assert _ids(client, brand, ugc) == people.of("A")
    assert _members(client, brand, ugc) == 1
    assert _ids(client, brand, poll_not_ugc) == people.of("G")

    clock.advance(timedelta(minutes=1))
    undone = client.post(
        f"/api/v1/people/merges/{merged.json()['id']}/undo", headers=brand.auth(Role.EDITOR)
    )
    assert undone.status_code == 200, undone.text
    segment_facts_job(db, clock)
    assert _ids(client, brand, ugc) == people.of("B")
    assert _ids(client, brand, poll_not_ugc) == people.of("A", "G")
    assert _members(client, brand, poll_not_ugc) == 2


def test_unknown_fields_and_bad_values_are_422_naming_the_field(
    client: TestClient, brand: Brand
) -> None:
    def bad(rule: Any) -> dict[str, Any]:
        got = client.post(
            "/api/v1/segments/preview", json={"rule": rule}, headers=brand.auth(Role.EDITOR)
        )
        assert got.status_code == 422, got.text
        error: dict[str, Any] = got.json()["error"]
        return error

    unknown = bad({"conditions": [{"field": "stage", "values": ["advocate"]}, {"field": "age"}]})
    assert unknown["field"] == "rule.conditions"
    assert "conditions.1.field" in unknown["message"]
    assert "'age'" in unknown["message"]
    stage = bad(one(field="stage", values=["king"]))
    assert stage["field"] == "rule.conditions.0.stage.values.0"
    assert bad(one(field="score", op="between", value=9))["field"] == "rule.conditions.0.score"
    assert bad(one(field="score", op="above", value=9))["field"] == "rule.conditions.0.score.op"
    assert bad(one(field="campaign", values=[0]))["field"] == "rule.conditions.0.campaign.values.0"
    assert bad(one(field="tag", values=[]))["field"] == "rule.conditions.0.tag.values"
    assert bad(one(field="last_seen", days=-1))["field"] == "rule.conditions.0.last_seen.days"
    assert bad(one(field="stage", values=["advocate"], extra=1))["field"] == (
        "rule.conditions.0.stage.extra"
    )
    assert bad({"match": "either", "conditions": []})["field"] == "rule.match"
    # NUL and other control characters (PostgreSQL text refuses NUL): 422, never a 500.
    assert bad(one(field="tag", values=["vip\x00"]))["field"] == "rule.conditions.0.tag.values.0"
    nul = bad(one(field="attribute", key="city", values=["上海\x00"]))
    assert nul["field"] == "rule.conditions.0.attribute.values.0"
    assert bad(one(field="attribute", key="ci\x01ty", values=["x"]))["field"] == (
        "rule.conditions.0.attribute.key"
    )
    deep = one(field="stage", values=["advocate"])
    for _ in range(4):
        deep = {"match": "all", "conditions": [deep]}
    assert bad(deep)["field"].startswith("rule.conditions.0")  # the group nested too deep


def test_saving_makes_versions_and_the_old_one_stays_readable(
    client: TestClient, brand: Brand, people: Population
) -> None:
    editor = brand.auth(Role.EDITOR)
    created = client.post(
        "/api/v1/segments",
        json={"name": "上海 VIP", "rule": one(field="tag", values=["vip"])},
        headers=editor,
    )
    assert created.status_code == 201, created.text
    seg = created.json()
    assert seg["version"] == 1
    url = f"/api/v1/segments/{seg['id']}"
    assert client.get(url + "/count", headers=editor).json() == {"count": 1}
    edited = client.patch(url, json={"rule": one(field="verified")}, headers=editor)
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2
    assert client.get(url + "/count", headers=editor).json() == {"count": 2}
    same = client.patch(url, json={"rule": one(field="verified")}, headers=editor)
    assert same.json()["version"] == 2  # nothing changed, no new version
    versions = client.get(url + "/versions", headers=editor).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["rule"]["conditions"][0] == {"field": "tag", "op": "has", "values": ["vip"]}
    taken = client.post(
        "/api/v1/segments", json={"name": "上海 VIP", "rule": one(field="verified")}, headers=editor
    )
    assert taken.status_code == 422
    assert taken.json()["error"]["field"] == "name"
    archived = client.post(url + "/archive", headers=editor)
    assert archived.json()["archived_at"] is not None
    assert client.get("/api/v1/segments", headers=editor).json()["items"] == []


def test_analysts_count_but_never_see_members(
    client: TestClient, brand: Brand, people: Population
) -> None:
    analyst = brand.auth(Role.ANALYST)
    assert _members(client, brand, one(field="verified")) == 2
    counted = client.post(
        "/api/v1/segments/preview", json={"rule": one(field="verified")}, headers=analyst
    )
    assert counted.json() == {"count": 2}
    saved = client.post(
        "/api/v1/segments",
        json={"name": "v", "rule": one(field="verified")},
        headers=brand.auth(Role.EDITOR),
    ).json()
    refused = client.get(f"/api/v1/segments/{saved['id']}/members.csv", headers=analyst)
    assert refused.status_code == 403
    assert (
        client.post(
            "/api/v1/segments", json={"name": "w", "rule": one(field="verified")}, headers=analyst
        ).status_code
        == 403
    )


def test_another_workspaces_segment_is_not_found(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock
) -> None:
    from tests.conftest import make_brand

    other = make_brand(db, slug="other", now=clock.now())
    saved = client.post(
        "/api/v1/segments",
        json={"name": "x", "rule": one(field="verified")},
        headers=other.auth(Role.EDITOR),
    ).json()
    got = client.get(f"/api/v1/segments/{saved['id']}", headers=brand.auth(Role.EDITOR))
    assert got.status_code == 404


def test_granting_profiling_again_after_a_withdrawal_makes_a_person_a_member_again(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, people: Population
) -> None:
    """E withdrew profiling; a grant given after it stands, so E counts again (and withdrawing
    once more takes E out again)."""
    rule = one(field="stage", values=["spreader"])
    assert _ids(client, brand, rule) == sorted([people.ids["A"]])
    with db.session() as s:
        s.add(
            ConsentRecord(
                workspace_id=brand.workspace_id, person_id=people.ids["E"], purpose="profiling",
                version="2026-12", channel="my_page", granted_at=clock.now(),
            )
        )  # fmt: skip
        s.commit()
    assert _ids(client, brand, rule) == sorted([people.ids["A"], people.ids["E"]])
    assert _members(client, brand, rule) == 2
    with db.session() as s:
        s.execute(
            update(ConsentRecord)
            .where(ConsentRecord.person_id == people.ids["E"], ConsentRecord.withdrawn_at.is_(None))
            .values(withdrawn_at=clock.now())
        )
        s.commit()
    assert _members(client, brand, rule) == 1


def test_a_list_counts_each_person_once_and_never_the_merged_or_restricted(
    client: TestClient, brand: Brand, db: Database, clock: ManualClock, people: Population
) -> None:
    """A rule that is one list alone is counted from the list's rows: a person on it twice
    counts once, and the merged (F), restricted (D) and withdrawn (E) people on it never
    count; once F is no longer merged and D no longer restricted, both do."""
    rule = one(field="tag", values=["vip", "new"])
    assert _members(client, brand, rule) == 2  # A (vip) and B (new)
    with db.session() as s:
        for who, tag in (("A", "new"), ("D", "new"), ("F", "new"), ("E", "new")):
            s.add(
                PersonTag(
                    workspace_id=brand.workspace_id, person_id=people.ids[who], tag=tag,
                    source="console", created_at=clock.now(),
                )
            )  # fmt: skip
        s.commit()
    assert _members(client, brand, rule) == 2
    assert _ids(client, brand, rule) == people.of("A", "B")
    with db.session() as s:  # F no longer merged, D no longer restricted: both count again
        s.execute(update(Person).where(Person.id == people.ids["F"]).values(merged_into_id=None))
        s.execute(update(Person).where(Person.id == people.ids["D"]).values(restricted_at=None))
        s.commit()
    assert _members(client, brand, rule) == 4
    assert _ids(client, brand, rule) == people.of("A", "B", "D", "F")

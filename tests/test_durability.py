"""Every acknowledged write that matters is committed durably, on both databases.

A power cut cannot be simulated in a test: `kill -9` ends the process, but the operating
system still writes out what SQLite handed it, so a commit that was never synced survives a
killed process and is lost only when the machine itself stops (tests/test_crash_votes.py
covers the process crash). What decides power-loss durability is the setting the connection
commits under: on SQLite in WAL mode, `PRAGMA synchronous=FULL` (2) syncs the log before
COMMIT returns, while NORMAL (1) leaves the last commits in the page cache until a
checkpoint; on PostgreSQL, `synchronous_commit` must stay `on`. So these tests watch the
connections that actually commit a vote, a consent, a reward, a points spend, a coupon
redemption and a conversion, made the way a participant, a shop and a back office make them,
and read that setting on each at its commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from im2.db import Database
from im2.events.service import list_events
from im2.workspaces.schemas import Role
from tests.conftest import Brand
from tests.test_participants import _post as post_me_form
from tests.test_polls import live_campaign, vote_url

_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
DURABLE = {"sqlite": "2", "postgresql": "on"}  # synchronous=FULL / synchronous_commit=on


@dataclass
class Commits:
    """(tables written, the durability setting at commit) for every transaction committed."""

    seen: list[tuple[frozenset[str], str]] = field(default_factory=list)

    def settings_for(self, table: str) -> set[str]:
        return {setting for tables, setting in self.seen if table in tables}


def _durability_setting(raw: Any, dialect: str) -> str:
    cursor = raw.cursor()
    try:
        cursor.execute("PRAGMA synchronous" if dialect == "sqlite" else "SHOW synchronous_commit")
        return str(cursor.fetchone()[0])
    finally:
        cursor.close()


@pytest.fixture
def commits(db: Database) -> Iterator[Commits]:
    found = Commits()
    written: dict[int, set[str]] = {}

    def before_execute(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        match = _WRITE.match(statement)
        if match:
            written.setdefault(id(conn.connection.dbapi_connection), set()).add(match.group(1))

    def on_commit(conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        tables = written.pop(id(raw), set())
        if tables:
            found.seen.append((frozenset(tables), _durability_setting(raw, db.dialect)))

    def on_rollback(conn: Any) -> None:
        written.pop(id(conn.connection.dbapi_connection), None)

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("before_cursor_execute", before_execute),
        ("commit", on_commit),
        ("rollback", on_rollback),
    ]
    for name, fn in listeners:
        event.listen(db.engine, name, fn)
    yield found
    for name, fn in listeners:
        event.remove(db.engine, name, fn)


def test_votes_consents_rewards_spends_redemptions_and_conversions_commit_durably(
    client: TestClient, brand: Brand, db: Database, commits: Commits
) -> None:
    editor = brand.auth(Role.EDITOR)
    # A participant votes with consent (the group commit) and saves a nickname with consent
    # (a participant form's own transaction).
    slug, poll_id, options = live_campaign(client, brand)
    voted = client.post(vote_url(slug, poll_id), json={"options": [options[0]], "consent": True})
    assert voted.status_code == 201, voted.text
    saved = post_me_form(client, slug, "nickname", {"nickname": "小林", "consent": "yes"})
    assert saved.status_code == 303
    with db.session() as session:
        [joined] = list_events(session, kinds=["participant.joined"])
    person = int(str(joined.actor_id))
    campaign_id = client.get(f"/api/v1/activities/{poll_id}", headers=editor).json()["campaign_id"]

    # The back office rewards points, the participant spends them on a prize.
    rewarded = client.post(
        f"/api/v1/participants/{person}/points",
        json={"campaign_id": campaign_id, "points": 50, "key": "welcome", "reason": "vote"},
        headers=editor,
    )
    assert rewarded.status_code == 200, rewarded.text
    prize = client.post(
        f"/api/v1/campaigns/{campaign_id}/prizes",
        json={"name": "贴纸", "units": 10, "cost_points": 20},
        headers=editor,
    )
    assert prize.status_code == 201, prize.text
    bought = client.post(
        f"/api/v1/participants/{person}/purchases",
        json={
            "campaign_id": campaign_id,
            "item": "prize",
            "item_id": prize.json()["id"],
            "key": "b",
        },
        headers=editor,
    )
    assert bought.status_code == 200, bought.text

    # A coupon is issued to the participant and redeemed at the till; the shop reports the order.
    pool = client.post(
        f"/api/v1/campaigns/{campaign_id}/coupon-pools", json={"name": "满100减20"}, headers=editor
    ).json()["id"]
    client.post(f"/api/v1/coupon-pools/{pool}/codes/generate", json={"count": 1}, headers=editor)
    issued = client.post(
        f"/api/v1/coupon-pools/{pool}/issue",
        json={"participant_id": person, "key": "k"},
        headers=editor,
    )
    assert issued.status_code == 200, issued.text
    redeemed = client.post(
        "/api/v1/redemptions",
        json={"code": issued.json()["coupon_code"], "order_id": "A-1"},
        headers=editor,
    )
    assert redeemed.status_code == 201, redeemed.text
    converted = client.post(
        "/api/v1/conversions",
        json={
            "order_id": "A-1",
            "amount": "100.00",
            "currency": "CNY",
            "occurred_at": "2026-03-02T09:30:00+08:00",
            "participant_id": person,
        },
        headers=editor,
    )
    assert converted.status_code == 201, converted.text

    durable = DURABLE[db.dialect]
    for table in (
        "poll_ballots",
        "participants",
        "point_entries",
        "coupon_redemptions",
        "conversions",
        "events",
    ):
        assert commits.settings_for(table) == {durable}, (table, commits.seen)
    # And not only those: every transaction a request committed.
    assert {setting for _tables, setting in commits.seen} == {durable}

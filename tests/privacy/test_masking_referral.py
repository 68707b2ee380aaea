"""Referral anti-abuse evidence keeps no plain IP address, user agent or e-mail address: a
self-referral from the same browser and address with the same verified e-mail is still held
(the checks compare keyed hashes), and the tables that keep the evidence (the invite, the held
rewards, the `reward.held` events) hold none of those values. Evidence stored before is
rewritten by the migration's data step, once."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from sqlalchemy import text

from im2.participation import service as participation
from tests.activities.test_referral import SECRET, World, points
from tests.activities.test_referral import world as world

UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126 Mobile"
IP = "203.0.113.9"
EMAIL = "eve.lin@example.com"
MIGRATION = (
    "im2.migrations.versions.2026_12_07_1300-5c0f3e9a7b21_consent_follows_merges_and_evidence_scrub"
)


def _verify_email(world: World, pid: int, address: str) -> None:
    with world.db.transaction() as session:
        _dest, code = participation.do_request_code(
            session,
            participant_id=pid,
            channel="email",
            destination=address,
            secret=SECRET,
            now=world.clock.now(),
        )
        checked = participation.do_confirm_code(
            session,
            participant_id=pid,
            workspace_id=world.brand.workspace_id,
            campaign_id=world.cid,
            channel="email",
            code=code,
            secret=SECRET,
            now=world.clock.now(),
        )
    assert checked.ok


def _stored(world: World) -> str:
    """Everything the evidence tables hold, as text."""
    with world.db.engine.connect() as conn:
        parts: list[Any] = []
        for query in (
            "SELECT evidence FROM referral_invites",
            "SELECT evidence FROM reward_grants",
            "SELECT properties FROM events WHERE kind = 'reward.held'",
        ):
            parts += [row[0] for row in conn.execute(text(query))]
    return json.dumps(parts, ensure_ascii=False, default=str)


@pytest.fixture
def held(world: World) -> World:
    """Eve invites herself: the same browser and address, then the same e-mail verified."""
    world.add_referral(qualify_on="verified", inviter_reward=points(50), invitee_reward=points(5))
    eve = world.join(ip=IP, ua=UA, nickname="小艾")
    _verify_email(world, eve, EMAIL)
    twin = world.join(via=eve, ip=IP, ua=UA)
    _verify_email(world, twin, "Eve.Lin+second@example.com")  # one address to the checks
    world.run()
    return world


def test_evidence_is_found_by_hashes_and_stores_no_plain_value(held: World) -> None:
    rows = held.results()["rows"]
    assert [r["status"] for r in rows] == ["held"]
    assert rows[0]["reasons"] == ["same_device", "same_identity"]
    details = rows[0]["evidence"]
    assert details["same_device"].startswith("203.0.113.0/24 · UA #")
    assert details["same_identity"].startswith("e-mail #")
    stored = _stored(held)
    assert "same_device" in stored  # the evidence is there …
    for plain in (IP, EMAIL, "eve.lin", UA, UA[:80], "Pixel 8"):  # … without the values
        assert plain not in stored, plain


def test_evidence_stored_before_is_rewritten_once(held: World) -> None:
    old = {
        "reasons": ["same_device", "same_identity", "same_network"],
        "details": {
            "same_device": f"{IP} · {UA[:80]}",
            "same_network": f"{IP} / 203.0.113.77 (203.0.113.0/24)",
            "same_identity": EMAIL,
            "ring": "#1 → #2 → #1",
        },
    }
    with held.db.engine.begin() as conn:
        conn.execute(text("UPDATE referral_invites SET evidence = :e"), {"e": json.dumps(old)})
        conn.execute(
            text("UPDATE reward_grants SET evidence = :e WHERE status = 'held'"),
            {"e": json.dumps(old)},
        )
    assert IP in _stored(held)
    migration = importlib.import_module(MIGRATION)
    with held.db.engine.begin() as conn:
        changed = migration.scrub_stored_evidence(conn)
    assert changed == 3  # the invite and its two held rewards
    stored = _stored(held)
    for plain in (IP, EMAIL, UA[:80], "203.0.113.77"):
        assert plain not in stored, plain
    rows = held.results()["rows"]
    assert rows[0]["evidence"] == {
        "same_device": "203.0.113.0/24",
        "same_network": "203.0.113.0/24",
        "same_identity": rows[0]["evidence"]["same_identity"],
        "ring": "#1 → #2 → #1",
    }
    assert rows[0]["evidence"]["same_identity"].startswith("e-mail #")
    assert rows[0]["status"] == "held"  # the review is not affected
    with held.db.engine.begin() as conn:
        assert migration.scrub_stored_evidence(conn) == 0  # a second run finds nothing to do

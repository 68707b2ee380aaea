"""`im2 keys rotate`: after it every personal field opens with the new key and not with the old
one alone; a second run has nothing to do; a run that crashed part way is finished by the
next; a changed secret re-hashes the lookup hashes so that people and IPs are still found;
a malformed or missing key is a clear error and a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from im2.cli import app as cli
from im2.clock import ManualClock
from im2.config import get_settings
from im2.crypto import Keyring, keyring, keyring_from
from im2.db import Database
from im2.participation import service as participation
from im2.participation.models import Participant
from im2.participation.schemas import Visitor
from im2.people import service as people
from im2.people.schemas import IdentityKind
from im2.privacy.keys import RotationError, rotate
from tests.conftest import Brand, go_live

runner = CliRunner()
K1 = Fernet.generate_key().decode()
K2 = Fernet.generate_key().decode()
S1 = "first-secret-of-the-brand-0123456789-abcdefgh"
S2 = "second-secret-of-the-brand-9876543210-zyxwvut"
FIELDS = ("first_ip", "user_agent", "verified_phone", "verified_email")


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The process settings (which the keyring follows) under the test's control."""
    monkeypatch.setenv("IM2_DATABASE_URL", database_url)
    monkeypatch.setenv("IM2_SECRET_KEY", S1)
    monkeypatch.delenv("IM2_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("IM2_PREVIOUS_SECRET_KEYS", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _set(env: pytest.MonkeyPatch, **values: str) -> Keyring:
    for name, value in values.items():
        env.setenv(f"IM2_{name.upper()}", value)
    get_settings.cache_clear()
    return keyring()


@pytest.fixture
def campaign_id(client: TestClient, brand: Brand) -> int:
    return int(go_live(client, brand)["id"])


def _people(db: Database, brand: Brand, clock: ManualClock, n: int, campaign_id: int) -> None:
    """`n` participants who joined from two IPs and verified a phone (and every third an
    e-mail) through the services, as a request would, with the secret in force."""
    secret = get_settings().secret_key.get_secret_value()
    now = clock.now()
    for i in range(n):
        with db.transaction() as session:
            joined = participation.do_join(
                session,
                workspace_id=brand.workspace_id,
                campaign_id=campaign_id,
                visitor=Visitor(
                    device_id=f"device-{i:03d}",
                    ip="203.0.113.5" if i % 2 else "198.51.100.8",
                    user_agent=f"Agent/{i}",
                    channel=None,
                ),
                consented=True,
                now=now,
            )
            channels = [("phone", f"1391234{i:04d}")]
            if i % 3 == 0:
                channels.append(("email", f"p{i}@example.com"))
            for channel, destination in channels:
                _dest, code = participation.do_request_code(
                    session,
                    participant_id=joined.id,
                    channel=channel,
                    destination=destination,
                    secret=secret,
                    now=now,
                )
                checked = participation.do_confirm_code(
                    session,
                    participant_id=joined.id,
                    workspace_id=brand.workspace_id,
                    campaign_id=campaign_id,
                    channel=channel,
                    code=code,
                    secret=secret,
                    now=now,
                )
                assert checked.ok, checked.error


def _tokens(db: Database) -> list[str]:
    columns = ", ".join(FIELDS)
    found: list[str] = []
    with db.engine.connect() as conn:
        for row in conn.execute(text(f"SELECT {columns} FROM participants")):  # noqa: S608
            found.extend(v for v in row if v is not None)
        found.extend(conn.scalars(text("SELECT destination FROM participant_codes")))
    return found


def _run(db: Database, ring: Keyring, **kwargs: object):  # type: ignore[no-untyped-def]
    settings = get_settings()
    previous = settings.previous_secret_keys
    return rotate(
        db,
        ring=ring,
        secret=settings.secret_key.get_secret_value(),
        previous_secrets=[
            p for p in (previous.get_secret_value() if previous else "").split(",") if p
        ],
        **kwargs,  # type: ignore[arg-type]
    )


def test_rotation_moves_every_value_to_the_new_key(
    env: pytest.MonkeyPatch,
    db: Database,
    brand: Brand,
    clock: ManualClock,
    campaign_id: int,
) -> None:
    _set(env, encryption_keys=K1)
    _people(db, brand, clock, 12, campaign_id)
    before = _tokens(db)
    # 12 IPs, 12 agents, 12 phones, 4 e-mails; 16 code destinations.
    assert len(before) == 12 * 3 + 4 + 16
    assert all(Fernet(K1.encode()).decrypt(t.encode()) for t in before)

    ring = _set(env, encryption_keys=f"{K2},{K1}")
    report = _run(db, ring, batch_size=5)
    assert sum(report.reencrypted.values()) == len(before)
    assert report.reencrypted["participants.verified_email"] == 4
    assert report.reencrypted["participant_codes.destination"] == 16

    after = _tokens(db)
    assert len(after) == len(before)
    for token in after:
        Fernet(K2.encode()).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(K1.encode()).decrypt(token.encode())

    # Idempotent: nothing left to do, and the new key alone reads every value back.
    assert sum(_run(db, ring, batch_size=5).reencrypted.values()) == 0
    _set(env, encryption_keys=K2)
    with db.session() as session:
        phones = sorted(p.verified_phone or "" for p in session.scalars(select(Participant)))
    assert phones == [f"1391234{i:04d}" for i in range(12)]


def test_a_run_that_crashed_part_way_is_finished_by_the_next(
    env: pytest.MonkeyPatch,
    db: Database,
    brand: Brand,
    clock: ManualClock,
    campaign_id: int,
) -> None:
    _set(env, encryption_keys=K1)
    _people(db, brand, clock, 10, campaign_id)
    total = len(_tokens(db))
    ring = _set(env, encryption_keys=f"{K2},{K1}")

    batches = 0

    def crash_after_two(_table: str, _rows: int) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        _run(db, ring, batch_size=3, on_batch=crash_after_two)
    half = sum(1 for t in _tokens(db) if ring.is_current(t))
    assert 0 < half < total  # two batches of three rows (four values each) were committed

    second = _run(db, ring, batch_size=3)
    assert sum(second.reencrypted.values()) == total - half
    assert all(ring.is_current(t) for t in _tokens(db))


def test_a_new_secret_rehashes_identities_and_ips(
    env: pytest.MonkeyPatch,
    db: Database,
    brand: Brand,
    clock: ManualClock,
    campaign_id: int,
) -> None:
    # The demo's way: no IM2_ENCRYPTION_KEYS, the key is derived from the secret.
    _people(db, brand, clock, 6, campaign_id)
    ring = _set(env, secret_key=S2, previous_secret_keys=S1)
    report = _run(db, ring, batch_size=4)
    assert report.identities_rehashed == 6 + 2  # six phones, two e-mails
    assert report.identities_unknown == 0
    assert report.rehashed == {"participants.first_ip_hash": 6}

    only_new = _set(env, secret_key=S2, previous_secret_keys="")
    with db.session() as session:
        for i, kind, value in (
            (0, IdentityKind.PHONE, "13912340000"),
            (3, IdentityKind.EMAIL, "p3@example.com"),
        ):
            person = people.find_person(
                session, workspace_id=brand.workspace_id, kind=kind, value=value, secret=S2
            )
            assert person is not None, (i, kind)
        counts = participation.identities_from_ips(
            session,
            workspace_id=brand.workspace_id,
            ips=["203.0.113.5", "198.51.100.8"],
            since=clock.now() - timedelta(hours=1),
        )
    assert counts == {"203.0.113.5": 3, "198.51.100.8": 3}
    old_only = Keyring.build(encryption_keys=[], secret=S1, previous_secrets=[])
    for token in _tokens(db):
        assert only_new.is_current(token)
        with pytest.raises(ValueError, match="none of the configured keys"):
            old_only.decrypt(token)
    assert _run(db, only_new).identities_rehashed == 0


def test_a_missing_key_stops_the_rotation_with_what_to_do(
    env: pytest.MonkeyPatch,
    db: Database,
    brand: Brand,
    clock: ManualClock,
    campaign_id: int,
) -> None:
    _set(env, encryption_keys=K1)
    _people(db, brand, clock, 2, campaign_id)
    # K1 dropped from the list (and the secret changed, so no derived key opens it either).
    ring = _set(env, encryption_keys=K2, secret_key=S2)
    with pytest.raises(RotationError, match="put the key it was written with back"):
        _run(db, ring)

    result = runner.invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "opens with none of the configured keys" in result.output


def test_a_malformed_key_is_a_configuration_error(env: pytest.MonkeyPatch, db: Database) -> None:
    env.setenv("IM2_ENCRYPTION_KEYS", f"{K2},not-a-key")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 2
    assert "IM2_ENCRYPTION_KEYS: each key must be 32 bytes" in result.output
    assert K2 not in result.output  # a key is never printed


def test_the_command_reports_its_counts(
    env: pytest.MonkeyPatch,
    db: Database,
    brand: Brand,
    clock: ManualClock,
    campaign_id: int,
) -> None:
    _set(env, encryption_keys=K1)
    _people(db, brand, clock, 3, campaign_id)
    _set(env, encryption_keys=f"{K2},{K1}")
    first = runner.invoke(cli, ["keys", "rotate", "--batch-size", "2"])
    assert first.exit_code == 0, first.output
    assert "participants.verified_phone: 3 values, 3 re-encrypted" in first.output
    second = runner.invoke(cli, ["keys", "rotate"])
    assert "participants.verified_phone: 3 values, 0 re-encrypted" in second.output
    fresh = runner.invoke(cli, ["keys", "new"])
    assert Fernet(fresh.output.strip().encode())
    assert keyring_from(get_settings()).encryption[0] is not None

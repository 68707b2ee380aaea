"""Personal fields at rest: a verified phone and e-mail, the first IP and the user agent are
never in the database in plain text, yet the participant and the services read them back;
the anti-fraud count by IP still works through the keyed hash; the migration encrypts rows
that were written in plain text and its downgrade decrypts them."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, make_url, select, text

from im2.config import Environment, Settings, get_settings
from im2.crypto import Keyring, keyring
from im2.db import Database
from im2.migrations import downgrade, upgrade
from im2.participation import service as participation
from im2.participation.models import Participant
from im2.participation.senders import MemorySender
from tests.conftest import Brand
from tests.test_polls import live_campaign, vote_url

PHONE = "13912345678"
EMAIL = "secret.lin@example.com"
IP = "203.0.113.77"
AGENT = "Mozilla/5.0 (IM2-test-agent; QX-9931)"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=database_url,
        run_scheduler=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        trust_forwarded_for=True,
    )


@pytest.fixture
def outbox(app: FastAPI) -> MemorySender:
    sender = MemorySender()
    app.state.code_sender = sender
    return sender


def _post(client: TestClient, slug: str, action: str, data: dict[str, str]) -> object:
    page = client.get(f"/c/{slug}/me" + ("?sent=" + data["channel"] if action == "verify" else ""))
    forms = re.findall(r"<form\b.*?</form>", page.text, flags=re.S)
    form = next(f for f in forms if f'action="/c/{slug}/me/{action}"' in f)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    response = client.post(
        f"/c/{slug}/me/{action}",
        data={**data, "csrf_token": token.group(1)},
        headers={"X-Forwarded-For": IP, "User-Agent": AGENT},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


def _verified_participant(client: TestClient, brand: Brand, outbox: MemorySender) -> str:
    """A participant who voted from IP/AGENT and verified PHONE and EMAIL; their campaign slug."""
    slug, activity_id, options = live_campaign(client, brand)
    voted = client.post(
        vote_url(slug, activity_id),
        json={"options": [options[0]], "consent": True},
        headers={"X-Forwarded-For": IP, "User-Agent": AGENT},
    )
    assert voted.status_code == 201, voted.text
    for channel, destination in (("phone", PHONE), ("email", EMAIL)):
        _post(client, slug, "code", {"channel": channel, "destination": destination})
        _post(client, slug, "verify", {"channel": channel, "code": outbox.sent[-1][2]})
    return slug


def _raw_dump(db: Database) -> str:
    """Every row of every table as the database returns it, without the ORM's types."""
    parts: list[str] = []
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def _sqlite_bytes(db: Database) -> bytes:
    """The database file and its WAL as bytes on disk, read by `cat`: a plain `open()` here
    would release this process's SQLite locks (see `_sqlite_locks_held` in conftest)."""
    path = Path(str(db.engine.url.database))
    with db.engine.begin() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    wal = path.with_name(path.name + "-wal")
    files = [str(path)] + ([str(wal)] if wal.exists() else [])
    return subprocess.run(["cat", *files], capture_output=True, check=True).stdout


def test_the_database_holds_no_plain_phone_email_ip_or_agent(
    client: TestClient, brand: Brand, db: Database, outbox: MemorySender
) -> None:
    slug = _verified_participant(client, brand, outbox)

    dump = _raw_dump(db)
    for plain in (PHONE, EMAIL, IP, AGENT, "QX-9931", "12345678"):
        assert plain not in dump, plain
    if db.dialect == "sqlite":
        raw = _sqlite_bytes(db)
        for plain in (PHONE, EMAIL, IP, "QX-9931"):
            assert plain.encode() not in raw, plain

    # ... yet the participant sees their own phone and e-mail, and services read plain values.
    page = client.get(f"/c/{slug}/me").text
    assert PHONE in page
    assert EMAIL in page
    with db.session() as session:
        row = session.scalars(select(Participant)).one()
        assert (row.verified_phone, row.verified_email, row.first_ip, row.user_agent) == (
            PHONE,
            EMAIL,
            IP,
            AGENT,
        )
        assert row.first_ip_hash is not None
        assert IP not in row.first_ip_hash


def test_the_count_of_new_identities_per_ip_uses_the_hash(
    client: TestClient, brand: Brand, db: Database
) -> None:
    slug, activity_id, options = live_campaign(client, brand)
    for n in range(3):
        client.cookies.clear()
        ip = IP if n < 2 else "198.51.100.1"
        voted = client.post(
            vote_url(slug, activity_id),
            json={"options": [options[0]], "consent": True},
            headers={"X-Forwarded-For": ip},
        )
        assert voted.status_code == 201, voted.text
    with db.session() as session:
        counts = participation.identities_from_ips(
            session,
            workspace_id=brand.workspace_id,
            ips=[IP, "198.51.100.1", "192.0.2.9"],
            since=datetime(2000, 1, 1, tzinfo=UTC),
        )
    assert counts == {IP: 2, "198.51.100.1": 1}


def test_an_encrypted_column_cannot_be_filtered_by_its_plain_value() -> None:
    with pytest.raises(TypeError, match="keyed-hash column"):
        select(Participant).where(Participant.verified_phone == PHONE)
    with pytest.raises(TypeError, match="keyed-hash column"):
        select(Participant).where(Participant.first_ip.in_([IP]))
    # Whether there is a value is not secret.
    assert "IS NULL" in str(select(Participant).where(Participant.verified_phone.is_(None)))


def test_values_round_trip_and_each_write_differs() -> None:
    ring = keyring()
    for plain in (PHONE, EMAIL, "2001:db8::1", "王小明的手机 📱", ""):
        first, second = ring.encrypt(plain), ring.encrypt(plain)
        assert first != second  # a random IV each time: equal values are not linkable
        assert ring.decrypt(first) == plain == ring.decrypt(second)


def test_a_malformed_key_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="IM2_ENCRYPTION_KEYS: each key must be 32 bytes"):
        Settings(encryption_keys="not-a-key")  # type: ignore[arg-type]
    good = Keyring.build(encryption_keys=[], secret="x" * 40, previous_secrets=[])
    assert good.derived


# --- the migration ---------------------------------------------------------------------------

BEFORE = "54740ec16f3b"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get("IM2_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'before-encryption.db'}"
        return
    base = make_url(url)
    name = f"{base.database}_crypto_migration"
    admin = Database(url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_migration_encrypts_existing_rows_and_the_downgrade_decrypts(
    fresh_url: str,
) -> None:
    upgrade(fresh_url, BEFORE)
    db = Database(fresh_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, name, timezone, created_at) "
                    "VALUES (1, 'b', 'B', 'Asia/Shanghai', :t)"
                ),
                {"t": T0},
            )
            for pid in range(1, 2502):  # more than one batch
                conn.execute(
                    text(
                        "INSERT INTO participants (id, workspace_id, device_id, consent_version, "
                        "consent_at, created_at, first_ip, user_agent, verified_phone, "
                        "verified_email) VALUES (:id, 1, :device, '2026-03', :t, :t, :ip, :ua, "
                        ":phone, :email)"
                    ),
                    {
                        "id": pid,
                        "device": f"dev-{pid}",
                        "t": T0 + timedelta(seconds=pid),
                        "ip": IP if pid % 2 else None,
                        "ua": AGENT,
                        "phone": PHONE if pid == 7 else None,
                        "email": EMAIL if pid == 2500 else None,
                    },
                )
            conn.execute(
                text(
                    "INSERT INTO participant_codes (participant_id, channel, destination, "
                    "code_hash, created_at, expires_at, attempts) "
                    "VALUES (7, 'phone', :d, 'h', :t, :t, 0)"
                ),
                {"d": PHONE, "t": T0},
            )
        upgrade(fresh_url)
        dump = _raw_dump(db)
        for plain in (PHONE, EMAIL, IP, AGENT):
            assert plain not in dump, plain
        with db.session() as session:
            assert session.get(Participant, 7).verified_phone == PHONE  # type: ignore[union-attr]
            assert session.get(Participant, 2500).verified_email == EMAIL  # type: ignore[union-attr]
            counts = participation.identities_from_ips(session, workspace_id=1, ips=[IP], since=T0)
        assert counts == {IP: 1251}

        upgrade(fresh_url)  # nothing to do: already at the head
        downgrade(fresh_url, BEFORE)
        with db.engine.connect() as conn:
            phone = conn.scalar(text("SELECT verified_phone FROM participants WHERE id = 7"))
            ips = conn.scalar(
                text("SELECT count(*) FROM participants WHERE first_ip = :ip"), {"ip": IP}
            )
            code = conn.scalar(text("SELECT destination FROM participant_codes"))
        assert (phone, ips, code) == (PHONE, 1251, PHONE)
    finally:
        db.dispose()
    get_settings.cache_clear()

"""The people migration gives every existing participant a person; participants who verified
the same phone or e-mail are one person; new people continue after the backfilled ids."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from im2.db import Database
from im2.migrations import MIGRATIONS_DIR, upgrade
from im2.people.schemas import IdentityKind
from im2.people.service import identity_hash

BEFORE = "44f4790748d3"
SECRET = "migration-test-secret-0123456789-abcdefghijkl"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL database next to the test one."""
    url = os.environ.get("IM2_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'before-people.db'}"
        return
    base = make_url(url)
    name = f"{base.database}_people_migration"
    admin = Database(url)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _participant(
    conn, pid: int, ws: int, device: str, minute: int, phone: str | None, email: str | None
) -> None:
    when = T0.replace(minute=minute)
    conn.execute(
        text(
            "INSERT INTO participants (id, workspace_id, device_id, consent_version, consent_at, "
            "created_at, verified_phone, verified_email) "
            "VALUES (:id, :ws, :device, '2026-03', :t, :t, :phone, :email)"
        ),
        {"id": pid, "ws": ws, "device": device, "t": when, "phone": phone, "email": email},
    )


def test_backfill_makes_one_person_per_human(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IM2_SECRET_KEY", SECRET)
    upgrade(fresh_url, BEFORE)
    db = Database(fresh_url)
    try:
        with db.engine.begin() as conn:
            for ws in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO workspaces (id, slug, name, timezone, created_at) "
                        "VALUES (:id, :slug, 'B', 'Asia/Shanghai', :t)"
                    ),
                    {"id": ws, "slug": f"b{ws}", "t": T0},
                )
            # Workspace 1: 10 and 11 share a phone, 11 and 12 an e-mail (one person of three);
            # 13 is alone. Workspace 2: the same phone is another brand's, another person.
            _participant(conn, 10, 1, "dev-a", 1, "13800138000", None)
            _participant(conn, 11, 1, "dev-b", 2, "13800138000", "lin@example.com")
            _participant(conn, 12, 1, "dev-c", 3, None, "lin@example.com")
            _participant(conn, 13, 1, "dev-d", 4, None, None)
            _participant(conn, 20, 2, "dev-a", 5, "13800138000", None)
        upgrade(fresh_url)
        with db.engine.connect() as conn:
            people = conn.execute(
                text("SELECT id, workspace_id, several_actors FROM people ORDER BY id")
            ).all()
            identities = conn.execute(
                text(
                    "SELECT person_id, kind, value, hint FROM person_identities "
                    "ORDER BY person_id, kind, value"
                )
            ).all()
            merges = conn.execute(text("SELECT count(*) FROM person_merges")).scalar()
        assert [tuple(p) for p in people] == [(10, 1, True), (13, 1, False), (20, 2, False)]
        by_person: dict[int, list[tuple[str, str, str | None]]] = {}
        for person, kind, value, hint in identities:
            by_person.setdefault(person, []).append((kind, value, hint))
        phone_hash = identity_hash(secret=SECRET, kind=IdentityKind.PHONE, value="13800138000")
        mail_hash = identity_hash(secret=SECRET, kind=IdentityKind.EMAIL, value="lin@example.com")
        assert sorted(by_person[10]) == sorted(
            [
                ("device", "dev-a", None),
                ("device", "dev-b", None),
                ("device", "dev-c", None),
                ("participant", "10", None),
                ("participant", "11", None),
                ("participant", "12", None),
                ("phone", phone_hash, "138****8000"),
                ("email", mail_hash, "l***@example.com"),
            ]
        )
        assert sorted(by_person[13]) == [("device", "dev-d", None), ("participant", "13", None)]
        assert sorted(by_person[20]) == [
            ("device", "dev-a", None),
            ("participant", "20", None),
            ("phone", phone_hash, "138****8000"),
        ]
        assert merges == 0
        # New people continue after the backfilled ids.
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO people (workspace_id, created_at, several_actors) "
                    "VALUES (1, :t, :no)"
                ),
                {"t": T0, "no": False},
            )
            assert conn.execute(text("SELECT max(id) FROM people")).scalar() == 21
    finally:
        db.dispose()


def test_the_migration_hashes_as_the_service_does() -> None:
    path = next((MIGRATIONS_DIR / "versions").glob("*-f41b81b6db0c_*.py"))
    spec = importlib.util.spec_from_file_location("people_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for kind, value in ((IdentityKind.PHONE, "+8613800138000"), (IdentityKind.EMAIL, "a@b.cn")):
        assert module.identity_hash(SECRET, kind.value, value) == identity_hash(
            secret=SECRET, kind=kind, value=value
        )

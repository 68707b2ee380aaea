"""Migrations: one head, an empty database upgrades, and the models do not drift from it."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from im2.db import Database
from im2.migrations import MIGRATIONS_DIR, alembic_config, all_metadata, downgrade, upgrade


def test_one_head_and_dated_files() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        assert re.match(r"^\d{4}_\d{2}_\d{2}_\d{4}-[0-9a-f]+_\w+\.py$", path.name), path.name


def test_models_match_migrations(database_url: str) -> None:
    """`database_url` is the migrated test database (SQLite, or PostgreSQL in CI)."""
    db = Database(database_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), all_metadata()
        )
    db.dispose()
    assert diff == []


def test_empty_sqlite_upgrades_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)
    db = Database(url)
    with db.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        fks = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
        tables = {
            r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        }
    db.dispose()
    assert mode == "wal"
    assert fks == 1
    assert {"workspaces", "users", "campaigns", "events", "audit_entries"} <= tables

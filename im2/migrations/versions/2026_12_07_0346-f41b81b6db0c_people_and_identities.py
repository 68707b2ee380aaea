"""people: persons, their identities and merges; every existing participant gets a person

A person per workspace has identities (device, participant, verified phone and e-mail as a
keyed hash, share code, CRM id, WeChat OpenID; unique per workspace and kind), and merges
record what moved and why (docs/people.md).

Data: each existing participant becomes a person with their device and participant as
identities. Participants who verified the same phone or e-mail in a workspace are one person
from the start (the oldest participant's person; no merge is recorded, as they were never two
people in this table). A person's id is the id of their oldest participant, so the backfill
writes in bulk without reading ids back. The phone and e-mail hashes use the settings' secret
(IM2_SECRET_KEY, as `im2 migrate` reads it); the hash function is copied below so that this
revision keeps meaning what it meant (tests/people/test_migration.py checks it still equals
im2.people.service.identity_hash).

Revision ID: f41b81b6db0c
Revises: 44f4790748d3
Create Date: 2026-12-07 03:46:32.671308
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import im2.db

revision: str = "f41b81b6db0c"
down_revision: str | None = "44f4790748d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("several_actors", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["people.id"],
            name=op.f("fk_people_merged_into_id_people"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_people_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(
            "ix_people_workspace_merged", ["workspace_id", "merged_into_id"], unique=False
        )
        batch_op.create_index(
            "ix_people_workspace_several", ["workspace_id", "several_actors"], unique=False
        )

    op.create_table(
        "person_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("hint", sa.String(length=64), nullable=True),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_person_identities_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_person_identities_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_identities")),
        sa.UniqueConstraint(
            "workspace_id",
            "kind",
            "value",
            name=op.f("uq_person_identities_workspace_id_kind_value"),
        ),
    )
    with op.batch_alter_table("person_identities", schema=None) as batch_op:
        batch_op.create_index("ix_person_identities_person", ["person_id"], unique=False)

    op.create_table(
        "person_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("kept_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("identity_kind", sa.String(length=16), nullable=True),
        sa.Column("identity_hint", sa.String(length=64), nullable=True),
        sa.Column("moved_identity_ids", sa.JSON(), nullable=False),
        sa.Column("moved_participant_ids", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("created_at", im2.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_at", im2.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["kept_id"],
            ["people.id"],
            name=op.f("fk_person_merges_kept_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merged_id"],
            ["people.id"],
            name=op.f("fk_person_merges_merged_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_person_merges_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_merges")),
    )
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.create_index("ix_person_merges_kept", ["kept_id"], unique=False)
        batch_op.create_index("ix_person_merges_merged", ["merged_id"], unique=False)
        batch_op.create_index(
            "ix_person_merges_workspace_created", ["workspace_id", "created_at"], unique=False
        )

    _backfill()


_KEY_CONTEXT = b"im2/people/identity-lookup/v1"
_BATCH = 5000


def identity_hash(secret: str, kind: str, value: str) -> str:
    """im2.people.service.identity_hash as of this revision."""
    key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _mask(kind: str, value: str) -> str:
    if kind == "email":
        local, _sep, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"[:64]
    return (value[:3] + "****" + value[-4:]) if len(value) > 7 else "****"


def _backfill() -> None:
    bind = op.get_bind()
    participants = sa.table(
        "participants",
        sa.column("id", sa.Integer),
        sa.column("workspace_id", sa.Integer),
        sa.column("device_id", sa.String),
        sa.column("created_at", im2.db.UTCDateTime(timezone=True)),
        sa.column("verified_email", sa.String),
        sa.column("verified_phone", sa.String),
    )
    rows = bind.execute(
        sa.select(participants).order_by(
            participants.c.workspace_id, participants.c.created_at, participants.c.id
        )
    ).all()
    if not rows:
        return
    secret: str | None = None
    if any(r.verified_email or r.verified_phone for r in rows):
        from im2.config import Settings

        secret = Settings().secret_key.get_secret_value()
    # Union-find over participants sharing a verified value in a workspace; the root is the
    # oldest (rows come oldest first, and the earlier root always wins).
    root: dict[int, int] = {}

    def find(pid: int) -> int:
        while root[pid] != pid:
            root[pid] = root[root[pid]]
            pid = root[pid]
        return pid

    order = {r.id: i for i, r in enumerate(rows)}
    first_with: dict[tuple[int, str, str], int] = {}
    for r in rows:
        root[r.id] = r.id
        for kind, value in (("phone", r.verified_phone), ("email", r.verified_email)):
            if not value:
                continue
            seen = first_with.setdefault((r.workspace_id, kind, value), r.id)
            a, b = find(seen), find(r.id)
            if a != b:
                older, newer = (a, b) if order[a] < order[b] else (b, a)
                root[newer] = older
    by_id = {r.id: r for r in rows}
    members: dict[int, int] = {}
    for r in rows:
        members[find(r.id)] = members.get(find(r.id), 0) + 1
    people: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    hashed: set[tuple[int, str, str]] = set()
    for r in rows:
        person = find(r.id)
        if person == r.id:
            people.append(
                {
                    "id": r.id,
                    "workspace_id": r.workspace_id,
                    "created_at": r.created_at,
                    "several_actors": members[person] > 1,
                }
            )
        for kind, value in (("device", r.device_id), ("participant", str(r.id))):
            identities.append(
                {
                    "workspace_id": r.workspace_id,
                    "person_id": person,
                    "kind": kind,
                    "value": value,
                    "hint": None,
                    "created_at": r.created_at,
                }
            )
        for kind, value in (("phone", r.verified_phone), ("email", r.verified_email)):
            if not value or (r.workspace_id, kind, value) in hashed:
                continue
            hashed.add((r.workspace_id, kind, value))
            assert secret is not None
            identities.append(
                {
                    "workspace_id": r.workspace_id,
                    "person_id": person,
                    "kind": kind,
                    "value": identity_hash(secret, kind, value),
                    "hint": _mask(kind, value),
                    "created_at": by_id[person].created_at,
                }
            )
    people_table = sa.table(
        "people",
        sa.column("id", sa.Integer),
        sa.column("workspace_id", sa.Integer),
        sa.column("created_at", im2.db.UTCDateTime(timezone=True)),
        sa.column("several_actors", sa.Boolean),
    )
    identity_table = sa.table(
        "person_identities",
        sa.column("workspace_id", sa.Integer),
        sa.column("person_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
        sa.column("hint", sa.String),
        sa.column("created_at", im2.db.UTCDateTime(timezone=True)),
    )
    for start in range(0, len(people), _BATCH):
        bind.execute(people_table.insert(), people[start : start + _BATCH])
    for start in range(0, len(identities), _BATCH):
        bind.execute(identity_table.insert(), identities[start : start + _BATCH])
    if bind.dialect.name == "postgresql":
        # Ids were given explicitly: new people continue after the largest.
        bind.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('people', 'id'), "
                "(SELECT max(id) FROM people))"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("person_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_person_merges_workspace_created")
        batch_op.drop_index("ix_person_merges_merged")
        batch_op.drop_index("ix_person_merges_kept")

    op.drop_table("person_merges")
    with op.batch_alter_table("person_identities", schema=None) as batch_op:
        batch_op.drop_index("ix_person_identities_person")

    op.drop_table("person_identities")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_workspace_several")
        batch_op.drop_index("ix_people_workspace_merged")

    op.drop_table("people")

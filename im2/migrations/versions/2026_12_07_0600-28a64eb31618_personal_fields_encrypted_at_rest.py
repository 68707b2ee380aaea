"""personal fields encrypted at rest: phones, e-mails, first IPs, user agents, code destinations

`participants.verified_phone`, `verified_email`, `first_ip`, `user_agent` and
`participant_codes.destination` hold Fernet tokens (im2/crypto.py), in VARCHAR without a length
on PostgreSQL (SQLite does not enforce lengths, and its columns are left as they are: see
upgrade). The first IP gets a keyed-hash column, `first_ip_hash`, which the anti-fraud count by
IP uses instead of the plain address (the index moves to it).

Data: existing rows are encrypted in batches of 2,000 with the keys `im2 migrate` reads
(IM2_ENCRYPTION_KEYS, else the key derived from IM2_SECRET_KEY). A value that already opens
with those keys is left alone, so a run that stopped part way can simply be run again. The
downgrade decrypts every value back to plain text.

Revision ID: 28a64eb31618
Revises: 54740ec16f3b
Create Date: 2026-12-07 06:00:12.000000
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from im2.crypto import IP_PURPOSE, Keyring, Undecryptable, keyring

revision: str = "28a64eb31618"
down_revision: str | None = "54740ec16f3b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2000

_PARTICIPANT_FIELDS = {
    "first_ip": sa.String(length=45),
    "user_agent": sa.String(length=255),
    "verified_email": sa.String(length=254),
    "verified_phone": sa.String(length=32),
}


def upgrade() -> None:
    # Plain ALTERs, never a batch: on SQLite a batch copies `participants` into a new table
    # and drops the old one, and with foreign keys on (im2.db) that drop deletes every row
    # that references a participant (ON DELETE CASCADE). SQLite does not enforce VARCHAR
    # lengths, so only PostgreSQL needs the wider type for the tokens.
    if op.get_bind().dialect.name == "postgresql":
        for name, old in _PARTICIPANT_FIELDS.items():
            op.alter_column(
                "participants", name, existing_type=old, type_=sa.String(), existing_nullable=True
            )
        op.alter_column(
            "participant_codes",
            "destination",
            existing_type=sa.String(length=254),
            type_=sa.String(),
            existing_nullable=False,
        )
    op.add_column("participants", sa.Column("first_ip_hash", sa.String(length=64), nullable=True))
    op.drop_index("ix_participants_workspace_ip_created", table_name="participants")
    op.create_index(
        "ix_participants_workspace_ip_hash_created",
        "participants",
        ["workspace_id", "first_ip_hash", "created_at"],
        unique=False,
    )

    ring = keyring()

    def encrypt(value: str) -> str:
        plain = _plain(ring, value)
        # A value that opens is encrypted already (a run that stopped part way).
        return ring.encrypt(value) if plain == value else value

    _rewrite("participants", list(_PARTICIPANT_FIELDS), encrypt, hash_ip=ring)
    _rewrite("participant_codes", ["destination"], encrypt)


def downgrade() -> None:
    ring = keyring()

    def decrypt(value: str) -> str:
        return _plain(ring, value)

    _rewrite("participants", list(_PARTICIPANT_FIELDS), decrypt)
    _rewrite("participant_codes", ["destination"], decrypt)

    op.drop_index("ix_participants_workspace_ip_hash_created", table_name="participants")
    op.create_index(
        "ix_participants_workspace_ip_created",
        "participants",
        ["workspace_id", "first_ip", "created_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "sqlite":
        # DROP COLUMN is native since SQLite 3.35 (no table copy, so no cascade: see upgrade).
        op.execute("ALTER TABLE participants DROP COLUMN first_ip_hash")
        return
    op.drop_column("participants", "first_ip_hash")
    op.alter_column(
        "participant_codes",
        "destination",
        existing_type=sa.String(),
        type_=sa.String(length=254),
        existing_nullable=False,
    )
    for name, old in _PARTICIPANT_FIELDS.items():
        op.alter_column(
            "participants", name, existing_type=sa.String(), type_=old, existing_nullable=True
        )


def _plain(ring: Keyring, value: str) -> str:
    try:
        return ring.decrypt(value)
    except Undecryptable:
        return value  # the plain value, not encrypted yet


def _rewrite(
    table_name: str,
    fields: list[str],
    change: Callable[[str], str],
    *,
    hash_ip: Keyring | None = None,
) -> None:
    """Apply `change` to every non-null value of `fields`, in batches by id (and set
    `first_ip_hash` from the plain first IP when `hash_ip` is given)."""
    bind = op.get_bind()
    columns: list[sa.sql.expression.ColumnClause[Any]] = [
        sa.column("id", sa.Integer),
        *(sa.column(f, sa.Text) for f in fields),
    ]
    if hash_ip is not None:
        columns.append(sa.column("first_ip_hash", sa.String))
    table = sa.table(table_name, *columns)
    after = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, *(table.c[f] for f in fields))
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for row in rows:
            values = dict(zip(fields, row[1:], strict=True))
            new = {f: (None if v is None else change(v)) for f, v in values.items()}
            if hash_ip is not None:
                ip = values.get("first_ip")
                new["first_ip_hash"] = (
                    None if ip is None else hash_ip.lookup_hash(IP_PURPOSE, _plain(hash_ip, ip))
                )
            if new != values or hash_ip is not None:
                updates.append({"row_id": row[0], **{f"v_{k}": v for k, v in new.items()}})
        if updates:
            targets = list(fields) + (["first_ip_hash"] if hash_ip is not None else [])
            bind.execute(
                table.update()
                .where(table.c.id == sa.bindparam("row_id"))
                .values({k: sa.bindparam(f"v_{k}") for k in targets}),
                updates,
            )
        after = rows[-1][0]

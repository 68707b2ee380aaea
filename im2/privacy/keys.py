"""`im2 keys rotate`: every encrypted value under the newest key, every keyed hash under the
current secret.

What it walks is found, not listed: every column of type `im2.crypto.Encrypted` in any
domain's tables, and beside it the keyed-hash column its `info` names (`hashed_by`). Then the
identities' lookup hashes of phones and e-mails (`person_identities.value`), when
IM2_PREVIOUS_SECRET_KEYS says the secret changed: a hash cannot be turned back into its value,
so each known plain value (participants' verified phones and e-mails and the code destinations,
decrypted) is hashed under every previous secret to find its row, and under the current one to
replace it.

Batches of `batch_size` rows commit one by one, in id order. A value already under the newest
key (or a hash already current) is left alone, so the command is idempotent, and after a crash
a second run finishes the work the first did not. A row that a request changed between the
read and the write is left to that request (the UPDATE checks the old token): the request
wrote it under the newest key already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import typer
from rich.console import Console

from im2.crypto import Encrypted, Keyring, Undecryptable, keyring_from, new_key, split_keys
from im2.db import Base, Database
from im2.domains import import_domain_modules
from im2.people.schemas import HASHED_KINDS, IdentityKind
from im2.people.service import identity_hash

DEFAULT_BATCH = 1000


class RotationError(Exception):
    """A value no configured key opens: the message says which and what to do."""


@dataclass(frozen=True)
class EncryptedTable:
    name: str
    columns: tuple[str, ...]
    hashes: dict[str, tuple[str, str]]  # encrypted column -> (hash column, purpose)


@dataclass
class RotationReport:
    """What a run did: per `table.column`, values checked and rewritten; identity hashes."""

    checked: dict[str, int] = field(default_factory=dict)
    reencrypted: dict[str, int] = field(default_factory=dict)
    rehashed: dict[str, int] = field(default_factory=dict)
    raced: int = 0  # rows a request changed meanwhile (left to it)
    identities_rehashed: int = 0
    identities_conflicting: int = 0  # the new hash is already another row's (left as is)
    identities_unknown: int = 0  # hashed identities whose plain value is nowhere to be found

    def add(self, counter: dict[str, int], key: str, n: int = 1) -> None:
        counter[key] = counter.get(key, 0) + n


def encrypted_tables() -> list[EncryptedTable]:
    """Every table with an encrypted column, as the models declare them."""
    import_domain_modules("models")
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, Encrypted)]
        if not columns:
            continue
        if "id" not in table.columns:
            raise RuntimeError(f"{table.name} has encrypted columns but no integer id")
        hashes = {c.name: c.info["lookup_hash"] for c in columns if "lookup_hash" in c.info}
        found.append(EncryptedTable(table.name, tuple(c.name for c in columns), hashes))
    return found


def rotate(
    db: Database,
    *,
    ring: Keyring,
    secret: str,
    previous_secrets: list[str],
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[str, int], None] | None = None,
) -> RotationReport:
    """Re-encrypt and re-hash everything (see the module's docstring). `on_batch(table, rows)`
    is called after each committed batch."""
    report = RotationReport()
    for table in encrypted_tables():
        _rotate_table(db, table, ring=ring, batch_size=batch_size, report=report, on_batch=on_batch)
    if previous_secrets:
        _rehash_identities(
            db,
            ring=ring,
            secret=secret,
            previous_secrets=previous_secrets,
            batch_size=batch_size,
            report=report,
            on_batch=on_batch,
        )
    return report


def _raw(table: EncryptedTable) -> sa.TableClause:
    """The table with its encrypted columns as plain strings: the tokens, not the values."""
    names = [*table.columns, *(h for h, _p in table.hashes.values())]
    return sa.table(
        table.name, sa.column("id", sa.Integer), *(sa.column(n, sa.String) for n in names)
    )


def _open(ring: Keyring, token: str, *, where: str) -> str:
    try:
        return ring.decrypt(token)
    except Undecryptable:
        raise RotationError(
            f"{where} opens with none of the configured keys: put the key it was written "
            "with back at the end of IM2_ENCRYPTION_KEYS (or its secret in "
            "IM2_PREVIOUS_SECRET_KEYS) and run `im2 keys rotate` again"
        ) from None


def _rotate_table(
    db: Database,
    table: EncryptedTable,
    *,
    ring: Keyring,
    batch_size: int,
    report: RotationReport,
    on_batch: Callable[[str, int], None] | None,
) -> None:
    raw = _raw(table)
    hash_columns = [h for h, _p in table.hashes.values()]
    after = 0
    while True:
        with db.transaction() as session:
            connection = session.connection()
            rows = connection.execute(
                sa.select(raw.c.id, *(raw.c[n] for n in (*table.columns, *hash_columns)))
                .where(raw.c.id > after)
                .order_by(raw.c.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return
            for row in rows:
                _rotate_row(connection, raw, table, row._mapping, ring=ring, report=report)
            after = int(rows[-1][0])
        if on_batch is not None:
            on_batch(table.name, len(rows))


def _rotate_row(
    connection: sa.Connection,
    raw: sa.TableClause,
    table: EncryptedTable,
    row: Any,
    *,
    ring: Keyring,
    report: RotationReport,
) -> None:
    changes: dict[str, str | None] = {}
    for name in table.columns:
        token = row[name]
        key = f"{table.name}.{name}"
        if token is None:
            continue
        report.add(report.checked, key)
        current = ring.is_current(token)
        plain = None
        if not current:
            plain = _open(ring, token, where=f"{key} of row {row['id']}")
            changes[name] = ring.encrypt(plain)
            report.add(report.reencrypted, key)
        if name in table.hashes:
            hash_column, purpose = table.hashes[name]
            plain = plain if plain is not None else ring.decrypt(token)
            wanted = ring.lookup_hash(purpose, plain)
            if row[hash_column] != wanted:
                changes[hash_column] = wanted
                report.add(report.rehashed, f"{table.name}.{hash_column}")
    if not changes:
        return
    # Only if nobody changed the row since it was read (a request wrote the newest key then).
    unchanged = [raw.c[n] == row[n] for n in table.columns if n in changes]
    done = connection.execute(
        sa.update(raw).where(raw.c.id == row["id"], *unchanged).values(changes)
    )
    if done.rowcount == 0:
        report.raced += 1


def _known_values(db: Database, ring: Keyring) -> set[tuple[IdentityKind, str]]:
    """Every plain phone and e-mail IM2 still has, from participants and codes."""
    participants = sa.table(
        "participants",
        sa.column("verified_phone", sa.String),
        sa.column("verified_email", sa.String),
    )
    codes = sa.table(
        "participant_codes", sa.column("channel", sa.String), sa.column("destination", sa.String)
    )
    found: set[tuple[IdentityKind, str]] = set()
    with db.session() as session:
        for phone, email in session.execute(sa.select(participants)):
            if phone is not None:
                found.add((IdentityKind.PHONE, ring.decrypt(phone)))
            if email is not None:
                found.add((IdentityKind.EMAIL, ring.decrypt(email)))
        for channel, destination in session.execute(sa.select(codes)):
            if channel in (IdentityKind.PHONE.value, IdentityKind.EMAIL.value):
                found.add((IdentityKind(channel), ring.decrypt(destination)))
    return found


def _rehash_identities(
    db: Database,
    *,
    ring: Keyring,
    secret: str,
    previous_secrets: list[str],
    batch_size: int,
    report: RotationReport,
    on_batch: Callable[[str, int], None] | None,
) -> None:
    replace: dict[tuple[str, str], str] = {}  # (kind, old hash) -> new hash
    current: set[str] = set()
    for kind, value in _known_values(db, ring):
        new = identity_hash(secret=secret, kind=kind, value=value)
        current.add(new)
        for old_secret in previous_secrets:
            old = identity_hash(secret=old_secret, kind=kind, value=value)
            if old != new:
                replace[(kind.value, old)] = new
    identities = sa.table(
        "person_identities",
        sa.column("id", sa.Integer),
        sa.column("workspace_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
    )
    kinds = sorted(k.value for k in HASHED_KINDS)
    after = 0
    while True:
        with db.transaction() as session:
            connection = session.connection()
            rows = connection.execute(
                sa.select(identities)
                .where(identities.c.id > after, identities.c.kind.in_(kinds))
                .order_by(identities.c.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return
            for row_id, workspace_id, kind, value in rows:
                if (kind, value) not in replace:
                    if value not in current:
                        report.identities_unknown += 1
                    continue
                new = replace[(kind, value)]
                taken = connection.scalar(
                    sa.select(identities.c.id).where(
                        identities.c.workspace_id == workspace_id,
                        identities.c.kind == kind,
                        identities.c.value == new,
                    )
                )
                if taken is not None:
                    report.identities_conflicting += 1
                    continue
                connection.execute(
                    sa.update(identities)
                    .where(identities.c.id == row_id, identities.c.value == value)
                    .values(value=new)
                )
                report.identities_rehashed += 1
            after = int(rows[-1][0])
        if on_batch is not None:
            on_batch("person_identities", len(rows))


# --- the command -------------------------------------------------------------------------------

app = typer.Typer(
    help="Encryption keys of personal fields (docs/security.md).", no_args_is_help=True
)
err = Console(stderr=True)
out = Console()


@app.command("new")
def new_command() -> None:
    """Print a new random key, to put first in IM2_ENCRYPTION_KEYS."""
    out.print(new_key(), highlight=False)


@app.command("rotate")
def rotate_command(
    batch_size: int = typer.Option(
        DEFAULT_BATCH, min=1, max=100_000, help="Rows per committed batch."
    ),
) -> None:
    """Re-encrypt every personal field under the newest key and re-hash the lookup hashes under
    the current secret, in batches; safe to run again, and after a crash."""
    from im2.cli_env import command_database, command_settings
    from im2.crypto import KeyConfigError

    settings = command_settings()
    try:
        ring = keyring_from(settings)
    except KeyConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None
    previous = settings.previous_secret_keys
    with command_database() as db:
        try:
            report = rotate(
                db,
                ring=ring,
                secret=settings.secret_key.get_secret_value(),
                previous_secrets=split_keys(previous.get_secret_value() if previous else None),
                batch_size=batch_size,
            )
        except RotationError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    for key, checked in sorted(report.checked.items()):
        out.print(
            f"{key}: {checked:,} values, {report.reencrypted.get(key, 0):,} re-encrypted",
            highlight=False,
        )
    for key, n in sorted(report.rehashed.items()):
        out.print(f"{key}: {n:,} re-hashed", highlight=False)
    out.print(
        f"person_identities: {report.identities_rehashed:,} re-hashed, "
        f"{report.identities_conflicting:,} left (the new hash was taken), "
        f"{report.identities_unknown:,} with no known value",
        highlight=False,
    )
    if report.raced:
        out.print(f"{report.raced:,} rows changed by requests meanwhile (already current)")

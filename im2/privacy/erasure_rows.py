"""The rows of one declared table that belong to the people erased (`im2.privacy.erasure`):
found (by their own columns or through an owned parent row), then anonymised (personal columns
cleared, identifiers replaced) or, for the people domain's profile tables, deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from im2.privacy.erasure_plan import CODE_CHARS, Counts, Fresh, Owners, chunks
from im2.privacy.inventory import EVENTS_TABLE, PersonKeys, declared_tables, row_clause, table_of
from im2.types import PeopleData


def cleared(table: Table, column: str) -> Any:
    """The value a cleared column gets: NULL where allowed, else an empty value of its type."""
    col = table.c[column]
    if col.nullable:
        return None
    if isinstance(col.type, JSON):
        return {}
    if isinstance(col.type, Integer):
        return 0
    return ""


def fresh_identity(table: Table, column: str, old: Any, fresh: Fresh) -> Any:
    if old is None:
        return None
    col = table.c[column]
    if isinstance(col.type, JSON):
        return [] if isinstance(old, list) else {}
    length = getattr(col.type, "length", None) or 32
    return "x" + fresh(str(old), CODE_CHARS, max(8, min(len(str(old)), length) - 1))


def owner_columns(data: PeopleData) -> tuple[str, ...]:
    """The column that says whose row it is: the first participant, person or device column."""
    for columns in (data.participant_columns, data.person_columns, data.device_columns):
        if columns:
            return columns[:1]
    return ()


def claim(found: dict[Any, int], pk: Any, owner: int) -> None:
    """A row named by several people of a group is the first one's (erased first, alone)."""
    found[pk] = min(found.get(pk, owner), owner)


def owned_by(
    session: Session, name: str, decls: list[PeopleData], keys: PersonKeys, owners: Owners
) -> dict[Any, int]:
    """The rows the group's people own (their first declared column is the person, or they
    are reached through an owned parent row): primary key → whose (position in the group)."""
    table = table_of(name)
    pk = next(iter(table.primary_key.columns))
    scope = [table.c.workspace_id == keys.workspace_id] if "workspace_id" in table.c else []
    found: dict[Any, int] = {}
    for data in decls:
        for column in owner_columns(data):
            whose = owners.of_column(data, column)
            for chunk in chunks(sorted(whose, key=str)):
                for key, value in session.execute(
                    select(pk, table.c[column]).where(*scope, table.c[column].in_(chunk))
                ):
                    claim(found, key, whose[value])
        if data.via is not None and not data.via.split("->")[1].startswith(EVENTS_TABLE + "."):
            column, target = data.via.split("->")
            parent_name, parent_column = target.split(".")
            parent = table_of(parent_name)
            parent_pk = next(iter(parent.primary_key.columns))
            parent_decls = declared_tables().get(parent_name, [])
            parent_owned = owned_by(session, parent_name, parent_decls, keys, owners)
            whose_value: dict[Any, int] = {}
            for chunk in chunks(sorted(parent_owned)):
                for parent_key, value in session.execute(
                    select(parent_pk, parent.c[parent_column]).where(parent_pk.in_(chunk))
                ):
                    if value is not None:
                        claim(whose_value, value, parent_owned[parent_key])
            for chunk in chunks(sorted(whose_value, key=str)):
                for key, value in session.execute(
                    select(pk, table.c[column]).where(*scope, table.c[column].in_(chunk))
                ):
                    claim(found, key, whose_value[value])
    return found


def anonymise_owned(
    session: Session, table: Table, decls: list[PeopleData], pks: list[Any], *, fresh: Fresh
) -> None:
    """Clear the personal columns and replace the identifiers of the people's own rows (with
    `fresh` random values)."""
    in_part = {c: keep for d in decls for c, keep in d.kept_in_part}
    personal = {c for d in decls for c in d.personal_columns} - set(in_part)
    identity = {c for d in decls for c in d.identity_columns}
    pk = next(iter(table.primary_key.columns))
    for chunk in chunks(pks):
        if personal:
            session.execute(
                update(table).where(pk.in_(chunk)).values({c: cleared(table, c) for c in personal})
            )
        if in_part:
            rows = session.execute(
                select(pk, *(table.c[c] for c in in_part)).where(pk.in_(chunk))
            ).all()
            update_each(
                session,
                table,
                [
                    (row[0], {c: keep(row._mapping[c]) for c, keep in in_part.items()})
                    for row in rows
                ],
            )
        if identity:
            rows = session.execute(
                select(pk, *(table.c[c] for c in sorted(identity))).where(pk.in_(chunk))
            ).all()
            update_each(
                session,
                table,
                [
                    (
                        row[0],
                        {
                            c: fresh_identity(table, c, row._mapping[c], fresh)
                            for c in sorted(identity)
                        },
                    )
                    for row in rows
                ],
            )


def update_each(session: Session, table: Table, changes: list[tuple[Any, dict[str, Any]]]) -> None:
    """One UPDATE statement run for many rows (executemany), each with its own values."""
    if not changes:
        return
    pk = next(iter(table.primary_key.columns))
    columns = sorted(changes[0][1])
    statement = (
        update(table)
        .where(pk == bindparam("_pk"))
        .values({c: bindparam(f"_v_{c}") for c in columns})
    )
    params = [{"_pk": key, **{f"_v_{c}": values[c] for c in columns}} for key, values in changes]
    session.connection().execute(statement, params)


def delete_profile(
    session: Session,
    name: str,
    decls: list[PeopleData],
    keys: PersonKeys,
    owners: Owners,
    counts: list[Counts],
) -> None:
    """The people's own rows of a people-domain table (identities, merges, tags, attributes),
    deleted; counted for the first person of the group any of the row's columns names."""
    table = table_of(name)
    pk = next(iter(table.primary_key.columns))
    clause = row_clause(name, keys)
    columns = [
        (data, c)
        for data in decls
        for c in (*data.participant_columns, *data.person_columns, *data.device_columns)
    ]
    whose: dict[Any, int] = {}
    if columns:
        for row in session.execute(select(pk, *(table.c[c] for _d, c in columns)).where(clause)):
            for (data, _c), value in zip(columns, row[1:], strict=True):
                owner = owners.of_column(data, _c).get(value)
                if owner is not None:
                    claim(whose, row[0], owner)
    session.execute(delete(table).where(clause))
    for i in range(len(counts)):
        counts[i].deleted[name] = 0
    for owner in whose.values():
        counts[owner].deleted[name] += 1

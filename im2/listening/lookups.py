"""The lookups of the import's hot path: which posts, fingerprints and band keys of a batch
are stored already, ids for its new mentions, and the per-workspace lock that makes those
answers hold until the batch is written. Each takes the whole batch as one bound parameter."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import BigInteger, String, Table, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from im2.listening.models import Mention, NearDuplicateBand

BANDS = cast(Table, NearDuplicateBand.__table__)


def lock_workspace(session: Session, workspace_id: int) -> None:
    # SQLite writers are already serialised (BEGIN IMMEDIATE); on PostgreSQL two batches with
    # the same post would both pass the "is it new?" check, so they take turns per workspace.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(4242, :w)"), {"w": workspace_id})


def one_of(session: Session, column: Any, values: Sequence[str] | Sequence[int]) -> Any:
    """`column IN (values)` with the whole list as ONE bound parameter (a JSON array read by
    `json_each` on SQLite, an array with `= ANY` on PostgreSQL): thousands of values cost one
    parameter instead of thousands, so the statement compiles once and stays cached."""
    if session.get_bind().dialect.name == "postgresql":
        item = BigInteger() if values and isinstance(values[0], int) else String()
        return column == any_(bindparam("values", list(values), type_=ARRAY(item)))
    listed = func.json_each(bindparam("values", json.dumps(list(values)))).table_valued("value")
    return column.in_(select(listed.c.value))


def known_posts(
    session: Session, workspace_id: int, keys: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    by_platform: dict[str, list[str]] = {}
    for platform, post_id in keys:
        by_platform.setdefault(platform, []).append(post_id)
    known: set[tuple[str, str]] = set()
    for platform, post_ids in by_platform.items():
        rows = session.scalars(
            select(Mention.post_id).where(
                Mention.workspace_id == workspace_id,
                Mention.platform == platform,
                one_of(session, Mention.post_id, post_ids),
            )
        )
        known.update((platform, post_id) for post_id in rows)
    return known


def known_fingerprints(session: Session, workspace_id: int, prints: list[str]) -> dict[str, int]:
    groups: dict[str, int] = {}
    rows = session.execute(
        select(Mention.fingerprint, Mention.id, Mention.duplicate_group)
        .where(
            Mention.workspace_id == workspace_id,
            one_of(session, Mention.fingerprint, sorted(set(prints))),
        )
        .order_by(Mention.id)
    )
    for fp, mention_id, group in rows:
        groups.setdefault(fp, group or mention_id)
    return groups


def known_bands(
    session: Session, workspace_id: int, keys: list[int]
) -> tuple[dict[int, int], set[tuple[int, int]]]:
    """Stored LSH band keys of the batch → the earliest group that has each, and the stored
    (band key, group) pairs themselves (so the batch inserts only pairs that are new)."""
    groups: dict[int, int] = {}
    pairs: set[tuple[int, int]] = set()
    if not keys:
        return groups, pairs
    rows = session.execute(
        select(BANDS.c.band_key, BANDS.c.group_id).where(
            BANDS.c.workspace_id == workspace_id, one_of(session, BANDS.c.band_key, keys)
        )
    )
    for key, group in rows:
        pairs.add((key, group))
        if key not in groups or group < groups[key]:
            groups[key] = group
    return groups, pairs


def allocate_ids(session: Session, n: int) -> list[int]:
    """Ids for `n` new mentions, taken before the insert so it needs no RETURNING.

    PostgreSQL hands them out from the table's sequence (safe under concurrency). On SQLite the
    write transaction holds the database's only write lock (BEGIN IMMEDIATE), so the next ids
    after the largest one are exactly what SQLite itself would assign.
    """
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence('listening_mentions', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": n},
            )
        )
    start = session.scalar(select(func.coalesce(func.max(Mention.id), 0))) or 0
    return list(range(start + 1, start + n + 1))

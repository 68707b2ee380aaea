"""Bulk writes of the import's hot path, straight to the database driver.

Split in two so that the second can run in another thread: `processed` turns Python values into
what the driver receives (each column's bind processor, on the caller's thread), `write_rows`
and `write_bands` only send them. On PostgreSQL the sending goes through the raw psycopg
connection and takes no SQLAlchemy object, so a writer thread may run it while the caller's
thread prepares the next batch (never both on one connection at once: the caller waits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect


def processed(dialect: Dialect, table: Table, name: str, values: list[Any]) -> list[Any]:
    """`values` as the column's type sends them (UTC datetimes, JSON): what is stored is
    exactly what SQLAlchemy's own insert would store."""
    process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return list(map(process, values)) if process else values


def processed_one(dialect: Dialect, table: Table, name: str, value: Any) -> Any:
    process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process else value


def driver_of(connection: Connection) -> Any:
    """The DBAPI connection under a SQLAlchemy one, for a writer thread to use."""
    return connection.connection.driver_connection


def write_rows(
    driver: Any,
    dialect_name: str,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    same: Mapping[str, Any] | None = None,
) -> None:
    """A multi-row insert of processed values given column by column (`same`: one value for
    every row). Plain statements in the connection's open transaction; nothing commits.

    PostgreSQL: COPY, its bulk path (one statement streams every row, where executemany has
    the server parse, plan and execute an INSERT per row). SQLite: executemany.
    """
    n = len(next(iter(columns.values())))
    names = [*columns, *(same or {})]
    values = [*columns.values(), *([v] * n for v in (same or {}).values())]
    listed = ", ".join(f'"{name}"' for name in names)
    if dialect_name == "postgresql":
        statement = f"COPY {table.name} ({listed}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in zip(*values, strict=True):
                copy.write_row(row)
        return
    marks = ", ".join(["?"] * len(names))
    # Only the table's own (quoted) column names are put into the SQL; the values are bound.
    sql = f"INSERT INTO {table.name} ({listed}) VALUES ({marks})"  # noqa: S608
    cursor = driver.cursor()
    try:
        cursor.executemany(sql, list(zip(*values, strict=True)))
    finally:
        cursor.close()


def write_bands(
    driver: Any, dialect_name: str, table: Table, workspace_id: int, pairs: list[tuple[int, int]]
) -> None:
    """Insert (band key, group) pairs, leaving ones already stored alone."""
    if not pairs:
        return
    columns = f"{table.name} (workspace_id, band_key, group_id)"
    if dialect_name == "postgresql":
        # One statement over two arrays: the server inserts them as a set, where executemany
        # made it run the INSERT once per pair (five per mention).
        with driver.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {columns} SELECT %s, k, g "  # noqa: S608 (our own table name)
                "FROM unnest(%s::bigint[], %s::bigint[]) AS t(k, g) ON CONFLICT DO NOTHING",
                (workspace_id, [k for k, _g in pairs], [g for _k, g in pairs]),
            )
        return
    cursor = driver.cursor()
    try:
        cursor.executemany(
            f"INSERT OR IGNORE INTO {columns} VALUES (?, ?, ?)",  # noqa: S608
            [(workspace_id, k, g) for k, g in pairs],
        )
    finally:
        cursor.close()

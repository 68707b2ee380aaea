"""A reader process that hands SQLite event rows to the lake move as Arrow, column by column.

Python's sqlite3 builds one tuple per row and one object per value, which caps the move near
200-300 k events/s. The ADBC SQLite driver reads columns straight into Arrow, ~6× faster, but it
carries its own copy of SQLite, and two copies of SQLite in one process release each other's
POSIX file locks (https://sqlite.org/howtocorrupt.html, "multiple copies of SQLite"): tried
in-process, the suite's next write failed with "disk I/O error". So it runs here, in a process
of its own, which is to SQLite just another reader of a WAL database.

Protocol: the parent writes `<after_id> <limit>\\n` lines to stdin; for each, this process
writes one Arrow IPC stream (the events with id > after_id, by id, at most limit, in the
columns of `im2.analytics.lake._COLUMNS`) to stdout. It exits when stdin closes.
"""

from __future__ import annotations

import sys

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa


def serve(path: str, columns: str) -> None:
    sql = f"SELECT {columns} FROM events WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608
    out = sys.stdout.buffer
    # Autocommit: each read sees what has committed by then and holds no snapshot open
    # between batches (which would keep WAL checkpoints from finishing).
    with adbc_sqlite.connect(path, autocommit=True) as connection:
        for line in sys.stdin:
            after_id, limit = (int(x) for x in line.split())
            with connection.cursor() as cursor:
                # One Arrow batch per read: the driver infers column types per batch.
                cursor.adbc_statement.set_options(
                    **{"adbc.sqlite.query.batch_rows": str(max(limit, 1))}
                )
                cursor.execute(sql, (after_id, limit))
                table = cursor.fetch_arrow_table()
            with pa.ipc.new_stream(out, table.schema) as writer:
                writer.write_table(table)
            out.flush()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])

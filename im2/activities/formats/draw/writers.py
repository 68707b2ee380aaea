"""One SQLite writer at a time, queued in this process.

SQLite has a single write lock. Waiting for it in SQLite's busy handler means sleeping and
retrying, and under a burst (hundreds of entries in a second) an unlucky request can keep
missing the lock until the busy timeout fails it with "database is locked". Entries to a draw
come in such bursts, so they first queue on a lock here, and then find the database's write
lock free. PostgreSQL locks rows, not the database, and is left alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from im2.db import Database

_SQLITE_WRITER = threading.Lock()


@contextmanager
def queued_writer(db: Database) -> Iterator[None]:
    if db.dialect != "sqlite":
        yield
        return
    with _SQLITE_WRITER:
        yield

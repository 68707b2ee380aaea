"""`im2 serve`: one uvicorn process, or several (`--workers N`) sharing one listening socket.

Why uvicorn's own workers rather than gunicorn with uvicorn workers: uvicorn's supervisor
(0.30 and later) does what gunicorn would do here (binds the socket once, starts N workers,
pings them and replaces one that hangs or dies, passes SIGTERM on and waits for each to
finish), with no second server package and no second set of settings. Each worker drains on
SIGTERM as a single server does (`im2.web.health`). What gunicorn adds (max-requests recycling,
a HUP reload of the code) IM2 does not need; a process manager (systemd) restarts the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from im2.config import Settings


class ServeRefused(Exception):
    """Settings that several server processes cannot share; the message says what to do."""


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse `workers` > 1 where processes would not see one another's state.

    - SQLite: one file with one write lock. Each process queues its own writers, but across
      processes they meet in SQLite's busy handler, where under a burst an unlucky writer
      can time out and a participant's write fails; and every process would run every
      periodic job. On one machine one process with the group commit is faster anyway.
    - No Redis: each process would have its own live hub and rate limits, so a vote answered
      by one process would not reach the live pages another one serves, and a participant
      could go N times over a limit.
    """
    if workers <= 1:
        return
    if settings.is_sqlite:
        raise ServeRefused(
            f"--workers {workers} needs PostgreSQL: SQLite takes one writer at a time, and "
            "several processes would fight for its lock (a burst of votes could fail). Serve "
            "SQLite with one process, or set IM2_DATABASE_URL=postgresql+psycopg://..."
        )
    if not settings.redis_url:
        raise ServeRefused(
            f"--workers {workers} needs IM2_REDIS_URL (e.g. redis://127.0.0.1:6379/0): without "
            "it each process keeps its own live updates and rate limits, so a vote through "
            "one process would not show on the live pages of another"
        )


def run(make_app: Callable[[], FastAPI], settings: Settings, *, workers: int = 1) -> None:
    """Serve until stopped. Call `check_workers` first. `make_app` builds the app; with
    several workers each builds its own (engine, hub, writer thread), so it must pickle."""
    import uvicorn

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
    }
    if workers == 1:
        uvicorn.run(make_app(), **options)
        return
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(make_app, factory=True, workers=workers, **options)
    Multiprocess(config, sockets=[config.bind_socket()]).run()

"""A route's one call to a service, in the session or transaction the route owns.

Most API routes open a session (a read) or a transaction (a write), call one service function
with it and answer what it returns. `read(db, service.get_x, actor=actor, x_id=x_id)` says that
in one line; the service's signature is kept (checked by mypy through the ParamSpec). The
transaction still belongs to the route: it commits before the route answers, and side effects
that wait for the commit stay in the route, after the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from im2.db import Database

P = ParamSpec("P")
T = TypeVar("T")


def read(
    db: Database, query: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """`query(session, …)` in a session of its own."""
    with db.session() as session:
        return query(session, *args, **kwargs)


def write(
    db: Database, change: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """`change(session, …)` in one transaction, committed when it returns."""
    with db.transaction() as session:
        return change(session, *args, **kwargs)

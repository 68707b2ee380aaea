"""Shared types for path and query parameters.

Every id in a URL is `Id`: a positive integer that fits a signed 64-bit column. Without the
upper bound a number such as 99999999999999999999 reaches the database driver, which cannot bind
it (SQLite: "Python int too large to convert to SQLite INTEGER") and the request ends in a 500.
With it, FastAPI answers 422 before the route runs, and the OpenAPI document shows the
`minimum` and `maximum`, so clients and fuzzers know the range.

The constraints are plain `annotated_types` metadata rather than `Path(...)` or `Query(...)`, so
the one type serves both: FastAPI decides from the route's path whether a parameter is a path or
a query parameter, and `Id | None = None` works for optional query filters.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, BeforeValidator

MAX_ID = 2**63 - 1
"""The largest value a signed 64-bit integer column (SQLite INTEGER, PostgreSQL BIGINT) holds."""

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A database id in a path or query parameter: 1 … 2**63 - 1, else 422."""


_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # the date
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?"  # an optional time
    r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)?"  # an optional offset
)


def _iso_only(value: object) -> object:
    """Pydantic's lax mode reads a bare number as seconds since 1970 (`until=0.5` became a
    moment in 1970): a query moment must be written as a date-time."""
    if isinstance(value, str) and not _ISO_DATETIME.fullmatch(value.strip()):
        raise ValueError("expected an ISO 8601 date-time, such as 2026-03-02T10:00:00+08:00")
    return value


Moment = Annotated[datetime, BeforeValidator(_iso_only)]
"""A date-time in a query parameter: ISO 8601 text (offset optional), else 422. The range a
query may span is the service's to judge (analytics: 2000-2100)."""


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _within_range(value: datetime) -> datetime:
    """Years far off overflow the arithmetic behind every period (a week before 0001-01-02)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        inside = EARLIEST <= aware.astimezone(UTC) <= LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError("times must lie between 2000 and 2100")
    return value


RangedMoment = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_within_range)]
"""A `Moment` between 2000 and 2100, for routes whose service does not judge the range itself."""

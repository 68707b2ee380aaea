"""Shared types for path and query parameters.

Every id in a URL is `Id`, the one bounded id type of `im2.types` (`DbId`: 1 … 2**31 - 1, else
422 before the route runs), which request schemas use for ids in bodies too.

Moments in a query are ISO 8601 text; what is wrong with one is said in the caller's language
(`im2.i18n`), not in pydantic's English.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError

from im2.i18n import N_, _
from im2.types import MAX_ID, DbId

__all__ = ["EARLIEST", "LATEST", "MAX_ID", "Id", "Moment", "RangedMoment"]

Id = DbId
"""A database id in a path or query parameter: 1 … 2**31 - 1, else 422."""


_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # the date
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?"  # an optional time
    r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)?"  # an optional offset
)


NOT_A_MOMENT = N_("Expected a date and time in ISO 8601, such as 2026-03-02T10:00:00+08:00.")
OUT_OF_RANGE = N_("Times must lie between 2000 and 2100.")


def _moment(value: Any, handler: ValidatorFunctionWrapHandler, _info: ValidationInfo) -> Any:
    """ISO 8601 text only, and one message for every way it can be wrong. Pydantic's lax mode
    reads a bare number as seconds since 1970 (`until=0.5` became a moment in 1970), and its
    own messages ("Input should be a valid datetime …") are English whatever the caller reads."""
    if isinstance(value, str) and not _ISO_DATETIME.fullmatch(value.strip()):
        raise PydanticCustomError("datetime_iso", _(NOT_A_MOMENT))
    try:
        return handler(value)
    except ValueError:  # pydantic's ValidationError is one: a month 13, a day 32, 25 o'clock
        raise PydanticCustomError("datetime_iso", _(NOT_A_MOMENT)) from None


Moment = Annotated[datetime, WrapValidator(_moment)]
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
        raise PydanticCustomError("datetime_range", _(OUT_OF_RANGE))
    return value


RangedMoment = Annotated[datetime, WrapValidator(_moment), AfterValidator(_within_range)]
"""A `Moment` between 2000 and 2100, for routes whose service does not judge the range itself."""

"""Value types that schemas, services and routes share.

`DbId` is every database id that arrives from outside, in a URL or a JSON body: a positive
integer that fits the narrowest id column, PostgreSQL's 32-bit INTEGER (SQLite's are 64-bit).
Without the upper bound a number such as 99999999999999999999 reaches the database driver,
which cannot bind it (SQLite: "Python int too large to convert to SQLite INTEGER"; PostgreSQL:
"integer out of range" from 2**31 on), and the request ends in a 500; with it, pydantic refuses
it with a 422 on the field, and the OpenAPI document shows the `minimum` and `maximum`.

The constraints are plain `annotated_types` metadata, so the one type serves pydantic models,
path and query parameters (`im2.web.params.Id` is this type) alike.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

MAX_ID = 2**31 - 1
"""The largest id every id column holds: PostgreSQL's INTEGER primary keys are 32-bit."""

DbId = Annotated[int, Ge(1), Le(MAX_ID)]
"""A database id: 1 … 2**31 - 1, else 422."""

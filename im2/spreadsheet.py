"""Cells that a spreadsheet shows as text, never runs as a formula (OWASP "CSV injection").

Exports carry what participants typed (a channel in a share link, a nickname, an answer). Excel,
LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (and
a leading tab or carriage return can hide such a start), so a visitor who votes from
`?ch==HYPERLINK("http://x.y","a")` would put a live link into the brand's download. Every CSV
and Excel writer passes its cells through `safe_cell`: such text gets a leading `'`, which the
spreadsheet shows as text. Numbers stay numbers, including negative ones, and so does text that
is plainly a number ("-0.50"), which no spreadsheet runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ASCII digits only (Python's \d takes any script's digits, which no spreadsheet reads as a
# number), and the same pattern serves Arrow's RE2 in `safe_batch`.
_PLAIN_NUMBER_RE = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(_PLAIN_NUMBER_RE)


def safe_cell(value: Any) -> Any:
    """`value` unchanged unless it is text a spreadsheet would read as a formula."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def safe_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: safe_cell(value) for key, value in row.items()}


def safe_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` with `safe_cell` applied to its text columns, column at a time in Arrow (for
    exports that write CSV with pyarrow, a batch of tens of thousands of rows at once)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            starts = pc.match_substring_regex(column, "^[=+\\-@\t\r]")
            number = pc.match_substring_regex(column, f"^(?:{_PLAIN_NUMBER_RE})$")
            quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, "")
            column = pc.if_else(pc.and_(starts, pc.invert(number)), quoted, column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

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
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


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

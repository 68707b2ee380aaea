"""A chart's data as a file: CSV (UTF-8 with BOM, so Excel opens Chinese text), Excel, Parquet.

CSV and Excel cells go through `im2.spreadsheet.safe_cell`: text that a spreadsheet would run
as a formula is shown as text. Parquet is data, not a sheet, and keeps values as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from im2.spreadsheet import safe_row


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}


def _columns(rows: list[dict[str, Any]], declared: Sequence[str]) -> list[str]:
    """The declared columns first (a metric's registry `columns`), then any others the rows
    carry; so an export with no rows still has its header."""
    return list(dict.fromkeys([*declared, *(key for row in rows for key in row)]))


def export_rows(
    rows: list[dict[str, Any]],
    fmt: ExportFormat,
    *,
    sheet: str = "data",
    columns: Sequence[str] = (),
) -> bytes:
    columns = _columns(rows, columns)
    if fmt is ExportFormat.CSV:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(safe_row(columns))
        for row in rows:
            writer.writerow(safe_row("" if row.get(c) is None else row.get(c) for c in columns))
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    if fmt is ExportFormat.XLSX:
        book = Workbook()
        ws = book.active
        assert ws is not None  # a new workbook always has one sheet
        ws.title = sheet[:31]
        ws.append(safe_row(columns))
        for row in rows:
            ws.append(safe_row(row.get(c) for c in columns))
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    if rows:
        table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    else:
        # No values to take types from: the columns are there, typed null.
        table = pa.table({c: pa.nulls(0) for c in columns})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()

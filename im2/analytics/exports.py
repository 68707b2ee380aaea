"""A chart's data as a file: CSV (UTF-8 with BOM, so Excel opens Chinese text), Excel, Parquet."""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def export_rows(rows: list[dict[str, Any]], fmt: ExportFormat, *, sheet: str = "data") -> bytes:
    columns = _columns(rows)
    if fmt is ExportFormat.CSV:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    if fmt is ExportFormat.XLSX:
        book = Workbook()
        ws = book.active
        assert ws is not None  # a new workbook always has one sheet
        ws.title = sheet[:31]
        ws.append(columns)
        for row in rows:
            ws.append([row.get(c) for c in columns])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    table = pa.Table.from_pylist(rows) if rows else pa.table({})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()

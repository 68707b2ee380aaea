"""File downloads of console pages: tables as CSV that Excel opens correctly."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from starlette.responses import Response

from im2.spreadsheet import safe_record


def csv_download(
    rows: Iterable[Mapping[str, Any]], *, columns: Sequence[str], filename: str
) -> Response:
    """`rows` as a CSV attachment: a header of `columns`, UTF-8 with a BOM so that Excel opens
    Chinese text as UTF-8 rather than guessing GBK; text that would run as a formula is
    escaped (`im2.spreadsheet`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(safe_record(row) for row in rows)
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

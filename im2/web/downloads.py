"""File downloads of console pages: tables as CSV that Excel opens correctly."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.responses import Response

from im2.db import Database
from im2.masking import mask_rows, personal_columns
from im2.spreadsheet import safe_record
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit


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


def people_csv_download(
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str],
    filename: str,
    actor: Actor,
    db: Database,
    now: datetime,
    target_type: str,
    target_id: int | None,
    names: Sequence[str] = (),
) -> Response:
    """A download of participants' rows: personal fields (phones, e-mails, IPs, nicknames:
    `im2.masking`, and the `names` columns) masked for roles without people:read, and an
    audit entry with who, which file, how many rows and whether they were masked
    (docs/security.md)."""
    found = list(rows)
    masked = not actor.can(Permission.READ_PEOPLE)
    if masked:
        found = list(mask_rows(found, names=names))
    with db.transaction() as session:
        record_audit(
            session,
            actor,
            "export.download",
            (target_type, target_id),
            f"{filename}: {len(found)} rows" + (", personal fields masked" if masked else ""),
            now=now,
            after={
                "file": filename,
                "rows": len(found),
                "personal_columns": personal_columns(columns, names=names),
                "masked": masked,
            },
        )
    return csv_download(found, columns=columns, filename=filename)

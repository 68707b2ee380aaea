"""The files erasure deletes (`im2.privacy.erasure`): the media made from the people's rows, and
the export files of their data-subject requests (the requests themselves stay, linked to nobody).
"""

from __future__ import annotations

import logging
import string
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from im2.db import Base
from im2.privacy.erasure_plan import Counts, Owners, chunks
from im2.privacy.inventory import PersonKeys, table_of
from im2.privacy.tracking import forget_requests
from im2.types import PeopleData

log = logging.getLogger("im2.privacy")


def media_files(decls: list[PeopleData], row: dict[str, Any], media_path: Path) -> list[Path]:
    files: list[Path] = []
    for data in decls:
        if data.media is None:
            continue
        try:
            relative = data.media.format(**row)
        except (KeyError, IndexError, ValueError):
            continue
        if any(row.get(c) in (None, "") for c in template_fields(data.media)):
            continue
        files.append(media_path / relative)
    return files


def template_fields(template: str) -> list[str]:
    return [name for _text, name, _spec, _conv in string.Formatter().parse(template) if name]


def unlink(files: list[Path]) -> int:
    removed = 0
    for file in files:
        try:
            if file.is_file():
                file.unlink()
                removed += 1
        except OSError:
            log.warning("privacy: could not delete %s", file)
    return removed


def delete_media(
    session: Session,
    table: Table,
    decls: list[PeopleData],
    rows: dict[Any, int],
    media_path: Path,
) -> dict[int, int]:
    """Delete the media files of these rows; files removed by whose row they were."""
    if not any(d.media for d in decls):
        return {}
    pk = next(iter(table.primary_key.columns))
    removed: dict[int, int] = {}
    for chunk in chunks(sorted(rows)):
        for row in session.execute(select(table).where(pk.in_(chunk))):
            values = dict(row._mapping)
            whose = rows[values[pk.name]]
            n = unlink(media_files(decls, values, media_path))
            removed[whose] = removed.get(whose, 0) + n
    return removed


def forget_group_requests(
    session: Session,
    *,
    keys: PersonKeys,
    owners: Owners,
    counts: list[Counts],
    media_path: Path,
) -> None:
    if "privacy_requests" not in Base.metadata.tables:
        return
    requests = table_of("privacy_requests")
    files: dict[int, list[Path]] = {}
    for chunk in chunks(sorted(keys.person_ids)):
        for person, path in session.execute(
            select(requests.c.person_id, requests.c.export_path).where(
                requests.c.workspace_id == keys.workspace_id, requests.c.person_id.in_(chunk)
            )
        ):
            i = owners.persons[int(person)]
            counts[i].requests += 1
            if path:
                files.setdefault(i, []).append(media_path / path)
    forget_requests(session, workspace_id=keys.workspace_id, person_ids=keys.person_ids)
    session.flush()
    for i, found in files.items():
        counts[i].media += unlink(found)

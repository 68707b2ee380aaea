"""People export: the filtered list as CSV or Excel, masked, audited. See `im2.people.io`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import _
from im2.people.consent.schemas import Purpose
from im2.people.consent.service import consented
from im2.people.directory import NO_SOURCES, PeopleSources, conditions, summaries
from im2.people.io_tables import SOCIAL_TARGETS
from im2.people.models import Person, PersonAttribute, PersonIdentity
from im2.people.schemas import HASHED_KINDS, IdentityKind, PeopleFilter, PersonSummary
from im2.people.service import mask
from im2.spreadsheet import safe_row
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

MAX_EXPORT_ROWS: Final = 200_000

EXPORT_COLUMNS: Final = (
    "person_id",
    "nickname",
    "stage",
    "score",
    "points",
    "last_seen_at",
    "created_at",
    "verified",
    "phones",
    "emails",
    "crm_ids",
    "devices",
    "tags",
    "attributes",
    # Social accounts, last (the columns before keep their places), headed as the import
    # guesses them.
    "weibo",
    "douyin",
    "xiaohongshu",
)


# --- export -------------------------------------------------------------------------------------


def _masked(session: Session, person_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = {pid: {} for pid in person_ids}
    for pid, kind, value, hint in session.execute(
        select(
            PersonIdentity.person_id, PersonIdentity.kind, PersonIdentity.value, PersonIdentity.hint
        )
        .where(
            PersonIdentity.person_id.in_(list(person_ids)),
            PersonIdentity.kind.in_(
                [
                    IdentityKind.PHONE.value,
                    IdentityKind.EMAIL.value,
                    IdentityKind.CRM.value,
                    *(t.value for t in SOCIAL_TARGETS.values()),
                ]
            ),
        )
        .order_by(PersonIdentity.id)
    ):
        hashed = kind in {k.value for k in HASHED_KINDS}
        shown = (hint or mask(IdentityKind(kind), "")) if hashed else value
        found[pid].setdefault(kind, []).append(shown)
    return found


def _attributes(session: Session, person_ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {pid: [] for pid in person_ids}
    for pid, key, value in session.execute(
        select(PersonAttribute.person_id, PersonAttribute.key, PersonAttribute.value)
        .where(PersonAttribute.person_id.in_(list(person_ids)))
        .order_by(PersonAttribute.key)
    ):
        found[pid].append(f"{key}={value}")
    return {pid: "; ".join(items) for pid, items in found.items()}


def _export_record(
    row: PersonSummary, masked: dict[str, list[str]], attributes: str
) -> dict[str, Any]:
    return {
        "person_id": row.id,
        "nickname": row.nickname or "",
        "stage": row.stage or "",
        "score": "" if row.score is None else round(row.score, 1),
        "points": "" if row.points is None else row.points,
        "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else "",
        "created_at": row.created_at.isoformat(),
        "verified": "yes" if row.verified else "no",
        "phones": " ".join(masked.get(IdentityKind.PHONE.value, [])),
        "emails": " ".join(masked.get(IdentityKind.EMAIL.value, [])),
        "crm_ids": " ".join(masked.get(IdentityKind.CRM.value, [])),
        **{k.value: " ".join(masked.get(k.value, [])) for k in SOCIAL_TARGETS.values()},
        "devices": row.identities.get(IdentityKind.DEVICE.value, 0),
        "tags": ", ".join(row.tags),
        "attributes": attributes,
    }


def export_people(
    session: Session,
    *,
    actor: Actor,
    filters: PeopleFilter,
    secret: str,
    file_format: str,
    sources: PeopleSources = NO_SOURCES,
    now: datetime,
) -> tuple[bytes, int]:
    """The filtered people as a CSV (UTF-8 with BOM) or an Excel file, ordered by person id;
    returns (file, rows). Audited. Left out: restricted people, and people who withdrew
    marketing contact or profiling (an export is a list to contact or target people with)."""
    require(actor, Permission.READ_PEOPLE)
    if file_format not in ("csv", "xlsx"):
        raise InvalidInput(_("Choose one of the options."), field="format")
    where = conditions(
        session, workspace_id=actor.workspace_id, filters=filters, secret=secret, sources=sources
    )
    records: list[dict[str, Any]] = []
    if where is not None:
        where.append(Person.restricted_at.is_(None))
        for purpose in (Purpose.MARKETING, Purpose.PROFILING):
            where.append(consented(session, workspace_id=actor.workspace_id, purpose=purpose))
        last = 0
        while True:
            ids = list(
                session.scalars(
                    select(Person.id)
                    .where(*where, Person.id > last)
                    .order_by(Person.id)
                    .limit(1000)
                )
            )
            if not ids:
                break
            last = ids[-1]
            if len(records) + len(ids) > MAX_EXPORT_ROWS:
                raise InvalidInput(
                    _("More than {n} people match; narrow the filters.").format(
                        n=f"{MAX_EXPORT_ROWS:,}"
                    ),
                    field="filters",
                )
            rows = summaries(
                session, workspace_id=actor.workspace_id, person_ids=ids, sources=sources
            )
            masked = _masked(session, ids)
            attributes = _attributes(session, ids)
            records.extend(_export_record(r, masked[r.id], attributes[r.id]) for r in rows)
    record_audit(
        session,
        actor,
        "people.exported",
        ("workspace", actor.workspace_id),
        f"exported {len(records)} people as {file_format}",
        now=now,
        after={
            "format": file_format,
            "rows": len(records),
            "filters": filters.model_dump(mode="json"),
        },
    )
    return _write(records, file_format), len(records)


def _write(records: list[dict[str, Any]], file_format: str) -> bytes:
    if file_format == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("people")
        sheet.append(list(EXPORT_COLUMNS))
        for record in records:
            sheet.append(safe_row(record[c] for c in EXPORT_COLUMNS))
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        writer.writerow(safe_row(record[c] for c in EXPORT_COLUMNS))
    return ("\ufeff" + buffer.getvalue()).encode()

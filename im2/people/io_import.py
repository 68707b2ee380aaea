"""People import, steps two and three: every row checked (all or nothing per file), then the
checked rows written. See `im2.people.io`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.people.directory import normalise_email, normalise_phone
from im2.people.identities import identity_hash
from im2.people.io_tables import CONTROL, SOCIAL_TARGETS, check_mapping, read_table
from im2.people.merges import actor_label, lock_live
from im2.people.models import Person, PersonIdentity
from im2.people.schemas import (
    HASHED_KINDS,
    IdentityKind,
    ImportReport,
    ImportRowError,
    ImportTarget,
    normalise_handle,
)
from im2.people.service import do_add_identity
from im2.people.tags import add_tags, check_attribute, check_tag, set_attributes
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

MAX_ROW_ERRORS: Final = 200
PREVIEW_ROWS: Final = 5
_TAG_SPLIT = re.compile(r"[,，;；|、]")

ROW_PROBLEMS: Final = {
    "no_key": N_(
        "the row has no CRM id, phone, e-mail or social account, so nobody can be found or created"
    ),
    "bad_phone": N_("“{value}” is not a phone number"),
    "bad_email": N_("“{value}” is not an e-mail address"),
    "bad_crm": N_("the CRM id is longer than 128 characters or has control characters"),
    "bad_handle": N_("“{value}” is not an account name (at most 128 characters, no spaces)"),
    "bad_tag": N_("the tag “{value}” is longer than 32 characters or empty"),
    "bad_attribute": N_("the value is longer than 200 characters or has control characters"),
}


# --- checking rows ------------------------------------------------------------------------------


class _Row:
    __slots__ = ("attributes", "keys", "number", "tags")

    def __init__(self, number: int) -> None:
        self.number = number
        self.keys: list[tuple[IdentityKind, str]] = []
        self.tags: list[str] = []
        self.attributes: dict[str, str] = {}


def _problem(code: str, **params: object) -> str:
    return _(ROW_PROBLEMS[code]).format(**{k: str(v)[:60] for k, v in params.items()})


def _check_row(
    number: int, values: list[str], columns: Sequence[str], mapping: Mapping[str, ImportTarget]
) -> tuple[_Row, list[ImportRowError]]:
    row = _Row(number)
    errors: list[ImportRowError] = []
    for index, column in enumerate(columns):
        value = values[index].strip() if index < len(values) else ""
        target = mapping.get(column, ImportTarget.IGNORE)
        if not value or target is ImportTarget.IGNORE:
            continue
        try:
            if target is ImportTarget.PHONE:
                phone = normalise_phone(value)
                if phone is None:
                    raise ValueError(_problem("bad_phone", value=value))
                row.keys.append((IdentityKind.PHONE, phone))
            elif target is ImportTarget.EMAIL:
                email = normalise_email(value)
                if email is None:
                    raise ValueError(_problem("bad_email", value=value))
                row.keys.append((IdentityKind.EMAIL, email))
            elif target is ImportTarget.CRM:
                if len(value) > 128 or any(ord(c) < 32 for c in value):
                    raise ValueError(_problem("bad_crm"))
                row.keys.append((IdentityKind.CRM, value))
            elif target in SOCIAL_TARGETS:
                kind = SOCIAL_TARGETS[target]
                handle = normalise_handle(kind, value)
                if handle is None:
                    raise ValueError(_problem("bad_handle", value=value))
                row.keys.append((kind, handle))
            elif target is ImportTarget.TAGS:
                for part in _TAG_SPLIT.split(value):
                    if part.strip():
                        try:
                            row.tags.append(check_tag(part))
                        except InvalidInput:
                            raise ValueError(_problem("bad_tag", value=part.strip())) from None
            else:
                try:
                    key, clean = check_attribute(column, value)
                except InvalidInput:
                    raise ValueError(_problem("bad_attribute")) from None
                row.attributes[key] = clean
        except ValueError as problem:
            errors.append(ImportRowError(row=number, column=column, message=str(problem)))
    if not row.keys and not errors:
        errors.append(ImportRowError(row=number, column=None, message=_problem("no_key")))
    return row, errors


# --- writing ----------------------------------------------------------------------------------


def _apply_row(
    session: Session, *, workspace_id: int, row: _Row, secret: str, actor: str, now: datetime
) -> tuple[str, int]:
    """Write one checked row: ("created" | "updated" | "unchanged", merges made)."""
    found: int | None = None
    for kind, value in row.keys:
        stored = value
        if kind in HASHED_KINDS:
            stored = identity_hash(secret=secret, kind=kind, value=value)
        found = session.scalar(
            select(PersonIdentity.person_id).where(
                PersonIdentity.workspace_id == workspace_id,
                PersonIdentity.kind == kind.value,
                PersonIdentity.value == stored,
            )
        )
        if found is not None:
            break
    outcome = "unchanged"
    if found is None:
        person = Person(workspace_id=workspace_id, created_at=now)
        session.add(person)
        session.flush()
        found = person.id
        outcome = "created"
    merges = 0
    before = session.scalar(
        select(PersonIdentity.id)
        .where(PersonIdentity.person_id == found)
        .order_by(PersonIdentity.id.desc())
    )
    for kind, value in row.keys:
        merged = do_add_identity(
            session,
            workspace_id=workspace_id,
            person_id=found,
            kind=kind,
            value=value,
            secret=secret,
            actor=actor,
            now=now,
        )
        if merged is not None:
            merges += 1
            found = lock_live(session, [found])[found].id
    after = session.scalar(
        select(PersonIdentity.id)
        .where(PersonIdentity.person_id == found)
        .order_by(PersonIdentity.id.desc())
    )
    changed = merges > 0 or after != before
    if add_tags(
        session, workspace_id=workspace_id, person_id=found, tags=row.tags, source="import", now=now
    ):
        changed = True
    if set_attributes(
        session, workspace_id=workspace_id, person_id=found, values=row.attributes, now=now
    ):
        changed = True
    if outcome == "unchanged" and changed:
        outcome = "updated"
    return outcome, merges


def do_import_people(
    session: Session,
    *,
    actor: Actor,
    filename: str,
    data: bytes,
    mapping: Mapping[str, str] | None,
    secret: str,
    apply: bool,
    now: datetime,
) -> ImportReport:
    """Check a CSV or Excel file against a column mapping (guessed from the headers when None)
    and, when `apply` and no row has an error, write it. See the module's docstring."""
    require(actor, Permission.WRITE_PEOPLE)
    filename = CONTROL.sub("", filename)[:200] or "people.csv"
    columns, rows = read_table(filename, data)
    chosen = check_mapping(columns, mapping)
    report = ImportReport(
        filename=filename[:200],
        sha256=hashlib.sha256(data).hexdigest(),
        columns=columns,
        mapping=chosen,
        preview=[r[: len(columns)] for r in rows[:PREVIEW_ROWS]],
        rows=len(rows),
        applied=False,
    )
    checked: list[_Row] = []
    errors: list[ImportRowError] = []
    for offset, values in enumerate(rows):
        row, row_errors = _check_row(offset + 2, values, columns, chosen)
        checked.append(row)
        errors.extend(row_errors)
    report.errors = errors[:MAX_ROW_ERRORS]
    report.errors_left_out = max(0, len(errors) - MAX_ROW_ERRORS)
    if errors or not apply:
        return report
    label = actor_label(actor)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for row in checked:
        outcome, merges = _apply_row(
            session, workspace_id=actor.workspace_id, row=row, secret=secret, actor=label, now=now
        )
        counts[outcome] += 1
        report.merges += merges
    report.applied = True
    report.people_created = counts["created"]
    report.people_updated = counts["updated"]
    report.people_unchanged = counts["unchanged"]
    record_audit(
        session,
        actor,
        "people.imported",
        ("workspace", actor.workspace_id),
        f"imported {len(rows)} rows of people from {filename[:80]}",
        now=now,
        after={
            "file": filename[:200],
            "sha256": report.sha256,
            "rows": len(rows),
            "created": report.people_created,
            "updated": report.people_updated,
            "merges": report.merges,
            "mapping": {c: t.value for c, t in chosen.items()},
        },
    )
    session.flush()
    return report

"""People in and out as spreadsheets: export the list to CSV or Excel, import CRM ids, phones,
e-mails, social accounts (Weibo, Douyin, Xiaohongshu handles), tags and attributes from CSV or
Excel.

Import is **all or nothing per file**: every row is checked first; if any row has an error the
report lists them (row number as the spreadsheet shows it, the column, the reason) and nothing
is written. A file without errors is written in the caller's one transaction. Importing the
same file again changes nothing: identities are unique per workspace, tags per person, and an
attribute already holding the value is left alone. A phone or e-mail is kept only as its keyed
hash (and a masked hint), a handle normalised (`normalise_handle`); a CRM id, phone, e-mail or
handle already held by another person merges the two (`shared_identity` / verified reasons, as
everywhere else).

Export passes every cell through `im2.spreadsheet.safe_cell` (no formulas), leaves out people
whose processing is restricted, shows phones and e-mails only masked (the plain values are not
kept in this domain), and is recorded in the audit log with the filters and the row count.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.listening.importers import FileProblem, decode
from im2.people.consent.schemas import Purpose
from im2.people.consent.service import consented
from im2.people.directory import (
    NO_SOURCES,
    PeopleSources,
    conditions,
    normalise_email,
    normalise_phone,
    summaries,
)
from im2.people.identities import identity_hash
from im2.people.merges import actor_label, lock_live
from im2.people.models import Person, PersonAttribute, PersonIdentity
from im2.people.schemas import (
    HASHED_KINDS,
    IdentityKind,
    ImportReport,
    ImportRowError,
    ImportTarget,
    PeopleFilter,
    PersonSummary,
    normalise_handle,
)
from im2.people.service import do_add_identity, mask
from im2.people.tags import (
    ATTRIBUTE_KEY_MAX,
    add_tags,
    check_attribute,
    check_tag,
    set_attributes,
)
from im2.spreadsheet import safe_row
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

MAX_IMPORT_BYTES: Final = 5 * 1024 * 1024
MAX_IMPORT_ROWS: Final = 10_000
MAX_COLUMNS: Final = 50
MAX_ROW_ERRORS: Final = 200
PREVIEW_ROWS: Final = 5
MAX_EXPORT_ROWS: Final = 200_000
_TAG_SPLIT = re.compile(r"[,，;；|、]")
_XLSX_MAGIC = b"PK\x03\x04"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Headers recognised when the mapping is guessed (lower case, spaces removed).
_GUESSES: Final = {
    ImportTarget.CRM: (
        "crm",
        "crmid",
        "crm_id",
        "会员号",
        "会员id",
        "会员编号",
        "客户id",
        "客户编号",
    ),
    ImportTarget.PHONE: ("phone", "mobile", "手机", "手机号", "手机号码", "电话"),
    ImportTarget.EMAIL: ("email", "e-mail", "mail", "邮箱", "电子邮箱", "邮件"),
    ImportTarget.TAGS: ("tags", "tag", "标签"),
    ImportTarget.WEIBO: ("weibo", "微博", "微博昵称", "微博账号"),
    ImportTarget.DOUYIN: ("douyin", "抖音", "抖音号"),
    ImportTarget.XIAOHONGSHU: ("xiaohongshu", "小红书", "小红书号"),
}
# Columns of social accounts: the identity kind of the same name (a handle, normalised).
_SOCIAL_TARGETS: Final = {
    ImportTarget.WEIBO: IdentityKind.WEIBO,
    ImportTarget.DOUYIN: IdentityKind.DOUYIN,
    ImportTarget.XIAOHONGSHU: IdentityKind.XIAOHONGSHU,
}
# Columns that find or create the person a row is about.
_KEY_TARGETS: Final = (ImportTarget.CRM, ImportTarget.PHONE, ImportTarget.EMAIL, *_SOCIAL_TARGETS)

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


# --- reading a file -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed into Excel
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise FileProblem(_("The Excel file cannot be read; save it again as .xlsx.")) from error
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values[:MAX_COLUMNS]]
    finally:
        book.close()


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text, _encoding = decode(data)
    header = text.split("\n", 1)[0]
    delimiter = "\t" if header.count("\t") > header.count(",") else ","
    try:
        for values in csv.reader(io.StringIO(text), delimiter=delimiter):
            yield [v.strip() for v in values[:MAX_COLUMNS]]
    except csv.Error as error:
        raise FileProblem(_("The CSV file cannot be read; check its quotes.")) from error


def read_table(filename: str, data: bytes) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of a CSV or Excel file, empty rows dropped. Raises InvalidInput (field
    `file`) for a file too large, empty, unreadable or with more than MAX_IMPORT_ROWS rows."""
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            _("The file is larger than {size} MB; split it into smaller files.").format(
                size=MAX_IMPORT_BYTES // (1024 * 1024)
            ),
            field="file",
        )
    excel = data.startswith(_XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm"))
    try:
        rows: list[list[str]] = []
        for values in _xlsx_rows(data) if excel else _csv_rows(data):
            if any(values):
                rows.append(values)
                if len(rows) > MAX_IMPORT_ROWS + 1:
                    raise InvalidInput(
                        _("The file has more than {n} rows; split it into smaller files.").format(
                            n=f"{MAX_IMPORT_ROWS:,}"
                        ),
                        field="file",
                    )
    except FileProblem as problem:
        raise InvalidInput(problem.message, field="file") from None
    if not rows:
        raise InvalidInput(_("The file is empty."), field="file")
    header = [
        _CONTROL.sub("", h)[:100] or _("Column {n}").format(n=i + 1) for i, h in enumerate(rows[0])
    ]
    if len(set(header)) != len(header):
        raise InvalidInput(_("Two columns have the same name; rename one."), field="file")
    if len(rows) < 2:
        raise InvalidInput(_("The file has a header but no rows."), field="file")
    return header, rows[1:]


def guess_mapping(columns: Sequence[str]) -> dict[str, ImportTarget]:
    """A first mapping from the headers; other columns become attributes named after them."""
    mapping: dict[str, ImportTarget] = {}
    taken: set[ImportTarget] = set()
    for column in columns:
        key = column.lower().replace(" ", "")
        target = next(
            (t for t, names in _GUESSES.items() if key in names and t not in taken),
            ImportTarget.ATTRIBUTE,
        )
        if target is not ImportTarget.ATTRIBUTE:
            taken.add(target)
        mapping[column] = target
    return mapping


def check_mapping(
    columns: Sequence[str], mapping: Mapping[str, str] | None
) -> dict[str, ImportTarget]:
    """The mapping the user chose, checked: known columns and targets, one column per
    identity kind, at least one identity column."""
    if mapping is None:
        chosen = guess_mapping(columns)
    else:
        chosen = {}
        for column, target in mapping.items():
            if column not in columns:
                raise InvalidInput(
                    _("The file has no column “{name}”.").format(name=column[:40]), field="mapping"
                )
            try:
                chosen[column] = ImportTarget(target)
            except ValueError:
                raise InvalidInput(_("Choose one of the options."), field="mapping") from None
        for column in columns:
            chosen.setdefault(column, ImportTarget.IGNORE)
    for target in (*_KEY_TARGETS, ImportTarget.TAGS):
        if sum(1 for t in chosen.values() if t is target) > 1:
            raise InvalidInput(_("Choose each kind for one column only."), field="mapping")
    if not any(t in _KEY_TARGETS for t in chosen.values()):
        raise InvalidInput(
            _("Choose the column with the CRM id, the phone, the e-mail or a social account."),
            field="mapping",
        )
    for column, target in chosen.items():
        if target is ImportTarget.ATTRIBUTE and len(column) > ATTRIBUTE_KEY_MAX:
            raise InvalidInput(
                _("An attribute's name (the column “{name}”) has at most {n} characters.").format(
                    name=column[:40], n=ATTRIBUTE_KEY_MAX
                ),
                field="mapping",
            )
    return chosen


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
            elif target in _SOCIAL_TARGETS:
                kind = _SOCIAL_TARGETS[target]
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
    filename = _CONTROL.sub("", filename)[:200] or "people.csv"
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
        actor=actor,
        workspace_id=actor.workspace_id,
        action="people.imported",
        target_type="workspace",
        target_id=actor.workspace_id,
        summary=f"imported {len(rows)} rows of people from {filename[:80]}",
        before=None,
        after={
            "file": filename[:200],
            "sha256": report.sha256,
            "rows": len(rows),
            "created": report.people_created,
            "updated": report.people_updated,
            "merges": report.merges,
            "mapping": {c: t.value for c, t in chosen.items()},
        },
        now=now,
    )
    session.flush()
    return report


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
                    *(t.value for t in _SOCIAL_TARGETS.values()),
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
        **{k.value: " ".join(masked.get(k.value, [])) for k in _SOCIAL_TARGETS.values()},
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
        actor=actor,
        workspace_id=actor.workspace_id,
        action="people.exported",
        target_type="workspace",
        target_id=actor.workspace_id,
        summary=f"exported {len(records)} people as {file_format}",
        before=None,
        after={
            "format": file_format,
            "rows": len(records),
            "filters": filters.model_dump(mode="json"),
        },
        now=now,
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

"""People import, step one: reading a CSV or Excel file into a header and rows, and the column
mapping (guessed from the headers, or the user's choice checked). See `im2.people.io`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from im2.errors import InvalidInput
from im2.i18n import _
from im2.listening.importers import FileProblem, decode
from im2.people.schemas import IdentityKind, ImportTarget
from im2.people.tags import ATTRIBUTE_KEY_MAX

MAX_IMPORT_BYTES: Final = 5 * 1024 * 1024
MAX_IMPORT_ROWS: Final = 10_000
MAX_COLUMNS: Final = 50
_XLSX_MAGIC = b"PK\x03\x04"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

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
SOCIAL_TARGETS: Final = {
    ImportTarget.WEIBO: IdentityKind.WEIBO,
    ImportTarget.DOUYIN: IdentityKind.DOUYIN,
    ImportTarget.XIAOHONGSHU: IdentityKind.XIAOHONGSHU,
}
# Columns that find or create the person a row is about.
KEY_TARGETS: Final = (ImportTarget.CRM, ImportTarget.PHONE, ImportTarget.EMAIL, *SOCIAL_TARGETS)


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
        CONTROL.sub("", h)[:100] or _("Column {n}").format(n=i + 1) for i, h in enumerate(rows[0])
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
    for target in (*KEY_TARGETS, ImportTarget.TAGS):
        if sum(1 for t in chosen.values() if t is target) > 1:
            raise InvalidInput(_("Choose each kind for one column only."), field="mapping")
    if not any(t in KEY_TARGETS for t in chosen.values()):
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

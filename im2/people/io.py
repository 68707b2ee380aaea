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

The code lives in three modules beside this one, which stays the one callers import:
`io_tables` (reading a file, the column mapping), `io_import` (checking and writing rows) and
`io_export` (the export).
"""

from __future__ import annotations

from im2.people.io_export import EXPORT_COLUMNS, MAX_EXPORT_ROWS, export_people
from im2.people.io_import import (
    MAX_ROW_ERRORS,
    PREVIEW_ROWS,
    ROW_PROBLEMS,
    do_import_people,
)
from im2.people.io_tables import (
    MAX_COLUMNS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    check_mapping,
    guess_mapping,
    read_table,
)

__all__ = [
    "EXPORT_COLUMNS",
    "MAX_COLUMNS",
    "MAX_EXPORT_ROWS",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_ROWS",
    "MAX_ROW_ERRORS",
    "PREVIEW_ROWS",
    "ROW_PROBLEMS",
    "check_mapping",
    "do_import_people",
    "export_people",
    "guess_mapping",
    "read_table",
]

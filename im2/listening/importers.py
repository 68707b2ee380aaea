"""Reading mention files (CSV, TSV, JSON, JSONL) into `MentionIn` rows, pure and streaming.

Bad input never stops the good rows: each broken row becomes a `RowError` with its line number
(for JSON arrays, its item number), and the caller imports the rest. Problems with the whole
file (an encoding nobody can read, columns the mapping needs but the file lacks) raise
`FileProblem` before anything is imported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from charset_normalizer import from_bytes
from pydantic import ValidationError

from im2.i18n import N_, _
from im2.listening.formats import ColumnSpec, MentionField
from im2.listening.schemas import (
    CONTROL_CHARS,
    MAX_COUNT,
    MAX_TEXT,
    MentionIn,
    Platform,
    RowError,
)

MAX_ROW_ERRORS: Final = 500
# A JSON file nested deeper than any export is (Twitter archives go 4 deep) is broken or hostile;
# Python's parser would exhaust its recursion limit on it.
MAX_JSON_DEPTH: Final = 64
# Rows can be big (a WeChat article), but a "row" of hundreds of megabytes is a broken file.
csv.field_size_limit(64 * 1024 * 1024)


class FileFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    JSON = "json"
    JSONL = "jsonl"


class FileProblem(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# What can be wrong with one row: a code (stored with the import, in the API's answer) and the
# message it stands for, put into words in the reader's language when the report is shown.
ROW_PROBLEMS: Final = {
    "text_empty": N_("the text is empty"),
    "not_text": N_("{field} must be text, not a list or an object"),
    "unknown_platform": N_("unknown platform “{value}”"),
    "bad_time": N_("the time “{value}” is not a date"),
    "not_a_count": N_("{field} “{value}” is not a count"),
    "count_too_large": N_(
        "{field} “{value}” is larger than {limit}, the largest count that can be stored"
    ),
    "cannot_store": N_("{field} has a value that cannot be stored"),
    "csv_unreadable": N_("the row cannot be read as CSV; check its quotes"),
    "column_count": N_("expected {n} columns, found {m}"),
    "json_invalid_at": N_("not valid JSON (column {col})"),
    "json_invalid": N_("not valid JSON"),
    "not_an_object": N_("not an object"),
    "too_deep": N_("nested more than {n} levels deep"),
    "row_unusable": N_("the row cannot be imported"),
}


class RowProblem(ValueError):
    """Why a row was not imported: `code` (a key of ROW_PROBLEMS) and the message's values."""

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(code)

    def __str__(self) -> str:
        return _(ROW_PROBLEMS[self.code]).format(**self.params)


def row_error_text(error: RowError) -> str:
    """A stored row error in the reader's language; rows stored before codes keep their words."""
    if error.code in ROW_PROBLEMS:
        try:
            return _(ROW_PROBLEMS[error.code]).format(**error.params)
        except (KeyError, IndexError):
            # Params that no longer fit the current wording: the stored English words stand.
            return error.message
    return error.message


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    mention: MentionIn | None
    problem: RowProblem | None
    truncated: bool = False

    @property
    def error(self) -> str | None:
        return None if self.problem is None else str(self.problem)

    def error_record(self) -> dict[str, Any]:
        """The row's entry in the import's stored list of errors (see RowError)."""
        problem = self.problem or RowProblem("row_unusable")
        return {
            "line": self.line,
            "message": str(problem),
            "code": problem.code,
            "params": problem.params,
        }


# --- encoding -------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK and
    GB2312, what Excel on Chinese Windows writes), then whatever charset-normalizer finds."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # An odd byte count (a file cut short) leaves half a character: U+FFFD, as for UTF-8.
        return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[: 1024 * 1024]).best()
    if best is None or best.encoding is None:
        raise FileProblem(_("The file's text encoding could not be recognised; save it as UTF-8."))
    return data.decode(best.encoding, errors="replace"), best.encoding


def guess_format(filename: str, text: str) -> FileFormat:
    name = filename.lower()
    if name.endswith((".jsonl", ".ndjson")):
        return FileFormat.JSONL
    if name.endswith((".json", ".js")):
        return FileFormat.JSON
    first = text.lstrip()[:1]
    if first in ("[", "{") and not name.endswith((".csv", ".tsv", ".txt")):
        return FileFormat.JSONL if first == "{" else FileFormat.JSON
    header = text.split("\n", 1)[0]
    if name.endswith(".tsv") or header.count("\t") > header.count(","):
        return FileFormat.TSV
    return FileFormat.CSV


# --- values ---------------------------------------------------------------------------------

_UNITS: Final = {"万": 10_000, "w": 10_000, "亿": 100_000_000, "k": 1_000, "m": 1_000_000}
# Spreadsheets write big numbers with an exponent ("1.2E+07").
_COUNT = re.compile(
    r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*(万|亿|w|k|m)?\+?\s*$", re.IGNORECASE
)
_TIME_FORMATS: Final = (
    "%a %b %d %H:%M:%S %z %Y",  # Twitter v1.1 / archive
    "%a %b %d %H:%M:%S UTC %Y",  # Sentiment140
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日",
)


class CountTooLarge(ValueError):
    """A count above what the database column holds (`MAX_COUNT`)."""


def parse_count(value: Any) -> int:
    """Engagement counts as exports write them: 1234, "1,234", "1.2万", "3亿", "10w+", "1.5k".

    Raises CountTooLarge above MAX_COUNT (what the database stores), ValueError for the rest."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise CountTooLarge(value) if value > 0 else ValueError(value)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(value)
        count = int(value)
    else:
        match = _COUNT.match(str(value))
        if not match:
            raise ValueError(value)
        try:
            number = Decimal(match.group(1).replace(",", ""))
        except InvalidOperation:
            raise ValueError(value) from None
        unit = (match.group(2) or "").lower()
        # Decimal, not float: a 400-digit count is then just too large, not infinite; and it is
        # compared before becoming an int ("1e999999999" would be a billion-digit int).
        if number.adjusted() > 30:  # more digits than any count: too large, before arithmetic
            raise CountTooLarge(value)
        exact = number * _UNITS.get(unit, 1)
        if exact > MAX_COUNT:
            raise CountTooLarge(value)
        count = int(exact.to_integral_value())
    if count > MAX_COUNT:
        raise CountTooLarge(value)
    return count


def parse_time(value: Any, zone: ZoneInfo) -> datetime:
    """A time as exports write it; naive times are wall-clock times in `zone`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 10**11 else float(value)  # ms or s
        return datetime.fromtimestamp(seconds, UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return parse_time(float(text), zone)
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if "UTC" in fmt:
                parsed = parsed.replace(tzinfo=UTC)
            break
    if parsed is None:
        raise ValueError(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _lookup(row: dict[str, Any], name: str) -> Any:
    if name in row:
        return row[name]
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def present_columns(spec: ColumnSpec, keys: set[str]) -> dict[MentionField, str]:
    """For each field, the first of its column names the file has (dotted names by prefix)."""
    found: dict[MentionField, str] = {}
    for mention_field, names in spec.columns.items():
        for name in names:
            if name in keys or name.split(".", 1)[0] in keys:
                found[mention_field] = name
                break
    return found


def check_columns(spec: ColumnSpec, keys: set[str]) -> dict[MentionField, str]:
    found = present_columns(spec, keys)
    missing = [f for f in spec.columns if f in spec.required and f not in found]
    if missing:
        wanted = "; ".join(f"{f.value} ({' / '.join(spec.columns[f])})" for f in missing)
        raise FileProblem(
            _(
                "The file lacks columns the mapping “{mapping}” needs: {wanted}. "
                "The file has: {have}."
            ).format(mapping=spec.key, wanted=wanted, have=", ".join(sorted(keys)[:30]) or "—")
        )
    return found


def map_row(
    row: dict[str, Any],
    *,
    spec: ColumnSpec,
    columns: dict[MentionField, str],
    zone: ZoneInfo,
    now: datetime,
) -> tuple[MentionIn, bool]:
    """(mention, truncated). Raises RowProblem for the row's report line."""

    def get(f: MentionField) -> Any:
        name = columns.get(f)
        value = None if name is None else _lookup(row, name)
        return value.strip() if isinstance(value, str) else value

    text = get(MentionField.TEXT)
    title = get(MentionField.TITLE)
    for f, value in ((MentionField.TEXT, text), (MentionField.TITLE, title)):
        if isinstance(value, dict | list):
            raise RowProblem("not_text", field=f.value)
    text = "\n".join(str(v) for v in (title, text) if v not in (None, ""))
    text = _clean(text)
    if not text.strip():
        raise RowProblem("text_empty")
    original_length = len(text)
    truncated = original_length > MAX_TEXT
    if truncated:
        text = text[:MAX_TEXT]
    platform = spec.platform
    if get(MentionField.PLATFORM):
        try:
            platform = Platform(str(get(MentionField.PLATFORM)).lower())
        except ValueError:
            raise RowProblem(
                "unknown_platform", value=_excerpt(get(MentionField.PLATFORM))
            ) from None
    values: dict[str, Any] = {}
    for f in (MentionField.FOLLOWERS, MentionField.LIKES, MentionField.REPOSTS):
        values[f.value] = _count(get(f), f)
    values["comments"] = _count(get(MentionField.COMMENTS), MentionField.COMMENTS)
    raw_time = get(MentionField.POSTED_AT)
    try:
        posted_at = now if raw_time in (None, "") else parse_time(raw_time, zone)
    except (ValueError, OverflowError, OSError):
        raise RowProblem("bad_time", value=_excerpt(raw_time)) from None
    author = _clean(str(get(MentionField.AUTHOR) or ""))[:200]
    post_id = get(MentionField.POST_ID)
    if post_id in (None, ""):
        # No id in the file (research data sets): the same author, time and text is the same
        # post, so importing the file twice still adds nothing.
        key = f"{author}\x1f{raw_time}\x1f{text}".encode(errors="surrogatepass")
        post_id = "h:" + hashlib.blake2b(key, digest_size=12).hexdigest()
    url = get(MentionField.URL)
    raw = {k: (_clean(v[:2000]) if isinstance(v, str) else v) for k, v in row.items() if k != "raw"}
    if truncated:
        raw["_original_length"] = original_length
    try:
        mention = MentionIn(
            platform=platform,
            post_id=str(post_id)[:128],
            text=text,
            url=str(url)[:1024] if url and str(url).startswith(("http://", "https://")) else None,
            author=author,
            posted_at=posted_at,
            raw=_jsonable(raw),
            **values,
        )
    except ValidationError as exc:
        # The values above are cut and checked to fit; this is the safety net, in words.
        where = ".".join(str(p) for p in exc.errors()[0].get("loc", ()))
        raise RowProblem("cannot_store", field=where) from None
    return mention, truncated


def _count(value: Any, f: MentionField) -> int:
    try:
        return parse_count(value)
    except CountTooLarge:
        raise RowProblem(
            "count_too_large", field=f.value, value=_excerpt(value), limit=MAX_COUNT
        ) from None
    except ValueError:
        raise RowProblem("not_a_count", field=f.value, value=_excerpt(value)) from None


def _clean(text: str) -> str:
    """What MentionIn does to its strings, early (the text is hashed and kept in `raw`): a lone
    surrogate from JSON becomes U+FFFD, control characters go."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return CONTROL_CHARS.sub("", text)


def _excerpt(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


# --- files ----------------------------------------------------------------------------------


def _records(text: str, file_format: FileFormat) -> tuple[set[str], Iterator[tuple[int, Any]]]:
    """(the keys of the records, an iterator of (line, record or an error string))."""
    if file_format in (FileFormat.CSV, FileFormat.TSV):
        delimiter = "\t" if file_format is FileFormat.TSV else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise FileProblem(_("The file is empty.")) from None
        except csv.Error:
            raise FileProblem(
                _("The header row cannot be read as CSV; check its quotes.")
            ) from None

        def rows() -> Iterator[tuple[int, Any]]:
            while True:
                start = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    yield start, RowProblem("csv_unreadable")
                    continue
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    yield (
                        start,
                        RowProblem("column_count", n=len(header), m=len(cells)),
                    )
                    continue
                yield start, dict(zip(header, cells, strict=True))

        return set(header), rows()
    if file_format is FileFormat.JSONL:
        lines = text.splitlines()
        keys: set[str] = set()
        for line in lines[:50]:
            try:
                first = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(first, dict):
                keys |= set(_unwrap(first))

        def jsonl_rows() -> Iterator[tuple[int, Any]]:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, RowProblem("json_invalid_at", col=exc.colno)
                    continue
                except (ValueError, RecursionError):
                    yield number, RowProblem("json_invalid")
                    continue
                yield (
                    number,
                    _unwrap(record) if isinstance(record, dict) else RowProblem("not_an_object"),
                )

        return keys, jsonl_rows()
    # A Twitter archive's tweets.js is JSON behind "window.YTD.tweets.part0 = ".
    body = text.lstrip()
    if body.startswith("window."):
        body = body[body.find("=") + 1 :]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise FileProblem(
            _(
                "The file is not valid JSON (line {line}, column {col}). "
                "For one object per line, use .jsonl."
            ).format(line=exc.lineno, col=exc.colno)
        ) from None
    except RecursionError:
        raise FileProblem(
            _("The JSON file is nested more than {n} levels deep.").format(n=MAX_JSON_DEPTH)
        ) from None
    except ValueError:
        raise FileProblem(_("The file is not valid JSON.")) from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    if not isinstance(data, list):
        raise FileProblem(_("The JSON file must hold a list of posts."))
    items = [_unwrap(d) if isinstance(d, dict) else d for d in data]
    keys = set()
    for item in items[:50]:
        if isinstance(item, dict):
            keys |= set(item)
    return keys, (
        (i, item if isinstance(item, dict) else RowProblem("not_an_object"))
        for i, item in enumerate(items, start=1)
    )


def _unwrap(record: dict[str, Any]) -> dict[str, Any]:
    # Archive items are {"tweet": {...}}; Graph API pages are {"data": [...]} handled above.
    if len(record) == 1 and isinstance(next(iter(record.values())), dict):
        inner: dict[str, Any] = next(iter(record.values()))
        return inner
    return record


def read_mentions(
    text: str,
    *,
    file_format: FileFormat,
    spec: ColumnSpec,
    now: datetime,
    timezone: str | None = None,
) -> Iterator[ParsedRow]:
    """Parse and map every row; raises FileProblem at once when the file cannot be used.

    Times without an offset are wall-clock times in `timezone` (the zone the importer chose,
    else the mapping's, else the workspace's: the caller resolves it), then the mapping's
    zone, then UTC; a time with an offset keeps its own."""
    keys, records = _records(text, file_format)
    columns = check_columns(spec, keys)
    zone = ZoneInfo(timezone or spec.timezone or "UTC")
    # CSV and TSV rows are flat: only JSON can nest.
    nested = file_format in (FileFormat.JSON, FileFormat.JSONL)

    def rows() -> Iterator[ParsedRow]:
        for line, record in records:
            if isinstance(record, RowProblem):
                yield ParsedRow(line, None, record)
                continue
            if nested and _depth(record) > MAX_JSON_DEPTH:
                yield ParsedRow(line, None, RowProblem("too_deep", n=MAX_JSON_DEPTH))
                continue
            try:
                mention, truncated = map_row(record, spec=spec, columns=columns, zone=zone, now=now)
            except RowProblem as problem:
                yield ParsedRow(line, None, problem)
                continue
            except ValueError:  # a check this module does not know of: still only this row
                yield ParsedRow(line, None, RowProblem("row_unusable"))
                continue
            yield ParsedRow(line, mention, None, truncated)

    return rows()


def _depth(value: Any) -> int:
    """How deep lists and objects nest in `value`, counted without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def row_error(line: int, message: str) -> RowError:
    return RowError(line=line, message=message)

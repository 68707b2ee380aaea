"""``im2 sentiment``: score a CSV or JSONL file of mentions with the shipped sentiment model.

Heavy modules (numpy and the model, rich's progress bar) are imported inside the command, so
importing this module (as ``im2 --help`` does) stays cheap.

The lead mounts ``sentiment_command`` on the main app (``app.command("sentiment")``); ``app``
here is the same command alone, for tests and for ``python -m im2.listening.cli``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console

# Only the light enum at import time: `im2 --help` imports this module, and the model (numpy)
# is loaded by the command itself.
from im2.listening.sentiment_labels import Language
from im2.spreadsheet import safe_record

if TYPE_CHECKING:
    from im2.listening.sentiment import SentimentResult

BATCH: Final = 2_000
PROGRESS_FROM: Final = 5_000  # rows; smaller files finish before a bar would be worth drawing
JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson"})
CSV_SUFFIXES: Final = frozenset({".csv", ".tsv"})
ENCODINGS: Final = ("utf-8-sig", "gb18030")  # gb18030 is a superset of GBK and GB2312
MAX_SHOWN: Final = 5  # bad rows named in the error message
ADDED: Final = ["sentiment", "confidence", "positive_probability"]  # the columns written

err = Console(stderr=True)


class InputError(Exception):
    """A problem with the user's file, reported as one line without a traceback."""


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """Text and the encoding that read it: UTF-8 (BOM or not), else GB18030/GBK."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InputError(f"{name} is neither UTF-8 nor GBK/GB18030 text; convert it to UTF-8 first")


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "tsv" if suffix == ".tsv" else "csv"
    raise InputError(f"{path.name}: unknown format {suffix or '(none)'}; use .csv, .tsv or .jsonl")


Record = tuple[int, dict[str, Any]]  # (line the row starts on, the row)


def read_records(text: str, fmt: str) -> tuple[list[str], list[Record], list[str]]:
    """Column names (in order of first appearance), the rows, and a message per row that
    cannot be read ("line 7: ..."). Strict: a stray quote is a broken row, not a field that
    swallows the rest of the file."""
    problems: list[str] = []
    rows: list[Record] = []
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON ({exc.msg}, column {exc.colno})")
                continue
            except (ValueError, RecursionError):
                problems.append(f"line {number}: not JSON")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {number}: not a JSON object")
                continue
            rows.append((number, record))
        columns = list(dict.fromkeys(key for _line, row in rows for key in row))
        return columns, rows, problems
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",", strict=True
    )
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # Strict mode stops at an unclosed quote ("unexpected end of data") and at a quote
            # in the middle of a field; either way the row starting here is broken.
            problems.append(f"line {start}: cannot be read as {fmt.upper()} ({exc})")
            continue
        if not cells:
            continue  # a blank line
        if header is None:
            header = cells
            continue
        if len(cells) != len(header):
            cells_text = "1 cell" if len(cells) == 1 else f"{len(cells)} cells"
            problems.append(f"line {start}: {cells_text}, but the header has {len(header)}")
            continue
        rows.append((start, dict(zip(header, cells, strict=True))))
    return header or [], rows, problems


def text_problems(rows: list[Record], column: str) -> list[str]:
    """Rows whose text cell is missing or not text (an empty string is text: it scores neutral)."""
    problems = []
    for line, row in rows:
        value = row.get(column)
        if column not in row:
            problems.append(f"line {line}: no '{column}'")
        elif value is None or isinstance(value, bool | list | dict):
            problems.append(f"line {line}: '{column}' is {json.dumps(value)[:20]}, not text")
    return problems


def summarise(problems: list[str], name: str, shown: int = MAX_SHOWN) -> str:
    """The first few problems and how many there are in all."""
    head = "; ".join(problems[:shown])
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    rows = "row" if len(problems) == 1 else "rows"
    return f"{name} has {len(problems)} bad {rows}, nothing was written: {head}{more}"


def write_records(columns: list[str], rows: list[dict[str, Any]], fmt: str) -> str:
    """The scored rows as JSONL (exactly as read) or CSV/TSV, whose text cells are escaped as in
    every export (`im2.spreadsheet`): the copy is opened in Excel, where a mention that starts
    with `=` or `@` would run as a formula."""
    out = io.StringIO(newline="")
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        writer = csv.DictWriter(
            out, fieldnames=columns, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(safe_record(row) for row in rows)
    return out.getvalue()


def default_output(path: Path) -> Path:
    """``mentions.csv`` -> ``mentions.scored.csv``: the input is never overwritten by default."""
    return path.with_name(f"{path.stem}.scored{path.suffix}")


def _batches(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), BATCH):
        yield texts[start : start + BATCH]


def score_texts(texts: list[str], language: Language | None) -> list[SentimentResult]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from im2.listening.sentiment import default_model

    model = default_model()
    if len(texts) < PROGRESS_FROM:
        return model.score(texts, language=language)
    results: list[SentimentResult] = []
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("scoring", total=len(texts))
        for batch in _batches(texts):
            results.extend(model.score(batch, language=language))
            progress.advance(task, len(batch))
    return results


def sentiment_command(
    file: Annotated[Path, typer.Argument(help="CSV, TSV or JSONL file of mentions.")],
    text_column: Annotated[str, typer.Option("--text-column", help="Column holding the text.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write (format from its extension). Default: FILE with .scored before "
            "the extension. '-' writes to standard output in the input's format.",
        ),
    ] = None,
    language: Annotated[
        Language | None,
        typer.Option("--language", help="Force zh or en instead of detecting it per text."),
    ] = None,
) -> None:
    """Add `sentiment` (positive/neutral/negative), `confidence` and `positive_probability`
    (the model's P(positive), 0-1: sort by it or choose your own threshold) to every row."""
    try:
        if not file.is_file():
            raise InputError(f"{file} does not exist or is not a file")
        in_fmt = _format(file)
        to_stdout = output is not None and str(output) == "-"
        out_fmt = in_fmt if output is None or to_stdout else _format(output)
        target = None if to_stdout else output or default_output(file)
        if target is not None and not target.parent.is_dir():
            raise InputError(f"cannot write {target}: the folder {target.parent} does not exist")
        text, encoding = decode(file.read_bytes(), file.name)
        columns, records, problems = read_records(text, in_fmt)
        if text_column not in columns and not problems:
            available = ", ".join(columns) if columns else "none (the file is empty)"
            raise InputError(f"column '{text_column}' not in {file.name}; available: {available}")
        problems += text_problems(records, text_column)
        if problems:
            raise InputError(summarise(problems, file.name))
    except InputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=2) from None

    rows = [row for _line, row in records]
    texts = [str(row.get(text_column) or "") for row in rows]
    results = score_texts(texts, language)
    for row, result in zip(rows, results, strict=True):
        row["sentiment"] = result.label.value
        row["confidence"] = round(result.confidence, 4)
        row["positive_probability"] = round(result.positive_probability, 4)
    out_columns = [c for c in columns if c not in ADDED]
    out_columns += ADDED
    rendered = write_records(out_columns, rows, out_fmt)

    counts = Counter(str(row["sentiment"]) for row in rows)
    summary = ", ".join(f"{counts[k]} {k}" for k in ("positive", "neutral", "negative"))
    if target is None:
        sys.stdout.write(rendered)
        sys.stdout.flush()
        err.print(f"scored {len(rows)} rows ({encoding}): {summary}", highlight=False)
        return
    # CSV gets a BOM so spreadsheet programs open Chinese text correctly; JSONL stays plain.
    try:
        write_whole(target, rendered, encoding="utf-8-sig" if out_fmt != "jsonl" else "utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {target}: {exc.strerror}", highlight=False)
        raise typer.Exit(code=2) from None
    err.print(f"scored {len(rows)} rows ({encoding}): {summary} -> {target}", highlight=False)


def write_whole(target: Path, text: str, *, encoding: str) -> None:
    """Write beside `target`, then rename: the output is complete or absent (a full disk
    half-way leaves no half-written file)."""
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with part.open("w", encoding=encoding, newline="") as f:
            f.write(text)
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)


app = typer.Typer(add_completion=False)
app.command("sentiment")(sentiment_command)

if __name__ == "__main__":
    app()

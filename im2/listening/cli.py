"""``im2 sentiment``: score a CSV or JSONL file of mentions with the shipped sentiment model.

The lead mounts ``sentiment_command`` on the main app (``app.command("sentiment")``); ``app``
here is the same command alone, for tests and for ``python -m im2.listening.cli``.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from im2.listening.sentiment import Language, SentimentResult, default_model

BATCH: Final = 2_000
PROGRESS_FROM: Final = 5_000  # rows; smaller files finish before a bar would be worth drawing
JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson"})
CSV_SUFFIXES: Final = frozenset({".csv", ".tsv"})
ENCODINGS: Final = ("utf-8-sig", "gb18030")  # gb18030 is a superset of GBK and GB2312

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


def read_records(text: str, fmt: str, name: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names (in order of first appearance) and the rows."""
    if fmt == "jsonl":
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{name} line {number} is not JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise InputError(f"{name} line {number} is not a JSON object")
            rows.append(record)
        columns = list(dict.fromkeys(key for row in rows for key in row))
        return columns, rows
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if fmt == "tsv" else ",")
    rows = [dict(row) for row in reader]
    return list(reader.fieldnames or []), rows


def write_records(columns: list[str], rows: list[dict[str, Any]], fmt: str) -> str:
    out = io.StringIO(newline="")
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        writer = csv.DictWriter(
            out, fieldnames=columns, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def default_output(path: Path) -> Path:
    """``mentions.csv`` -> ``mentions.scored.csv``: the input is never overwritten by default."""
    return path.with_name(f"{path.stem}.scored{path.suffix}")


def _batches(texts: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(texts), BATCH):
        yield texts[start : start + BATCH]


def score_texts(texts: list[str], language: Language | None) -> list[SentimentResult]:
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
    """Add `sentiment` (positive/neutral/negative) and `confidence` columns to every row."""
    try:
        if not file.is_file():
            raise InputError(f"{file} does not exist or is not a file")
        in_fmt = _format(file)
        out_fmt = in_fmt if output is None or str(output) == "-" else _format(output)
        text, encoding = decode(file.read_bytes(), file.name)
        columns, rows = read_records(text, in_fmt, file.name)
        if text_column not in columns:
            available = ", ".join(columns) if columns else "none (the file is empty)"
            raise InputError(f"column '{text_column}' not in {file.name}; available: {available}")
    except InputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=2) from None

    texts = [str(row.get(text_column) or "") for row in rows]
    results = score_texts(texts, language)
    for row, result in zip(rows, results, strict=True):
        row["sentiment"] = result.label.value
        row["confidence"] = round(result.confidence, 4)
    out_columns = [c for c in columns if c not in ("sentiment", "confidence")]
    out_columns += ["sentiment", "confidence"]
    rendered = write_records(out_columns, rows, out_fmt)

    counts = Counter(str(row["sentiment"]) for row in rows)
    summary = ", ".join(f"{counts[k]} {k}" for k in ("positive", "neutral", "negative"))
    if output is not None and str(output) == "-":
        sys.stdout.write(rendered)
        sys.stdout.flush()
        err.print(f"scored {len(rows)} rows ({encoding}): {summary}", highlight=False)
        return
    target = output or default_output(file)
    # CSV gets a BOM so spreadsheet programs open Chinese text correctly; JSONL stays plain.
    target.write_text(rendered, encoding="utf-8-sig" if out_fmt != "jsonl" else "utf-8")
    err.print(f"scored {len(rows)} rows ({encoding}): {summary} -> {target}", highlight=False)


app = typer.Typer(add_completion=False)
app.command("sentiment")(sentiment_command)

if __name__ == "__main__":
    app()

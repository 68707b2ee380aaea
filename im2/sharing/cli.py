"""`im2 cascade FILE`: the share-tree metrics of the console, on a cascade from elsewhere.

An edge list (`parent child [time] [channel]`), one Twitter15/16 tree file, or a whole
Twitter15/16 archive (`.tar.xz`, read in memory). The summary goes to stdout (a table, or one
JSON object with `--json`); `--output FILE.csv` writes one row per tree (edge lists) or per
cascade (archives). Bad lines are reported with their line numbers and a non-zero exit.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from im2.spreadsheet import safe_cell

if TYPE_CHECKING:
    # numpy and the cascade code load when the command runs, not for `im2 cascade --help`.
    from im2.sharing.cascade import CascadeMetrics
    from im2.sharing.cascade_import import ForestBuild, TwitterCascade


class CascadeFormat(StrEnum):
    auto = "auto"
    edges = "edges"
    twitter = "twitter"
    twitter_archive = "twitter-archive"


_TWITTER_LINE = re.compile(r"^\s*\[\s*'")
_ARCHIVE_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz", ".tar.bz2", ".tar")


def detect_format(path: Path) -> CascadeFormat:
    """Archives by name; otherwise the first non-blank line tells a Twitter tree from edges."""
    if path.name.endswith(_ARCHIVE_SUFFIXES):
        return CascadeFormat.twitter_archive
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return (
                        CascadeFormat.twitter if _TWITTER_LINE.match(line) else CascadeFormat.edges
                    )
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    return CascadeFormat.edges


def _unreadable(path: Path, exc: Exception) -> typer.BadParameter:
    return typer.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE")


def _number(value: float, digits: int = 3) -> float | None:
    return None if math.isnan(value) else round(float(value), digits)


def summary(metrics: CascadeMetrics) -> dict[str, Any]:
    """The figures the console shows for a campaign, as plain JSON-ready values."""
    cycle = metrics.viral_cycle_time
    return {
        "participants": metrics.size,
        "trees": metrics.trees,
        "largest_tree": metrics.largest_tree,
        "brought_by_shares": metrics.k.invites_converted,
        "k_factor": _number(metrics.k.k_factor, 4),
        "k_factor_ci_95": [_number(metrics.k.ci_low, 4), _number(metrics.k.ci_high, 4)],
        "k_eligible": metrics.k.eligible,
        "depth": metrics.depth,
        "mean_depth": _number(metrics.mean_depth),
        "max_breadth": metrics.max_breadth,
        "structural_virality": _number(metrics.structural_virality),
        "largest_tree_structural_virality": _number(metrics.largest_tree_structural_virality),
        "viral_cycle_hours": None if math.isnan(cycle) else round(cycle / 3600, 3),
        "timed_edges": metrics.timed_edges,
        "negative_gaps": metrics.negative_gaps,
    }


def _tree_rows(build: ForestBuild, source: str) -> Iterator[dict[str, Any]]:
    import numpy as np

    from im2.sharing.cascade import tree_metrics

    per_tree = tree_metrics(build.forest)
    for t in np.argsort(-per_tree.size, kind="stable"):
        yield {
            "source": source,
            "root": build.ids[int(per_tree.root[t])],
            "size": int(per_tree.size[t]),
            "depth": int(per_tree.depth[t]),
            "mean_depth": _number(float(per_tree.mean_depth[t])),
            "max_breadth": int(per_tree.max_breadth[t]),
            "structural_virality": _number(float(per_tree.structural_virality[t])),
        }


def _cascade_row(cascade: TwitterCascade) -> dict[str, Any]:
    from im2.sharing.cascade import cascade_metrics

    figures = summary(cascade_metrics(cascade.build.forest))
    return {"cascade": cascade.tweet_id, "label": cascade.label or "", **figures}


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["source"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else safe_cell(v) for k, v in row.items()})
    partial.replace(path)  # never a half-written file under the final name


def _print_table(console: Console, title: str, figures: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    for key, value in figures.items():
        table.add_row(key.replace("_", " "), "—" if value is None else str(value))
    console.print(table)


def cascade_command(
    file: Annotated[Path, typer.Argument(help="Edge list, Twitter15/16 tree file or archive.")],
    fmt: Annotated[
        CascadeFormat, typer.Option("--format", help="What FILE is (default: guessed).")
    ] = CascadeFormat.auto,
    labels: Annotated[
        Path | None,
        typer.Option(help="Twitter15/16 label file (label:tweet_id lines) for an archive."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="CSV with one row per tree (or per archived cascade).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Share-tree metrics of a cascade file: size, depth, breadth, structural virality,
    K-factor and viral cycle time, as the console computes them for a campaign."""
    import numpy as np

    from im2.sharing.cascade import CascadeError, cascade_metrics
    from im2.sharing.cascade_import import (
        CascadeImportError,
        iter_twitter_archive,
        read_edge_list,
        read_twitter_labels,
        read_twitter_tree,
    )

    out = Console()
    err = Console(stderr=True, soft_wrap=True)
    if not file.is_file():
        err.print(f"[red]error:[/red] {file} is not a file")
        raise typer.Exit(2)
    try:
        kind = detect_format(file) if fmt is CascadeFormat.auto else fmt
        if kind is CascadeFormat.twitter_archive:
            names = read_twitter_labels(labels) if labels else None
            rows: list[dict[str, Any]] = []
            with _progress(err) as bar:
                task = bar.add_task("cascades", total=None)
                for cascade in iter_twitter_archive(file, labels=names):
                    rows.append(_cascade_row(cascade))
                    bar.advance(task)
            if not rows:
                err.print(f"[red]error:[/red] {file} holds no */tree/*.txt files")
                raise typer.Exit(2)
            sizes = np.array([r["participants"] for r in rows])
            figures: dict[str, Any] = {
                "cascades": len(rows),
                "participants": int(sizes.sum()),
                "largest_cascade": int(sizes.max()),
                "median_cascade": float(np.median(sizes)),
                "deepest": max(r["depth"] for r in rows),
                "mean_structural_virality": _number(
                    float(np.nanmean([r["structural_virality"] or np.nan for r in rows]))
                    if any(r["structural_virality"] is not None for r in rows)
                    else math.nan
                ),
            }
            per_row = rows
        else:
            if kind is CascadeFormat.twitter:
                build = read_twitter_tree(file).build
            else:
                build = read_edge_list(file).build
            figures = summary(cascade_metrics(build.forest))
            figures["implicit_roots"] = build.report.implicit_roots
            figures["dropped_records"] = int(build.report.dropped.size)
            per_row = list(_tree_rows(build, file.name))
    except CascadeImportError as exc:
        for problem in exc.errors[:20] or [str(exc)]:
            err.print(f"[red]error:[/red] {problem}", highlight=False)
        if len(exc.errors) > 20:
            err.print(f"… and {len(exc.errors) - 20} more")
        raise typer.Exit(2) from None
    except (CascadeError, typer.BadParameter) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if output is not None:
        try:
            _write_csv(output, per_row)
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot write {output}: {exc}")
            raise typer.Exit(2) from None
        err.print(f"{len(per_row)} rows written to {output}")
    if as_json:
        typer.echo(json.dumps({"file": str(file), "format": kind.value, **figures}))
    else:
        _print_table(out, f"{file.name} ({kind.value})", figures)

"""Parse uploaded follow / friend lists into labelled edges (small files, from the product).

Two shapes are accepted:

- a plain edge list, one ``u v`` or ``u v p`` per line, separated by spaces, tabs or commas
  (``#`` starts a comment), where ``u v`` means "u can influence v" (v follows u), as in the
  IMM format the CLI reads;
- a CSV file with a header row naming the columns: ``source``/``target`` (also ``from``/``to``,
  ``u``/``v``, ``src``/``dst``), or ``followee``/``follower`` (the person followed influences
  the follower), and optionally ``p``/``probability``/``weight``.

Every bad line is reported with its number (the first ``max_errors`` of them, plus a count);
self-loops and repeated edges are dropped and counted. Ids are kept as text.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from im2.i18n import _
from im2.influence.errors import GraphFormatError

DEFAULT_MAX_ERRORS = 20
MAX_ID_LENGTH = 200
SOURCE_NAMES = ("source", "from", "u", "src", "followee", "influencer")
TARGET_NAMES = ("target", "to", "v", "dst", "follower")
PROB_NAMES = ("p", "prob", "probability", "weight")


@dataclass(frozen=True)
class EdgeFile:
    src: list[str]
    dst: list[str]
    prob: list[float] | None
    lines_read: int
    self_loops_dropped: int
    duplicates_dropped: int
    with_header: bool

    @property
    def nodes(self) -> int:
        return len(set(self.src) | set(self.dst))


def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise GraphFormatError(
        _("{name}: neither UTF-8 nor GBK text; convert it to UTF-8").format(name=name)
    )


def _header(first: list[str]) -> tuple[int, int, int | None] | None:
    names = [cell.strip().lower() for cell in first]
    src = next((names.index(x) for x in SOURCE_NAMES if x in names), None)
    dst = next((names.index(x) for x in TARGET_NAMES if x in names), None)
    if src is None or dst is None or src == dst:
        return None
    prob = next((names.index(x) for x in PROB_NAMES if x in names), None)
    return src, dst, prob


def _rows(text: str) -> tuple[list[tuple[int, list[str]]], bool]:
    """(line number, fields) of every data line, and whether it was a CSV with a header."""
    lines = text.splitlines()
    first_data = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")),
        None,
    )
    if first_data is not None and "," in lines[first_data]:
        cells = next(csv.reader([lines[first_data]]))
        if _header(cells) is not None:
            reader = csv.reader(io.StringIO(text, newline=""))
            rows = [(reader.line_num, row) for row in reader]
            return [(n, row) for n, row in rows if any(c.strip() for c in row)], True
    rows = []
    for number, line in enumerate(lines, start=1):
        data = line.partition("#")[0].replace(",", " ").split()
        if data:
            rows.append((number, data))
    return rows, False


def parse_edge_file(
    data: bytes,
    *,
    name: str = "upload",
    directed: bool = True,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> EdgeFile:
    """Read ``data`` into edges; raises ``GraphFormatError`` listing bad lines by number."""
    text = _decode(data, name)
    rows, with_header = _rows(text)
    if with_header:
        src_col, dst_col, prob_col = _header(rows[0][1]) or (0, 1, None)
        rows = rows[1:]
        width = None
    else:
        src_col, dst_col, prob_col = 0, 1, None
        width = len(rows[0][1]) if rows else 2
        if width == 3:
            prob_col = 2
    if not rows:
        raise GraphFormatError(_("{name}: no edges (empty graph)").format(name=name))
    problems: list[str] = []
    total_bad = 0
    src: list[str] = []
    dst: list[str] = []
    prob: list[float] = []
    seen: set[tuple[str, str]] = set()
    loops = duplicates = 0
    for number, fields in rows:
        why = None
        if width is not None and len(fields) != width:
            expected = "u v p" if width == 3 else "u v"
            why = _("expected {width} fields ({expected}), found {found}").format(
                width=width, expected=expected, found=len(fields)
            )
        elif max(src_col, dst_col, prob_col or 0) >= len(fields):
            why = _("expected at least {n} columns").format(
                n=max(src_col, dst_col, prob_col or 0) + 1
            )
        else:
            u, v = fields[src_col].strip(), fields[dst_col].strip()
            p = 0.0
            if not u or not v:
                why = _("empty node id")
            elif len(u) > MAX_ID_LENGTH or len(v) > MAX_ID_LENGTH:
                why = _("node id longer than {n} characters").format(n=MAX_ID_LENGTH)
            elif prob_col is not None:
                raw = fields[prob_col].strip()
                try:
                    p = float(raw)
                except ValueError:
                    why = _("probability {value!r} is not a number").format(value=raw)
                else:
                    if not 0.0 <= p <= 1.0:
                        why = _("probability {value} is outside [0, 1]").format(value=raw)
        if why is not None:
            total_bad += 1
            if len(problems) < max_errors:
                problems.append("  " + _("line {number}: {why}").format(number=number, why=why))
            continue
        if total_bad:
            continue  # the file is refused anyway; keep only collecting errors
        if u == v:
            loops += 1
            continue
        key = (u, v) if directed else (min(u, v), max(u, v))
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        src.append(u)
        dst.append(v)
        prob.append(p)
    if total_bad:
        more = ""
        if total_bad > len(problems):
            more = "\n  " + _("... and {n} more").format(n=total_bad - len(problems))
        shown = "\n".join(problems)
        title = _("{name}: {n} bad line(s)").format(name=name, n=total_bad)
        raise GraphFormatError(f"{title}\n{shown}{more}")
    if not src:
        raise GraphFormatError(
            _("{name}: no edges left after dropping self-loops (empty graph)").format(name=name)
        )
    return EdgeFile(
        src=src,
        dst=dst,
        prob=prob if prob_col is not None else None,
        lines_read=len(rows),
        self_loops_dropped=loops,
        duplicates_dropped=duplicates,
        with_header=with_header,
    )

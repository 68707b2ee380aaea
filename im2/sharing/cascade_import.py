"""Turn who-brought-whom records with arbitrary ids into a `ShareForest`.

`forest_from_edges` applies the share-tree rules to raw edges: first touch wins (per child the
earliest edge is kept, ties going to the earlier record), self-loops are dropped, cycles are
broken, and every dropped record is reported by its position. The parsers read plain edge lists
and the Twitter15/16 retweet trees (Ma, Gao, Wong 2017), from single files or straight from the
dataset's `.tar.xz` archives; a malformed line gives a `CascadeImportError` naming the source
and line number, or is collected and skipped when the caller asks for that.
"""

from __future__ import annotations

import csv
import itertools
import lzma
import math
import re
import tarfile
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path, PurePosixPath
from typing import Literal

import numpy as np
import numpy.typing as npt

from im2.sharing.cascade import NO_CHANNEL, IntArray, ShareForest, build_forest, find_cycles

ErrorMode = Literal["raise", "collect"]
TwitterIdentity = Literal["user", "post"]

# Ids meaning "came on their own" in the parent column of an edge list.
EDGE_LIST_ROOT_MARKERS = frozenset({"", "-", "ROOT"})
_HEADER_WORDS = frozenset({"parent", "parent_id", "from", "source", "inviter", "referrer"})


class DropReason(IntEnum):
    SELF_LOOP = 1  # a participant cannot bring themselves
    DUPLICATE = 2  # the same parent→child edge again
    LATER_PARENT = 3  # a second parent; first touch already claimed the child
    CYCLE = 4  # the latest edge of a cycle, dropped so the cycle gets a root


@dataclass(frozen=True, slots=True)
class LineError:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class CascadeImportError(ValueError):
    """A source that cannot be read; `errors` holds every problem found before stopping."""

    def __init__(self, errors: Sequence[LineError]) -> None:
        self.errors = tuple(errors)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{errors[0]}{more}")


@dataclass(frozen=True, eq=False, slots=True)
class EdgeReport:
    """What `forest_from_edges` kept and dropped; positions index the input records."""

    records: int
    dropped: IntArray
    reasons: IntArray  # a DropReason per dropped record
    implicit_roots: int  # ids seen only as a parent, made roots with unknown join time

    def count(self, reason: DropReason) -> int:
        return int(np.count_nonzero(self.reasons == reason))


@dataclass(frozen=True, eq=False, slots=True)
class ForestBuild:
    forest: ShareForest
    ids: tuple[Hashable, ...]  # node index → caller's id
    report: EdgeReport


def forest_from_edges(
    parents: Sequence[Hashable | None],
    children: Sequence[Hashable],
    *,
    times: npt.ArrayLike | None = None,
    channels: npt.ArrayLike | None = None,
) -> ForestBuild:
    """Build a forest from parallel columns of edge records.

    A parent of None declares the child a root (joined on its own, at its time); it competes in
    first touch like any edge, so an invite that arrived before the organic join still wins.
    Times are seconds, NaN when unknown (unknown sorts after every known time). Node ids are
    numbered in order of first appearance as a child, then parent-only ids. Each cycle left
    after first touch loses its edge with the latest time (then latest position), whose child
    becomes a root.
    """
    n_rec = len(children)
    if len(parents) != n_rec:
        raise ValueError(f"{len(parents)} parents for {n_rec} children")
    # dict.fromkeys and map(get) keep the per-record work in C: this is the hot loop of imports.
    keys = dict.fromkeys(itertools.chain(children, parents))
    keys.pop(None, None)
    index: dict[Hashable | None, int] = dict(zip(keys, range(len(keys)), strict=True))
    if len(index) and any(c is None for c in children):
        raise ValueError("a child id cannot be None")
    index[None] = -1
    child = np.fromiter(map(index.__getitem__, children), np.int64, n_rec)
    parent = np.fromiter(map(index.__getitem__, parents), np.int64, n_rec)
    del index[None]
    t = np.full(n_rec, np.nan) if times is None else np.asarray(times, dtype=np.float64)
    ch = (
        np.full(n_rec, NO_CHANNEL, dtype=np.int64)
        if channels is None
        else np.asarray(channels, dtype=np.int64)
    )
    if t.shape != (n_rec,) or ch.shape != (n_rec,):
        raise ValueError("times and channels must have one entry per record")
    n = len(index)
    pos = np.arange(n_rec)
    t_key = np.where(np.isnan(t), np.inf, t)
    dropped = [pos[parent == child]]
    reasons = [np.full(dropped[0].size, DropReason.SELF_LOOP, dtype=np.int64)]
    valid = pos[parent != child]
    order = valid[np.lexsort((valid, t_key[valid], child[valid]))]
    first = np.ones(order.size, dtype=bool)
    first[1:] = child[order[1:]] != child[order[:-1]]
    kept = order[first]
    # Repeat i points at the kept record of the same child: sorted order puts it first.
    winner = kept[np.cumsum(first) - 1]
    repeats, repeat_winner = order[~first], winner[~first]
    dropped.append(repeats)
    reasons.append(
        np.where(
            parent[repeats] == parent[repeat_winner], DropReason.DUPLICATE, DropReason.LATER_PARENT
        ).astype(np.int64)
    )
    node_parent = np.full(n, -1, dtype=np.int64)
    node_time = np.full(n, np.nan)
    node_channel = np.full(n, NO_CHANNEL, dtype=np.int64)
    node_record = np.full(n, -1, dtype=np.int64)
    node_parent[child[kept]] = parent[kept]
    node_time[child[kept]] = t[kept]
    node_channel[child[kept]] = ch[kept]
    node_record[child[kept]] = kept
    on_cycle, label = find_cycles(node_parent)
    if on_cycle.size:
        rec = node_record[on_cycle]
        last = np.lexsort((rec, t_key[rec], label))
        is_last = np.ones(last.size, dtype=bool)
        is_last[:-1] = label[last[1:]] != label[last[:-1]]
        cut = on_cycle[last[is_last]]
        node_parent[cut] = -1
        dropped.append(node_record[cut])
        reasons.append(np.full(cut.size, DropReason.CYCLE, dtype=np.int64))
    all_dropped = np.concatenate(dropped)
    by_pos = np.argsort(all_dropped, kind="stable")
    report = EdgeReport(
        records=n_rec,
        dropped=all_dropped[by_pos],
        reasons=np.concatenate(reasons)[by_pos],
        implicit_roots=int(np.count_nonzero(node_record < 0)),
    )
    forest = build_forest(node_parent, time=node_time, channel=node_channel)
    return ForestBuild(forest=forest, ids=tuple(index), report=report)


# ---- plain edge lists -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class EdgeListImport:
    build: ForestBuild
    channel_names: tuple[str, ...]  # channel code → name as written in the file
    skipped: tuple[LineError, ...]  # lines skipped in "collect" mode


def _parse_time(text: str) -> float:
    """Seconds as a number, or an ISO 8601 timestamp (naive ones are taken as UTC)."""
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text)  # ValueError carries a readable message
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.timestamp()
    if not math.isfinite(value):
        raise ValueError(f"time {text!r} is not a finite number")
    return value


def parse_edge_list(
    lines: Iterable[str],
    *,
    source: str = "<edges>",
    delimiter: str | None = None,
    root_markers: frozenset[str] = EDGE_LIST_ROOT_MARKERS,
    errors: ErrorMode = "raise",
) -> EdgeListImport:
    """Read `parent child [time] [channel]` records, comma- or whitespace-separated.

    The delimiter is guessed from the first record (a comma means CSV, with quoting) unless
    given. Blank lines and lines starting with '#' are skipped, as is a first record whose first
    field is a header word such as 'parent'. A parent in `root_markers` makes the child a root.
    Ids are kept as strings; channels are names, coded 0, 1, … in order of first appearance.
    """
    parents: list[str | None] = []
    children: list[str] = []
    times: list[float] = []
    channels: list[int] = []
    names: dict[str, int] = {}
    problems: list[LineError] = []
    first = True
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if delimiter is None:
            delimiter = "," if "," in line else ""
        fields = (
            [f.strip() for f in next(csv.reader([line], delimiter=delimiter))]
            if delimiter
            else line.split()
        )
        if first and fields[0].lower() in _HEADER_WORDS:
            first = False
            continue
        first = False
        try:
            if not 2 <= len(fields) <= 4:
                raise ValueError(
                    f"expected 2 to 4 fields (parent child [time] [channel]), got {len(fields)}"
                )
            if not fields[1]:
                raise ValueError("the child id is empty")
            when = _parse_time(fields[2]) if len(fields) > 2 else math.nan
        except ValueError as exc:
            problems.append(LineError(source, number, str(exc)))
            if errors == "raise":
                raise CascadeImportError(problems) from None
            continue
        parents.append(None if fields[0] in root_markers else fields[0])
        children.append(fields[1])
        times.append(when)
        label = fields[3] if len(fields) > 3 else ""
        channels.append(names.setdefault(label, len(names)) if label else NO_CHANNEL)
    build = forest_from_edges(parents, children, times=times, channels=channels)
    return EdgeListImport(build=build, channel_names=tuple(names), skipped=tuple(problems))


def read_edge_list(path: Path, *, errors: ErrorMode = "raise") -> EdgeListImport:
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_edge_list(handle, source=str(path), errors=errors)


# ---- Twitter15/16 retweet trees ---------------------------------------------------------------

_NODE = r"\[[ \t]*'([^'\n]*)'[ \t]*,[ \t]*'([^'\n]*)'[ \t]*,[ \t]*'([^'\n]*)'[ \t]*\]"
_TWITTER_EDGE = re.compile(rf"^[ \t]*{_NODE}[ \t]*->[ \t]*{_NODE}[ \t]*\r?$", re.MULTILINE)
# The dataset's own spacing, matched about twice as fast as the tolerant pattern above.
_FIELD = r"'([^'\n]*)'"
_TWITTER_EDGE_EXACT = re.compile(
    rf"^\[{_FIELD}, {_FIELD}, {_FIELD}\]->\[{_FIELD}, {_FIELD}, {_FIELD}\]$", re.MULTILINE
)
_NON_BLANK = re.compile(r"^[ \t\r]*\S", re.MULTILINE)
_ROOT = "ROOT"


@dataclass(frozen=True, eq=False, slots=True)
class TwitterCascade:
    """One source tweet's retweet tree.

    With identity "user" (the default) a node is a Twitter user: a person who retweeted the
    story several times joins once, at the earliest of their edges (first touch), which is what
    a share tree of participants means and what Goel et al. measure (adopters, not posts). With
    identity "post" a node is the dataset's (uid, tweet id, delay) triple, so repeated retweets
    by one user stay apart and only exact repeats of a line collapse. Join times are the child's
    delay in seconds after the source tweet (negative delays exist in the data and are kept).
    """

    tweet_id: str
    label: str | None
    build: ForestBuild
    skipped: tuple[LineError, ...]


_TWITTER_SHAPE = "['uid', 'tweet_id', 'delay']->['uid', 'tweet_id', 'delay']"


def _twitter_rows(
    text: str, source: str, errors: ErrorMode
) -> tuple[list[tuple[str, ...]], npt.NDArray[np.float64], list[LineError]]:
    """Edge rows, child delays in minutes, and problems of one tree file.

    A well-formed file is matched and converted in C-level passes; only when that fails are the
    lines walked one by one, to name each bad line.
    """
    data_lines = len(_NON_BLANK.findall(text))
    rows: list[tuple[str, ...]] = _TWITTER_EDGE_EXACT.findall(text)
    if len(rows) != data_lines:
        rows = _TWITTER_EDGE.findall(text)
    if len(rows) == data_lines:
        try:
            delays = np.array([row[5] for row in rows], dtype=np.float64)
        except ValueError:
            delays = np.full(1, np.nan)
        if np.isfinite(delays).all():
            return rows, delays, []
    rows, problems, values = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _TWITTER_EDGE.fullmatch(line)
        delay = _float_or_nan(match.group(6)) if match else math.nan
        if match is None or not math.isfinite(delay):
            message = (
                f"expected {_TWITTER_SHAPE}, got {line.strip()[:80]!r}"
                if match is None
                else f"child delay {match.group(6)!r} is not a finite number"
            )
            problems.append(LineError(source, number, message))
            if errors == "raise":
                raise CascadeImportError(problems)
            continue
        rows.append(match.groups())
        values.append(delay)
    return rows, np.array(values, dtype=np.float64), problems


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def parse_twitter_tree(
    text: str,
    *,
    source: str,
    tweet_id: str | None = None,
    label: str | None = None,
    identity: TwitterIdentity = "user",
    errors: ErrorMode = "raise",
) -> TwitterCascade:
    """Read a tree file's text: `['uid', 'tweet_id', 'delay_min']->[…same…]` per line.

    A parent of `['ROOT', 'ROOT', …]` marks the source tweet's author, wherever the line is (a
    few dataset files put it later than line 1). Parents that never appear as a child become
    roots with unknown time (`report.implicit_roots`); self-loops, which the dataset has, are
    dropped and reported.
    """
    rows, delays, problems = _twitter_rows(text, source, errors)
    parents: list[Hashable | None]
    children: list[Hashable]
    if identity == "user":
        parents = [None if row[0] == _ROOT else row[0] for row in rows]
        children = [row[3] for row in rows]
    else:
        parents = [None if row[0] == _ROOT else row[0:3] for row in rows]
        children = [row[3:6] for row in rows]
    build = forest_from_edges(parents, children, times=delays * 60.0)
    name = tweet_id if tweet_id is not None else PurePosixPath(source).stem
    return TwitterCascade(tweet_id=name, label=label, build=build, skipped=tuple(problems))


def read_twitter_tree(
    path: Path,
    *,
    label: str | None = None,
    identity: TwitterIdentity = "user",
    errors: ErrorMode = "raise",
) -> TwitterCascade:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CascadeImportError([LineError(str(path), 0, f"cannot read: {exc}")]) from None
    return parse_twitter_tree(text, source=str(path), label=label, identity=identity, errors=errors)


def parse_twitter_labels(lines: Iterable[str], *, source: str) -> dict[str, str]:
    """Read `label:source_tweet_id` lines into {tweet id: label}."""
    labels: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        label, sep, tweet = line.partition(":")
        if not sep or not label or not tweet.strip().isdigit():
            raise CascadeImportError([LineError(source, number, "expected label:tweet_id")])
        labels[tweet.strip()] = label
    return labels


def read_twitter_labels(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as handle:
        return parse_twitter_labels(handle, source=str(path))


def _archive_trees(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (member name, text) for every `*/tree/*.txt`, decompressing in memory."""
    try:
        with tarfile.open(path, mode="r|*") as archive:
            for member in archive:
                name = PurePosixPath(member.name)
                if not member.isfile() or name.parent.name != "tree" or name.suffix != ".txt":
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                try:
                    text = handle.read().decode("utf-8")
                except UnicodeDecodeError as exc:
                    where = LineError(f"{path}:{member.name}", 0, f"not UTF-8 text: {exc}")
                    raise CascadeImportError([where]) from None
                yield member.name, text
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as exc:
        where = LineError(str(path), 0, f"cannot read archive: {exc}")
        raise CascadeImportError([where]) from None


def iter_twitter_archive(
    path: Path,
    *,
    labels: Mapping[str, str] | None = None,
    identity: TwitterIdentity = "user",
    errors: ErrorMode = "raise",
) -> Iterator[TwitterCascade]:
    """Stream every tree of a dataset archive in archive order; nothing is written to disk."""
    for member, text in _archive_trees(path):
        tweet_id = PurePosixPath(member).stem
        yield parse_twitter_tree(
            text,
            source=f"{path}:{member}",
            tweet_id=tweet_id,
            label=None if labels is None else labels.get(tweet_id),
            identity=identity,
            errors=errors,
        )


def load_twitter_dataset(
    data_dir: Path,
    name: Literal["twitter15", "twitter16"],
    *,
    identity: TwitterIdentity = "user",
    errors: ErrorMode = "raise",
) -> Iterator[TwitterCascade]:
    """Stream `<data_dir>/<name>.tar.xz`, labelled from `<name>_label.txt` when present."""
    label_path = data_dir / f"{name}_label.txt"
    labels = read_twitter_labels(label_path) if label_path.exists() else None
    return iter_twitter_archive(
        data_dir / f"{name}.tar.xz", labels=labels, identity=identity, errors=errors
    )

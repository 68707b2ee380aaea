"""Load and validate influence graphs into compressed arrays.

Accepted text formats, one edge per line, fields separated by whitespace or commas:

- ``u v`` (plain edge list, e.g. SNAP files) and
- ``u v p`` (IMM/TIM format, ``p`` the activation probability or LT weight of the edge).

Lines starting with ``#`` and blank lines are skipped; text after ``#`` on a line is ignored.
Node ids may be any integers or strings; they are mapped to ``0..n-1`` and the original ids
are kept in ``Graph.labels`` so results can be printed back in the user's terms. An IMM
``attribute.txt`` (``n=...`` / ``m=...``) next to the edge file fixes ``n`` so that isolated
nodes still count in the spread denominators.

Malformed input is refused rather than skipped: a seed set computed from a silently truncated
graph looks plausible and is wrong, so every bad line (up to ``max_errors``) is listed with its
line number in one ``GraphFormatError``. Self-loops and repeated edges cannot influence anyone
new, so they are dropped and counted in the ``LoadReport`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numba import njit

from im2.influence.errors import GraphFormatError

ProbabilityKind = Literal["file", "wc", "const"]

DEFAULT_MAX_ERRORS = 20


@dataclass(frozen=True)
class Probability:
    """How edge probabilities (IC) or weights (LT) are obtained.

    ``file`` uses the third column, ``wc`` is the weighted cascade ``1 / in-degree(v)`` and
    ``const`` gives every edge ``value``.
    """

    kind: ProbabilityKind
    value: float = 0.0

    def describe(self) -> str:
        if self.kind == "const":
            return f"constant {self.value:g}"
        return {"file": "from file", "wc": "weighted cascade (1/in-degree)"}[self.kind]


def parse_probability(spec: str) -> Probability:
    """Parse ``file``, ``wc`` or ``const:P`` (0 <= P <= 1) as typed on the command line."""
    text = spec.strip().lower()
    if text in ("file", "wc"):
        return Probability(kind="file" if text == "file" else "wc")
    if text.startswith("const:"):
        try:
            value = float(text.removeprefix("const:"))
        except ValueError:
            raise GraphFormatError(f"bad probability {spec!r}: const:P needs a number") from None
        if not 0.0 <= value <= 1.0:
            raise GraphFormatError(f"bad probability {spec!r}: P must be between 0 and 1")
        return Probability(kind="const", value=value)
    raise GraphFormatError(f"bad probability {spec!r}: expected file, wc or const:P")


@dataclass(frozen=True, eq=False)
class Graph:
    """A directed graph with one probability per edge, as compressed sparse rows.

    ``in_*`` lists incoming edges of each node (used to sample reverse-reachable sets),
    ``out_*`` outgoing edges (used to simulate cascades). Internal ids are ``0..n-1``;
    ``labels[i]`` is the original id of node ``i``. Arrays are read-only.
    """

    n: int
    labels: np.ndarray
    in_indptr: np.ndarray
    in_src: np.ndarray
    in_prob: np.ndarray
    out_indptr: np.ndarray
    out_dst: np.ndarray
    out_prob: np.ndarray

    @property
    def m(self) -> int:
        return int(self.in_src.shape[0])

    def out_degree(self) -> np.ndarray:
        return np.diff(self.out_indptr)

    def in_degree(self) -> np.ndarray:
        return np.diff(self.in_indptr)

    def label(self, node: int) -> str:
        return str(self.labels[node])

    def index_of(self, labels: list[str]) -> np.ndarray:
        """Internal ids of the given original ids; unknown ids raise ``GraphFormatError``."""
        lookup = {str(label): i for i, label in enumerate(self.labels.tolist())}
        missing = [label for label in labels if label not in lookup]
        if missing:
            shown = ", ".join(missing[:10])
            raise GraphFormatError(f"{len(missing)} node id(s) not in the graph: {shown}")
        return np.array([lookup[label] for label in labels], dtype=np.int32)


@dataclass(frozen=True)
class LoadReport:
    """What loading did to the input, for the user to check before trusting results."""

    source: str
    n: int
    m: int
    directed: bool
    probability: str
    lines_read: int = 0
    self_loops_dropped: int = 0
    duplicates_dropped: int = 0
    isolated_nodes: int = 0
    components: int = 0
    largest_component: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> list[str]:
        kind = "directed" if self.directed else "undirected (both directions)"
        lines = [
            f"graph {self.source}: {self.n:,} nodes, {self.m:,} directed edges, {kind}",
            f"probabilities: {self.probability}",
        ]
        if self.self_loops_dropped or self.duplicates_dropped:
            lines.append(
                f"dropped {self.self_loops_dropped:,} self-loop(s) and "
                f"{self.duplicates_dropped:,} duplicate edge(s)"
            )
        if self.components > 1:
            lines.append(
                f"not connected: {self.components:,} weakly connected components, "
                f"largest has {self.largest_component:,} nodes, "
                f"{self.isolated_nodes:,} isolated node(s)"
            )
        lines.extend(self.notes)
        return lines


@dataclass(frozen=True, eq=False)
class LoadedGraph:
    graph: Graph
    report: LoadReport


def _read_attribute_n(path: Path) -> int | None:
    """``n`` from an IMM ``attribute.txt`` beside the edge file, if there is one."""
    attribute = path.parent / "attribute.txt"
    if attribute == path or not attribute.is_file():
        return None
    for line in attribute.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "n" and value.strip().isdigit():
            return int(value.strip())
    return None


def _raise_bad_lines(source: str, problems: list[tuple[int, str]], total: int) -> None:
    shown = "\n".join(f"  line {number}: {why}" for number, why in problems)
    more = f"\n  ... and {total - len(problems)} more" if total > len(problems) else ""
    raise GraphFormatError(f"{source}: {total} bad line(s)\n{shown}{more}")


def _bad_float_lines(
    values: list[str], line_numbers: np.ndarray, max_errors: int
) -> tuple[list[tuple[int, str]], int]:
    problems: list[tuple[int, str]] = []
    total = 0
    for value, number in zip(values, line_numbers.tolist(), strict=True):
        try:
            p = float(value)
        except ValueError:
            why = f"probability {value!r} is not a number"
        else:
            if 0.0 <= p <= 1.0:
                continue
            why = f"probability {value} is outside [0, 1]"
        total += 1
        if len(problems) < max_errors:
            problems.append((number, why))
    return problems, total


def load_graph(
    path: Path,
    *,
    directed: bool = True,
    probability: Probability | None = None,
    max_errors: int = DEFAULT_MAX_ERRORS,
) -> LoadedGraph:
    """Read an edge-list file; ``probability=None`` means "from file if present, else wc"."""
    source = path.name
    try:
        data = path.read_bytes()
        data.decode("utf-8")  # only to refuse binary or mis-encoded files early
    except FileNotFoundError:
        raise GraphFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GraphFormatError(f"{path}: is a directory, expected an edge-list file") from None
    except UnicodeDecodeError as error:
        raise GraphFormatError(f"{path}: not UTF-8 text ({error.reason})") from None
    tokens, widths, line_numbers = _tokenize(data)
    if not tokens:
        raise GraphFormatError(f"{source}: no edges (empty graph)")
    width = 3 if int(widths[0]) == 3 else 2
    bad = np.flatnonzero(widths != width)
    if bad.size:
        fields = "u v p" if width == 3 else "u v"
        problems = [
            (int(line_numbers[i]), f"expected {width} fields ({fields}), found {int(widths[i])}")
            for i in bad[:max_errors]
        ]
        _raise_bad_lines(source, problems, int(bad.size))

    probs: np.ndarray | None = None
    if width == 3:
        try:
            probs = np.array(list(map(float, tokens[2::3])), dtype=np.float64)
        except ValueError:
            probs = None
        if probs is None or not ((probs >= 0.0) & (probs <= 1.0)).all():
            texts = [token.decode() for token in tokens[2::3]]
            problems, total = _bad_float_lines(texts, line_numbers, max_errors)
            _raise_bad_lines(source, problems, total)
    if probability is None:
        probability = Probability(kind="file" if probs is not None else "wc")
    if probability.kind == "file" and probs is None:
        raise GraphFormatError(
            f"{source}: probabilities requested from the file but it has only 'u v' columns; "
            "use wc or const:P"
        )

    notes: list[str] = []
    n_fixed = _read_attribute_n(path) if width == 3 else None
    src, dst, labels, n = _map_ids(tokens[0::width], tokens[1::width], n_fixed)
    if n_fixed is not None and n != n_fixed:
        notes.append(f"attribute.txt gives n={n_fixed} but node ids do not fit 0..n-1; ignored it")
    return graph_from_edges(
        src,
        dst,
        n=n,
        labels=labels,
        prob=probs,
        directed=directed,
        probability=probability,
        source=source,
        lines_read=int(widths.size),
        notes=tuple(notes),
    )


def _tokenize(data: bytes) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """Split into tokens and count them per data line, without a Python loop per line.

    Returns the tokens in file order, the number of tokens on each non-empty line and the
    1-based number of that line (for error messages).
    """
    if b"#" in data:
        data = b"\n".join(line.partition(b"#")[0] for line in data.split(b"\n"))
    if b"," in data:
        data = data.replace(b",", b" ")
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = raw == ord("\n")
    # bytes.split() separates on exactly these ASCII whitespace bytes.
    blank = newline | (raw == ord(" ")) | ((raw >= 9) & (raw <= 13))
    starts = ~blank
    starts[1:] &= blank[:-1]
    line_index = np.cumsum(newline)[starts]
    per_line = np.bincount(line_index, minlength=int(newline.sum()) + 1)
    data_lines = np.flatnonzero(per_line)
    return data.split(), per_line[data_lines], data_lines + 1


def _map_ids(
    src_tokens: list[bytes], dst_tokens: list[bytes], n_fixed: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Map original ids to ``0..n-1``: integers keep their order, other ids sort as text.

    Ids are read as integers only when that merges no two different spellings ("007" and
    "7", "1_000" and "1000"), so an id printed back is always one the user wrote.
    """
    tokens = src_tokens + dst_tokens
    try:
        ids: np.ndarray = np.array(list(map(int, tokens)), dtype=np.int64)
    except (ValueError, OverflowError):
        ids = np.array([token.decode() for token in tokens])
    labels, inverse = np.unique(ids, return_inverse=True)
    if ids.dtype == np.int64 and labels.shape[0] != len(set(tokens)):
        ids = np.array([token.decode() for token in tokens])
        labels, inverse = np.unique(ids, return_inverse=True)
    mapped = inverse.astype(np.int32)
    if n_fixed is not None and ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < n_fixed:
        # IMM files number nodes 0..n-1 and may leave some isolated: keep the numbering.
        mapped = ids.astype(np.int32)
        labels = np.arange(n_fixed, dtype=np.int64)
    half = len(src_tokens)
    return mapped[:half], mapped[half:], labels, int(labels.shape[0])


def graph_from_edges(
    src: np.ndarray,
    dst: np.ndarray,
    *,
    n: int | None = None,
    labels: np.ndarray | None = None,
    prob: np.ndarray | None = None,
    directed: bool = True,
    probability: Probability | None = None,
    source: str = "edges",
    lines_read: int = 0,
    notes: tuple[str, ...] = (),
) -> LoadedGraph:
    """Build a graph from internal ids ``0..n-1`` (e.g. a share tree read by a service).

    ``prob`` holds one value per given edge and is required when ``probability`` is ``file``
    (the default when ``prob`` is given; weighted cascade otherwise).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if src.shape != dst.shape or src.ndim != 1:
        raise GraphFormatError(f"{source}: src and dst must be 1-D arrays of the same length")
    if src.size == 0:
        raise GraphFormatError(f"{source}: no edges (empty graph)")
    if n is None:
        n = int(max(src.max(), dst.max())) + 1
    if min(int(src.min()), int(dst.min())) < 0 or max(int(src.max()), int(dst.max())) >= n:
        raise GraphFormatError(f"{source}: node ids must be in 0..{n - 1}")
    if probability is None:
        probability = Probability(kind="file" if prob is not None else "wc")
    if probability.kind == "file":
        if prob is None:
            raise GraphFormatError(f"{source}: probabilities requested but none given")
        prob = np.asarray(prob, dtype=np.float64)
        if prob.shape != src.shape:
            raise GraphFormatError(f"{source}: one probability per edge is needed")
        bad = np.flatnonzero(~((prob >= 0.0) & (prob <= 1.0)))
        if bad.size:
            raise GraphFormatError(
                f"{source}: probability {prob[bad[0]]} of edge {int(bad[0])} is outside [0, 1]"
            )
    else:
        prob = None

    loops = src == dst
    self_loops = int(loops.sum())
    if self_loops:
        src, dst = src[~loops], dst[~loops]
        prob = None if prob is None else prob[~loops]
    if src.size == 0:
        raise GraphFormatError(f"{source}: no edges left after dropping self-loops (empty graph)")

    # An undirected pair listed as both (u, v) and (v, u) is one edge written twice.
    a, b = (src, dst) if directed else (np.minimum(src, dst), np.maximum(src, dst))
    _, first = np.unique(a * n + b, return_index=True)
    duplicates = int(src.size - first.size)
    first.sort()
    src, dst = src[first], dst[first]
    prob = None if prob is None else prob[first]
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        prob = None if prob is None else np.concatenate([prob, prob])

    in_degree = np.bincount(dst, minlength=n)
    if probability.kind == "wc":
        prob = 1.0 / in_degree[dst]
    elif probability.kind == "const":
        prob = np.full(src.shape[0], probability.value)
    assert prob is not None  # "file" was checked above; keeps mypy aware
    graph = _compress(n, src, dst, prob, in_degree, labels)
    components, largest = _components(n, src.astype(np.int32), dst.astype(np.int32))
    touched = np.zeros(n, dtype=bool)
    touched[src] = True
    touched[dst] = True
    report = LoadReport(
        source=source,
        n=n,
        m=graph.m,
        directed=directed,
        probability=probability.describe(),
        lines_read=lines_read,
        self_loops_dropped=self_loops,
        duplicates_dropped=duplicates,
        isolated_nodes=int(n - touched.sum()),
        components=components,
        largest_component=largest,
        notes=notes,
    )
    return LoadedGraph(graph=graph, report=report)


def _compress(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    prob: np.ndarray,
    in_degree: np.ndarray,
    labels: np.ndarray | None,
) -> Graph:
    by_dst = np.argsort(dst, kind="stable")
    by_src = np.argsort(src, kind="stable")
    in_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(in_degree, out=in_indptr[1:])
    out_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=out_indptr[1:])
    graph = Graph(
        n=n,
        labels=np.arange(n, dtype=np.int64) if labels is None else labels,
        in_indptr=in_indptr,
        in_src=src[by_dst].astype(np.int32),
        in_prob=prob[by_dst].astype(np.float64),
        out_indptr=out_indptr,
        out_dst=dst[by_src].astype(np.int32),
        out_prob=prob[by_src].astype(np.float64),
    )
    for array in (graph.labels, graph.in_indptr, graph.in_src, graph.in_prob):
        array.flags.writeable = False
    for array in (graph.out_indptr, graph.out_dst, graph.out_prob):
        array.flags.writeable = False
    return graph


@njit(cache=True)
def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression keeps later finds near O(1)
        parent[x], x = root, parent[x]
    return root


@njit(cache=True)
def _component_sizes(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    parent = np.arange(n)
    for e in range(src.shape[0]):
        ru = _find(parent, src[e])
        rv = _find(parent, dst[e])
        if ru != rv:
            parent[max(ru, rv)] = min(ru, rv)
    sizes = np.zeros(n, dtype=np.int64)
    for v in range(n):
        sizes[_find(parent, v)] += 1
    return sizes


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[int, int]:
    """Number of weakly connected components and the size of the largest one."""
    sizes = _component_sizes(n, src, dst)
    return int((sizes > 0).sum()), int(sizes.max())


def check_lt_weights(graph: Graph, *, tolerance: float = 1e-4) -> None:
    """LT needs the incoming weights of each node to sum to at most 1.

    The tolerance admits files whose weights were rounded (IMM's NetHEPT stores 1/d with six
    significant digits, so some nodes sum to 1.000002); samplers treat the excess as zero.
    """
    heads = np.repeat(np.arange(graph.n), graph.in_degree())
    sums = np.bincount(heads, weights=graph.in_prob, minlength=graph.n)
    worst = int(np.argmax(sums)) if sums.size else 0
    if sums.size and sums[worst] > 1.0 + tolerance:
        over = int((sums > 1.0 + tolerance).sum())
        raise GraphFormatError(
            f"the linear threshold model needs incoming weights summing to at most 1, but "
            f"{over} node(s) exceed it (node {graph.label(worst)} sums to "
            f"{sums[worst]:.3g}); use wc probabilities or a smaller constant"
        )

"""Share-tree (cascade) metrics: a pure core over numpy arrays.

A share forest has one node per participant, numbered 0..n-1. `parent[i]` is the participant who
brought `i` (first touch), or -1 when `i` came on their own (a root: an organic joiner, or the
campaign itself if the caller models it as a node). `time[i]` is when `i` joined, in seconds on
any fixed clock (NaN when unknown), so the edge parent→child happened at `time[child]`;
`channel[i]` is the channel code of the share that brought `i` (-1 when unknown; a root may
carry the channel it arrived through, such as an ad).

Everything is vectorised. Depth, tree membership and subtree sizes come from one binary-lifting
pass (see `_climb`), which needs log2(max depth) rounds of whole-array operations whatever the
shape of the forest, and stops on its own when a cycle makes a node's ancestry endless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final, TypeVar

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

NO_PARENT: Final = -1
NO_CHANNEL: Final = -1
# The K-factor's invitation window: a participant's invitations count for K when the friend
# joins within it, and only people who joined at least this long before the end of
# observation are in K's cohort. Three days: share links are opened within hours (the
# demo's and the tests' viral cycle time is under a day), and the shortest campaign template
# with a K target runs 7 days, which leaves its first four days' joiners as the cohort.
K_WINDOW_SECONDS: Final = 3 * 86_400.0
K_CONFIDENCE: Final = 0.95

_Array = TypeVar("_Array", bound=np.ndarray)


class CascadeError(ValueError):
    """Input that cannot form a share forest; the message says what is wrong and where."""


class CascadeCycleError(CascadeError):
    """The parent array loops back on itself, so some participants have no root."""

    def __init__(self, cycle_nodes: IntArray, stranded: int) -> None:
        self.cycle_nodes = cycle_nodes
        self.stranded = stranded
        sample = ", ".join(str(int(i)) for i in cycle_nodes[:10])
        more = " …" if cycle_nodes.size > 10 else ""
        super().__init__(
            f"the share tree has cycles: {cycle_nodes.size} node(s) lie on a cycle "
            f"({sample}{more}) and {stranded} node(s) in all have no root"
        )


@dataclass(frozen=True, eq=False, slots=True)
class ShareForest:
    """A validated share forest with its structure; build it with `build_forest`.

    Arrays are read-only and indexed by node. Trees are numbered 0..n_trees-1 in the order of
    their root's node index.
    """

    parent: IntArray
    time: FloatArray
    channel: IntArray
    depth: IntArray  # edges between the node and its root
    tree: IntArray  # tree number of the node
    roots: IntArray  # root node of each tree
    subtree_size: IntArray  # the node plus all its descendants
    children: IntArray  # number of direct children

    @property
    def n_nodes(self) -> int:
        return int(self.parent.size)

    @property
    def n_trees(self) -> int:
        return int(self.roots.size)


@dataclass(frozen=True, slots=True)
class KFactor:
    """Viral coefficient: new participants brought per participant who had the chance to bring
    any, the way growth teams read it (above 1, each person brings more than one: the campaign
    grows by itself).

    By cohort: a participant had the chance when they joined at least `window` seconds before
    the end of observation (`eligible`); what they brought is their direct children (first
    touch) who joined within `window` of them (`brought`). K = brought / eligible is the mean
    offspring count of that cohort. For a Galton–Watson share process whose invitations land
    within the window it estimates the mean offspring, whatever the generation, and it needs no
    generation to be finished, which a running campaign rarely has. Dividing everyone brought
    by everyone (the naive ratio) is always below 1 for a finite campaign: every person brought
    is also in the denominator, and the newest have had no time to invite anyone.

    Without an end of observation (a finished cascade, such as an imported file) everyone is
    eligible and every child counts; that is the Harris estimator of the mean offspring over
    all generations, (nodes − roots) / nodes.

    `ci_low`..`ci_high` is the `confidence` interval of the mean by the normal approximation
    with the sample variance of the offspring counts (mean ± z·s/√n, the lower end clipped at
    0); NaN with fewer than two eligible participants. It is rough below ~30 eligible people,
    whose offspring counts are skewed.

    `invites_converted` is everyone brought by someone's share, of any age; with
    `invites_sent` from the share-link log, `invites_per_participant` and `conversion`
    describe the whole campaign (they are not factors of the cohort K).
    """

    participants: int
    invites_converted: int
    eligible: int
    brought: int
    window: float  # seconds; inf when every child counts
    std: float  # sample standard deviation of the eligible people's offspring counts
    ci_low: float
    ci_high: float
    confidence: float
    k_factor: float
    invites_sent: int | None = None
    invites_per_participant: float | None = None
    conversion: float | None = None


@dataclass(frozen=True, slots=True)
class CascadeMetrics:
    """Figures for a whole forest, or for one tree of it (then `trees` is 1).

    `structural_virality` is, for one tree, the mean shortest-path distance over all pairs of
    its nodes (Goel, Anderson, Hofman, Watts 2016). For a forest it is the mean of the per-tree
    values over trees with at least two nodes, weighted by tree size: a participant-weighted
    figure, so a campaign of many small chains and one big broadcast reads as what most
    participants experienced. A pair-weighted mean would be almost only the largest tree, which
    `largest_tree_structural_virality` already gives. NaN when no tree has two nodes.

    `breadth_per_level[d]` counts nodes at depth d summed over all trees (level 0 = roots);
    `max_breadth` is its maximum. `viral_cycle_time` is the median, over edges whose two join
    times are known, of child join time minus parent join time, in seconds; edges whose child
    joined before its parent (clock skew in imported data) are counted in `negative_gaps` and
    left out of the median. `channels` gives (channel code, joins via shares on it), sorted by
    code; joins with no known channel are under -1.
    """

    size: int
    trees: int
    largest_tree: int
    depth: int
    mean_depth: float
    max_breadth: int
    breadth_per_level: tuple[int, ...]
    structural_virality: float
    largest_tree_structural_virality: float
    k: KFactor
    viral_cycle_time: float
    timed_edges: int
    negative_gaps: int
    channels: tuple[tuple[int, int], ...]


@dataclass(frozen=True, eq=False, slots=True)
class TreeMetrics:
    """Per-tree figures as parallel read-only arrays indexed by tree number."""

    root: IntArray
    size: IntArray
    depth: IntArray
    mean_depth: FloatArray
    max_breadth: IntArray
    structural_virality: FloatArray  # NaN for single-node trees, where no pair exists


@dataclass(frozen=True, eq=False, slots=True)
class NodeMetrics:
    """Per-participant figures; `descendants` is the person's observed spread."""

    descendants: IntArray
    children: IntArray
    depth: IntArray
    tree: IntArray


def _frozen(array: _Array) -> _Array:
    array.flags.writeable = False
    return array


def _as_parent(parent: npt.ArrayLike) -> IntArray:
    arr = np.asarray(parent)
    if arr.ndim != 1:
        raise CascadeError(f"parent must be a 1-d array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise CascadeError(f"parent must hold integer node indices, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=True)
    n = out.size
    bad = np.flatnonzero((out < NO_PARENT) | (out >= n))
    if bad.size:
        i = int(bad[0])
        raise CascadeError(
            f"parent[{i}] = {int(out[i])} is not a node index in [0, {n}) nor -1 "
            f"({bad.size} such entries)"
        )
    loops = np.flatnonzero(out == np.arange(n))
    if loops.size:
        raise CascadeError(
            f"node {int(loops[0])} is its own parent ({loops.size} such self-loops); "
            "use -1 for participants who came on their own"
        )
    return out


def _climb(parent: IntArray) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Return depth, root, subtree size and the nodes stranded on or under a cycle.

    Binary lifting: in round k every node still 'active' knows its exact 2^k-th ancestor `anc`.
    With A_k(x) = nodes of x's subtree within distance < 2^k of x, A_{k+1}(x) adds A_k(z) for
    each z whose 2^k-th ancestor is x, which is one bincount. Depth and root double the same
    way. A node leaves the active set once its depth is below 2^k, so after
    ceil(log2(max depth + 1)) rounds nothing is active; a node still active after 2^k > n steps
    must be on or below a cycle.
    """
    n = parent.size
    has_parent = parent >= 0
    depth = has_parent.astype(np.int64)  # min(depth, 2^k)
    top = np.where(has_parent, parent, np.arange(n))  # ancestor at distance min(depth, 2^k)
    size = np.ones(n, dtype=np.float64)  # exact: counts stay far below 2^53
    active = np.flatnonzero(has_parent)
    anc = parent[active]
    anc_full = parent.copy()  # 2^k-th ancestor per node, -1 when it does not exist
    for _ in range(n.bit_length() + 1):
        if active.size == 0:
            break
        size += np.bincount(anc, weights=size[active], minlength=n)
        depth[active] += depth[anc]
        top[active] = top[anc]
        nxt = anc_full[anc]
        keep = nxt >= 0
        anc_full[active] = -1
        active = active[keep]
        anc = nxt[keep]
        anc_full[active] = anc
    return depth, top, size, active


def find_cycles(parent: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Return the nodes lying on a cycle of `parent` and, per such node, its cycle's label.

    The label is the smallest node index on that cycle. Nodes that merely hang below a cycle
    are not listed: breaking each cycle once frees them.
    """
    par = _as_parent(parent)
    _, _, _, stranded = _climb(par)
    if stranded.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n = par.size
    step = np.where(par >= 0, par, np.arange(n))
    jump = step.copy()
    for _ in range(n.bit_length() + 1):  # ≥ n steps land every stranded node on its cycle
        jump = jump[jump]
    on_cycle = np.unique(jump[stranded])
    label = np.arange(n)
    hop = step.copy()
    for _ in range(n.bit_length() + 1):  # min over ≥ n successors = min over the cycle
        label = np.minimum(label, label[hop])
        hop = hop[hop]
    return on_cycle, label[on_cycle]


def build_forest(
    parent: npt.ArrayLike,
    *,
    time: npt.ArrayLike | None = None,
    channel: npt.ArrayLike | None = None,
) -> ShareForest:
    """Validate a parent array (with optional join times and channels) and measure its shape.

    Raises `CascadeError` for out-of-range parents, self-loops or misshapen arrays and
    `CascadeCycleError` (listing the cycle nodes) when the parents loop; nothing here can hang.
    """
    par = _as_parent(parent)
    n = par.size
    times = np.full(n, np.nan) if time is None else np.asarray(time, dtype=np.float64).copy()
    chans = (
        np.full(n, NO_CHANNEL, dtype=np.int64)
        if channel is None
        else np.asarray(channel).astype(np.int64, copy=True)
    )
    for name, arr in (("time", times), ("channel", chans)):
        if arr.shape != (n,):
            raise CascadeError(f"{name} must have shape ({n},) like parent, got {arr.shape}")
    depth, root, size, stranded = _climb(par)
    if stranded.size:
        on_cycle, _ = find_cycles(par)
        raise CascadeCycleError(on_cycle, int(stranded.size))
    roots = np.flatnonzero(par < 0)
    tree_of_root = np.full(n, -1, dtype=np.int64)
    tree_of_root[roots] = np.arange(roots.size)
    children = np.bincount(par[par >= 0], minlength=n).astype(np.int64)
    return ShareForest(
        parent=_frozen(par),
        time=_frozen(times),
        channel=_frozen(chans),
        depth=_frozen(depth),
        tree=_frozen(tree_of_root[root]),
        roots=_frozen(roots),
        subtree_size=_frozen(size.astype(np.int64)),
        children=_frozen(children),
    )


def estimate_k(
    forest: ShareForest,
    *,
    end: float | None = None,
    window: float = K_WINDOW_SECONDS,
    nodes: IntArray | None = None,
    invites_sent: int | None = None,
    invites_converted: int | None = None,
    confidence: float = K_CONFIDENCE,
) -> KFactor:
    """The cohort K-factor of `nodes` (default: every node), observed until `end` (seconds on
    the forest's clock; None: the cascade is finished and everyone counts). See `KFactor`.

    With an end, a participant whose join time is unknown (NaN) is not eligible and a child
    whose join time is unknown is not counted: neither can be placed in the window.
    """
    if not (window > 0):
        raise CascadeError(f"the invitation window must be positive, got {window}")
    if not 0 < confidence < 1:
        raise CascadeError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if (invites_sent is not None and invites_sent < 0) or (
        invites_converted is not None and invites_converted < 0
    ):
        raise CascadeError("invite counts cannot be negative")
    members = np.arange(forest.n_nodes) if nodes is None else np.asarray(nodes, dtype=np.int64)
    child = members[forest.parent[members] >= 0]
    converted = int(child.size) if invites_converted is None else invites_converted
    if invites_sent is not None and converted > invites_sent:
        raise CascadeError(f"invites converted ({converted}) exceed invites sent ({invites_sent})")
    if end is None:
        eligible, counted, window = members, child, math.inf
    else:
        # A NaN time compares false both ways, which leaves the person out, as documented.
        eligible = members[forest.time[members] <= end - window]
        parent_time = forest.time[forest.parent[child]]
        counted = child[(forest.time[child] <= parent_time + window) & (forest.time[child] <= end)]
    offspring = np.bincount(forest.parent[counted], minlength=forest.n_nodes)[eligible]
    n = int(eligible.size)
    k = float(offspring.mean()) if n else math.nan
    std = float(offspring.std(ddof=1)) if n >= 2 else math.nan
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * std / math.sqrt(n) if n >= 2 else math.nan
    participants = int(members.size)
    per_participant: float | None = None
    conversion: float | None = None
    if invites_sent is not None:
        per_participant = invites_sent / participants if participants else math.nan
        conversion = converted / invites_sent if invites_sent else math.nan
    return KFactor(
        participants=participants,
        invites_converted=converted,
        eligible=n,
        brought=int(offspring.sum()),
        window=float(window),
        std=std,
        ci_low=max(0.0, k - half) if n >= 2 else math.nan,
        ci_high=k + half if n >= 2 else math.nan,
        confidence=confidence,
        k_factor=k,
        invites_sent=invites_sent,
        invites_per_participant=per_participant,
        conversion=conversion,
    )


def _structural_virality(
    forest: ShareForest, child: IntArray, tree_local: IntArray, tree_sizes: IntArray
) -> FloatArray:
    """Mean pairwise distance per tree, from the non-root nodes `child` of whole trees.

    Removing edge parent→x splits a tree of n nodes into x's subtree (s nodes) and the rest, so
    s·(n−s) pairs have their path through that edge: the summed distance over all pairs is the
    sum of s·(n−s) over edges, and the mean divides by n(n−1)/2. `tree_local[i]` numbers the
    tree of `child[i]` within `tree_sizes`.
    """
    s = forest.subtree_size[child].astype(np.float64)
    n_of = tree_sizes[tree_local].astype(np.float64)
    through = np.bincount(tree_local, weights=s * (n_of - s), minlength=tree_sizes.size)
    pairs = tree_sizes.astype(np.float64) * (tree_sizes - 1) / 2.0
    out: FloatArray = np.full(tree_sizes.size, np.nan)
    np.divide(through, pairs, out=out, where=pairs > 0)
    return out


def _max_breadth_per_tree(forest: ShareForest, sizes: IntArray) -> IntArray:
    # Single-person trees (most trees of a campaign) have breadth 1; counting only the rest
    # usually lets a dense tree × level table fit, which avoids sorting.
    out = np.ones(forest.n_trees, dtype=np.int64)
    grown = np.flatnonzero(sizes > 1)
    if grown.size == 0:
        return out
    local = np.full(forest.n_trees, -1, dtype=np.int64)
    local[grown] = np.arange(grown.size)
    node_local = local[forest.tree]
    members = node_local >= 0
    depth = forest.depth[members]
    levels = int(depth.max()) + 1
    keys = node_local[members] * levels + depth
    if grown.size * levels <= 4 * forest.n_nodes + 1024:
        table = np.bincount(keys, minlength=grown.size * levels).reshape(grown.size, levels)
        out[grown] = table.max(axis=1)
        return out
    # Many trees and a deep one: a dense table would not fit, so count occupied cells only.
    cells, counts = np.unique(keys, return_counts=True)
    widest = np.zeros(grown.size, dtype=np.int64)
    np.maximum.at(widest, cells // levels, counts)
    out[grown] = widest
    return out


def _channel_counts(codes: IntArray) -> tuple[tuple[int, int], ...]:
    if codes.size == 0:
        return ()
    low, high = int(codes.min()), int(codes.max())
    if high - low <= 4 * codes.size + 1024:  # channel codes are small: count without sorting
        counts = np.bincount(codes - low)
        present = np.flatnonzero(counts)
        return tuple((int(c) + low, int(counts[c])) for c in present)
    values, counts = np.unique(codes, return_counts=True)
    return tuple((int(v), int(k)) for v, k in zip(values, counts, strict=True))


def tree_metrics(forest: ShareForest) -> TreeMetrics:
    """Size, depth, mean depth, maximum breadth and structural virality of every tree."""
    t = forest.n_trees
    sizes = forest.subtree_size[forest.roots].copy()
    depth = np.zeros(t, dtype=np.int64)
    np.maximum.at(depth, forest.tree, forest.depth)
    depth_sum = np.bincount(forest.tree, weights=forest.depth, minlength=t)
    child = np.flatnonzero(forest.parent >= 0)
    sv = _structural_virality(forest, child, forest.tree[child], sizes)
    return TreeMetrics(
        root=_frozen(forest.roots.copy()),
        size=_frozen(sizes),
        depth=_frozen(depth),
        mean_depth=_frozen(depth_sum / np.maximum(sizes, 1)),
        max_breadth=_frozen(_max_breadth_per_tree(forest, sizes)),
        structural_virality=_frozen(sv),
    )


def node_metrics(forest: ShareForest) -> NodeMetrics:
    """Descendants, children, depth and tree number of every participant."""
    return NodeMetrics(
        descendants=_frozen(forest.subtree_size - 1),
        children=forest.children,
        depth=forest.depth,
        tree=forest.tree,
    )


def _cycle_time(forest: ShareForest, child: IntArray) -> tuple[float, int, int]:
    gaps = forest.time[child] - forest.time[forest.parent[child]]
    gaps = gaps[np.isfinite(gaps)]
    negative = int(np.count_nonzero(gaps < 0))
    gaps = gaps[gaps >= 0]
    median = float(np.median(gaps)) if gaps.size else math.nan
    return median, int(gaps.size) + negative, negative


def cascade_metrics(
    forest: ShareForest,
    *,
    tree: int | None = None,
    invites_sent: int | None = None,
    invites_converted: int | None = None,
    end: float | None = None,
    window: float = K_WINDOW_SECONDS,
) -> CascadeMetrics:
    """Figures for the whole forest, or for tree number `tree` alone.

    The K-factor is `estimate_k`'s over the nodes measured, observed until `end` (None: the
    cascade is finished, everyone counts) with the invitation window `window`. Invite counts
    come from the share-link log. When `invites_converted` is None the tree supplies it: every
    edge is one invite that turned into a join (first touch), so it is the number of non-root
    nodes. Participants are all nodes measured; a caller that models the campaign itself as a
    root node should pass counts that leave it out.
    """
    if tree is None:
        nodes = np.arange(forest.n_nodes)
        tree_sizes = forest.subtree_size[forest.roots]
        n_trees = forest.n_trees
    else:
        if not 0 <= tree < forest.n_trees:
            raise CascadeError(f"tree {tree} does not exist; the forest has {forest.n_trees}")
        nodes = np.flatnonzero(forest.tree == tree)
        tree_sizes = forest.subtree_size[forest.roots[tree : tree + 1]]
        n_trees = 1
    size = int(nodes.size)
    depth = forest.depth[nodes]
    breadth = np.bincount(depth) if size else np.zeros(0, dtype=np.int64)
    child = nodes[forest.parent[nodes] >= 0]
    tree_local = forest.tree[child] if tree is None else np.zeros(child.size, dtype=np.int64)
    sv = _structural_virality(forest, child, tree_local, tree_sizes)
    measured = np.isfinite(sv)
    forest_sv = (
        float(np.average(sv[measured], weights=tree_sizes[measured]))
        if measured.any()
        else math.nan
    )
    largest = int(np.argmax(tree_sizes)) if n_trees else 0
    cycle_time, timed, negative = _cycle_time(forest, child)
    k = estimate_k(
        forest,
        end=end,
        window=window,
        nodes=nodes,
        invites_sent=invites_sent,
        invites_converted=invites_converted,
    )
    return CascadeMetrics(
        size=size,
        trees=n_trees,
        largest_tree=int(tree_sizes[largest]) if n_trees else 0,
        depth=int(depth.max()) if size else 0,
        mean_depth=float(depth.mean()) if size else math.nan,
        max_breadth=int(breadth.max()) if size else 0,
        breadth_per_level=tuple(int(b) for b in breadth),
        structural_virality=forest_sv,
        largest_tree_structural_virality=float(sv[largest]) if n_trees else math.nan,
        k=k,
        viral_cycle_time=cycle_time,
        timed_edges=timed,
        negative_gaps=negative,
        channels=_channel_counts(forest.channel[child]),
    )

"""Exact expected spread on tiny graphs, by enumerating every live-edge world.

Both models have a live-edge form (Kempe, Kleinberg and Tardos 2003): under IC each edge is
live independently with its probability; under LT each node keeps at most one incoming edge,
edge (u, v) with its weight and none with ``1 - sum of weights``. The spread of S is the
expected number of nodes reachable from S over live edges. Enumerating all worlds is
exponential, so this exists to validate the samplers and to find true optima in tests and
demos on graphs of a dozen nodes, not for real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
from numba import njit

from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph, check_lt_weights
from im2.influence.rrsets import Model

MAX_NODES = 64  # reachable sets are 64-bit masks
DEFAULT_MAX_WORLDS = 1 << 20

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return int((x * _H01) >> np.uint64(56))


@njit(cache=True)
def _enumerate(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    group_ptr: np.ndarray,
    option_edge: np.ndarray,
    option_prob: np.ndarray,
    candidates: np.ndarray,
) -> np.ndarray:
    """Sum over worlds of Pr[world] * |reach(S)| for every candidate seed mask S.

    A world picks one option per group (mixed-radix counter over the groups); an option is
    one live edge or none (-1).
    """
    groups = group_ptr.shape[0] - 1
    choice = np.zeros(groups, dtype=np.int64)
    live = np.zeros(src.shape[0], dtype=np.bool_)
    reach = np.zeros(n, dtype=np.uint64)
    totals = np.zeros(candidates.shape[0], dtype=np.float64)
    while True:
        p = 1.0
        live[:] = False
        for g in range(groups):
            o = group_ptr[g] + choice[g]
            p *= option_prob[o]
            if option_edge[o] >= 0:
                live[option_edge[o]] = True
        if p > 0.0:
            for v in range(n):
                reach[v] = np.uint64(1) << np.uint64(v)
            changed = True
            while changed:  # at most n rounds: paths are at most n - 1 edges long
                changed = False
                for e in range(src.shape[0]):
                    if live[e]:
                        merged = reach[src[e]] | reach[dst[e]]
                        if merged != reach[src[e]]:
                            reach[src[e]] = merged
                            changed = True
            for c in range(candidates.shape[0]):
                union = np.uint64(0)
                mask = candidates[c]
                for v in range(n):
                    if (mask >> np.uint64(v)) & np.uint64(1):
                        union |= reach[v]
                totals[c] += p * _popcount(union)
        g = 0
        while g < groups:
            choice[g] += 1
            if choice[g] < group_ptr[g + 1] - group_ptr[g]:
                break
            choice[g] = 0
            g += 1
        if g == groups:
            return totals


def _live_edge_groups(graph: Graph, model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent choices whose product is the world distribution, as flat arrays."""
    sizes: list[int] = []
    edges: list[int] = []
    probs: list[float] = []
    if model == "ic":
        for e in range(graph.m):
            sizes.append(2)
            edges.extend((-1, e))
            probs.extend((1.0 - float(graph.in_prob[e]), float(graph.in_prob[e])))
    else:
        for v in range(graph.n):
            first, end = int(graph.in_indptr[v]), int(graph.in_indptr[v + 1])
            if first == end:
                continue
            weights = graph.in_prob[first:end]
            sizes.append(end - first + 1)
            edges.append(-1)
            probs.append(max(0.0, 1.0 - float(weights.sum())))
            edges.extend(range(first, end))
            probs.extend(weights.tolist())
    group_ptr = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=group_ptr[1:])
    return group_ptr, np.array(edges, dtype=np.int64), np.array(probs, dtype=np.float64)


def exact_spread(
    graph: Graph,
    seed_sets: Sequence[Sequence[int]],
    *,
    model: Model = "ic",
    max_worlds: int = DEFAULT_MAX_WORLDS,
) -> np.ndarray:
    """Exact expected spread of each seed set (internal ids), one value per set."""
    if graph.n > MAX_NODES:
        raise InfluenceError(f"exact spread handles at most {MAX_NODES} nodes, got {graph.n}")
    if model == "lt":
        check_lt_weights(graph)
    group_ptr, option_edge, option_prob = _live_edge_groups(graph, model)
    worlds = float(np.prod(np.diff(group_ptr).astype(np.float64)))
    if worlds > max_worlds:
        raise InfluenceError(f"{worlds:.3g} live-edge worlds, more than max_worlds={max_worlds}")
    masks = np.zeros(len(seed_sets), dtype=np.uint64)
    for i, seeds in enumerate(seed_sets):
        for v in seeds:
            if not 0 <= v < graph.n:
                raise InfluenceError(f"seed {v} is not a node id in 0..{graph.n - 1}")
            masks[i] |= np.uint64(1) << np.uint64(v)
    # in-CSR order: in_src[e] -> the node whose in-list holds e.
    heads = np.repeat(np.arange(graph.n, dtype=np.int64), graph.in_degree())
    result: np.ndarray = _enumerate(
        graph.n,
        graph.in_src.astype(np.int64),
        heads,
        group_ptr,
        option_edge,
        option_prob,
        masks,
    )
    return result


def optimal_seeds(
    graph: Graph,
    k: int,
    *,
    model: Model = "ic",
    costs: np.ndarray | None = None,
    budget: float | None = None,
    max_worlds: int = DEFAULT_MAX_WORLDS,
) -> tuple[tuple[int, ...], float]:
    """The best seed set and its exact spread, by trying every candidate set.

    Without costs the candidates are all sets of exactly ``k`` nodes; with ``costs`` and
    ``budget`` they are all non-empty sets whose total cost fits the budget.
    """
    nodes = range(graph.n)
    if costs is None or budget is None:
        if not 1 <= k <= graph.n:
            raise InfluenceError(f"k must be between 1 and {graph.n}, got {k}")
        candidates = list(combinations(nodes, k))
    else:
        candidates = [
            subset
            for size in range(1, graph.n + 1)
            for subset in combinations(nodes, size)
            if float(np.sum(costs[list(subset)])) <= budget
        ]
        if not candidates:
            raise InfluenceError(f"no node costs at most the budget {budget:g}")
    spreads = exact_spread(graph, candidates, model=model, max_worlds=max_worlds)
    best = int(np.argmax(spreads))
    return candidates[best], float(spreads[best])

"""Reverse-reachable (RR) sets and greedy maximum coverage over them.

An RR set is the set of nodes that would have activated a uniformly random root node in one
random realisation of the diffusion. For any seed set S, ``n * Pr[S meets an RR set]`` is its
expected spread (Borgs et al. 2014), so picking seeds reduces to maximum coverage over many
RR sets.

RR sets are stored flat: ``nodes[offsets[i]:offsets[i + 1]]`` is set ``i`` (int32 node ids,
int64 offsets). RR set number ``i`` draws its randomness from stream ``(seed, i)`` only, so a
collection grown in several steps, or by several threads, is identical to one generated at
once by one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit

from im2.influence._parallel import run_ranges
from im2.influence._rng import next_success, step_uniform, stream_state
from im2.influence.errors import MemoryBudgetError
from im2.influence.graph import Graph

Model = Literal["ic", "lt"]
# Called with (done, total) between chunks of work, e.g. to drive a progress bar.
Progress = Callable[[int, int], None]

_PROGRESS_CHUNK = 1 << 16

# Per RR set: 4 bytes per member in the set, 4 more in the inverted index built for selection,
# 8 for its offset and 1 for its "covered" flag.
BYTES_PER_ENTRY = 8
BYTES_PER_SET = 9


@njit(cache=True)
def _grow(nodes: np.ndarray, used: int, needed: int, max_entries: int) -> np.ndarray:
    """A copy of ``nodes`` at least 1.5x larger, capped at ``max_entries`` >= ``needed``."""
    grown = np.empty(min(max(nodes.shape[0] * 3 // 2, needed, 1024), max_entries), np.int32)
    grown[:used] = nodes[:used]
    return grown


@njit(cache=True, nogil=True)
def _extend(
    indptr: np.ndarray,
    src: np.ndarray,
    prob: np.ndarray,
    node_prob: np.ndarray,
    node_inv_log_q: np.ndarray,
    linear_threshold: bool,
    seed: np.uint64,
    base: int,
    nodes: np.ndarray,
    offsets: np.ndarray,
    count: int,
    target: int,
    max_entries: int,
    mark: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Append RR sets ``count..target-1`` and return the buffers and the new count.

    Local set i is global set ``base + i`` and draws from that stream. Stops early
    (returning a count below ``target``) rather than store more than ``max_entries`` node
    ids. ``offsets`` must have room for ``target + 1`` values. ``mark[v] == base + i + 1``
    means v is already in global set ``base + i``, so no visited array is ever cleared.
    ``node_prob[v]`` is the probability shared by all in-edges of v, or -1 if they differ;
    ``node_inv_log_q`` is ``1 / log(1 - p)`` for those shared values (see next_success).
    """
    n = indptr.shape[0] - 1
    entries = offsets[count]
    for i in range(count, target):
        state = stream_state(seed, np.uint64(base + i))
        stamp = base + i + 1
        state, r = step_uniform(state)
        root = min(int(r * n), n - 1)
        if entries >= nodes.shape[0]:
            if entries >= max_entries:
                return nodes, offsets, i
            nodes = _grow(nodes, entries, entries + 1, max_entries)
        nodes[entries] = root
        mark[root] = stamp
        head = entries
        entries += 1
        while head < entries:
            v = nodes[head]
            head += 1
            first = indptr[v]
            end = indptr[v + 1]
            if entries + (end - first) > nodes.shape[0]:
                if entries + (end - first) > max_entries:
                    return nodes, offsets, i
                nodes = _grow(nodes, entries, entries + (end - first), max_entries)
            p = node_prob[v]
            if linear_threshold:
                # LT as live edges: v keeps at most one incoming edge, edge e with prob[e];
                # the reverse walk stops at a node already in the set or with no kept edge.
                state, r = step_uniform(state)
                u = -1
                if p > 0.0:
                    e = first + int(r / p)
                    if e < end:
                        u = src[e]
                elif p < 0.0:
                    acc = 0.0
                    for e in range(first, end):
                        acc += prob[e]
                        if r < acc:
                            u = src[e]
                            break
                if u >= 0 and mark[u] != stamp:
                    mark[u] = stamp
                    nodes[entries] = u
                    entries += 1
            elif p > 0.0:
                # All in-edges share p: jump straight from one live edge to the next
                # (1 + deg * p draws instead of deg).
                inv_log_q = node_inv_log_q[v]
                state, e = next_success(state, first - 1, end, inv_log_q)
                while e < end:
                    u = src[e]
                    if mark[u] != stamp:
                        mark[u] = stamp
                        nodes[entries] = u
                        entries += 1
                    state, e = next_success(state, e, end, inv_log_q)
            elif p < 0.0:
                for e in range(first, end):
                    u = src[e]
                    if mark[u] == stamp:
                        continue
                    state, r = step_uniform(state)
                    if r < prob[e]:
                        mark[u] = stamp
                        nodes[entries] = u
                        entries += 1
        offsets[i + 1] = entries
    return nodes, offsets, target


def shared_probability(indptr: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per CSR row, the probability all its edges share (0 if empty, -1 if they differ),
    and ``1 / log(1 - p)`` of it for jumping between live edges (0 where unused).

    Weighted cascade gives every in-edge of a node the same value and a constant gives every
    edge the same value; kernels then jump between live edges instead of testing each one.
    """
    n = indptr.shape[0] - 1
    has_edges = np.diff(indptr) > 0
    starts = indptr[:-1][has_edges]
    shared = np.zeros(n, dtype=np.float64)
    if starts.size:
        low = np.minimum.reduceat(prob, starts)
        high = np.maximum.reduceat(prob, starts)
        shared[has_edges] = np.where(low == high, low, -1.0)
    inv_log_q = np.zeros(n, dtype=np.float64)
    jumping = (shared > 0.0) & (shared < 1.0)
    inv_log_q[jumping] = 1.0 / np.log1p(-shared[jumping])
    inv_log_q[shared == 1.0] = -0.0  # every trial succeeds: jumps of zero
    return shared, inv_log_q


@njit(cache=True, inline="always")
def _above(key: np.ndarray, node: np.ndarray, a: int, b: int) -> bool:
    """Heap order: larger key first, then smaller node id (keeps results deterministic)."""
    return bool(key[a] > key[b] or (key[a] == key[b] and node[a] < node[b]))


@njit(cache=True)
def _sift_down(key: np.ndarray, gain: np.ndarray, node: np.ndarray, i: int, size: int) -> None:
    while True:
        best = i
        left = 2 * i + 1
        if left < size and _above(key, node, left, best):
            best = left
        if left + 1 < size and _above(key, node, left + 1, best):
            best = left + 1
        if best == i:
            return
        key[i], key[best] = key[best], key[i]
        gain[i], gain[best] = gain[best], gain[i]
        node[i], node[best] = node[best], node[i]
        i = best


@njit(cache=True)
def _greedy(
    nodes: np.ndarray,
    offsets: np.ndarray,
    count: int,
    n: int,
    costs: np.ndarray,
    budget: float,
    max_seeds: int,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Greedy maximum coverage of RR sets ``0..count-1`` by gain per cost within a budget.

    Returns the chosen nodes, the number of newly covered sets each one added, and the node
    covering the most sets on its own among the affordable ones with that number of sets
    (-1 and 0 if none covers any).
    Marginal gains only shrink, so a stale heap entry is refreshed and pushed down instead
    of rescanning all nodes (lazy greedy); every RR-set member is decremented at most once.
    """
    entries = offsets[count]
    degree = np.zeros(n, dtype=np.int64)
    for j in range(entries):
        degree[nodes[j]] += 1
    start = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        start[v + 1] = start[v] + degree[v]
    fill = start[:-1].copy()
    sets_of = np.empty(entries, dtype=np.int32)
    for s in range(count):
        for j in range(offsets[s], offsets[s + 1]):
            v = nodes[j]
            sets_of[fill[v]] = s
            fill[v] += 1

    key = np.empty(n, dtype=np.float64)
    gain = np.empty(n, dtype=np.int64)
    node = np.empty(n, dtype=np.int32)
    size = 0
    best_single = -1
    for v in range(n):
        if degree[v] > 0 and costs[v] <= budget:
            key[size] = degree[v] / costs[v]
            gain[size] = degree[v]
            node[size] = v
            size += 1
            if best_single < 0 or degree[v] > degree[best_single]:
                best_single = v
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(key, gain, node, i, size)

    single_gain = degree[best_single] if best_single >= 0 else 0
    covered = np.zeros(count, dtype=np.bool_)
    seeds = np.empty(min(max_seeds, n), dtype=np.int32)
    gains = np.empty(min(max_seeds, n), dtype=np.int64)
    chosen = 0
    spent = 0.0
    while size > 0 and chosen < seeds.shape[0]:
        v = node[0]
        current = degree[v]
        if current == 0 or costs[v] > budget - spent:
            # Remaining budget only shrinks and gains never grow: drop v for good.
            size -= 1
            key[0], gain[0], node[0] = key[size], gain[size], node[size]
            _sift_down(key, gain, node, 0, size)
            continue
        if gain[0] != current:
            key[0] = current / costs[v]
            gain[0] = current
            _sift_down(key, gain, node, 0, size)
            continue
        seeds[chosen] = v
        gains[chosen] = current
        chosen += 1
        spent += costs[v]
        for j in range(start[v], start[v + 1]):
            s = sets_of[j]
            if not covered[s]:
                covered[s] = True
                for t in range(offsets[s], offsets[s + 1]):
                    degree[nodes[t]] -= 1
    return seeds[:chosen], gains[:chosen], best_single, single_gain


def _size(count: int) -> str:
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


class RRSampler:
    """A growing collection of RR sets for one graph, model and random seed.

    Refuses, with ``MemoryBudgetError``, any growth whose storage (sets, offsets and the
    inverted index selection builds) would exceed ``memory_budget`` bytes; the estimate uses
    the mean RR-set size seen so far and a hard cap stops the sampler itself.
    """

    def __init__(
        self,
        graph: Graph,
        *,
        model: Model,
        seed: np.uint64,
        memory_budget: int,
        threads: int = 1,
    ) -> None:
        self.graph = graph
        self.model = model
        self.seed = seed
        self.memory_budget = memory_budget
        self.count = 0
        self._nodes = np.empty(1024, dtype=np.int32)
        self._offsets = np.zeros(1025, dtype=np.int64)
        self.threads = max(1, threads)
        self._marks = [np.zeros(graph.n, dtype=np.int64) for _ in range(self.threads)]
        self._node_prob, self._node_inv_log_q = shared_probability(graph.in_indptr, graph.in_prob)

    @property
    def entries(self) -> int:
        return int(self._offsets[self.count])

    def mean_size(self) -> float:
        return self.entries / self.count if self.count else 1.0

    def bytes_needed(self, sets: int, mean_size: float | None = None) -> int:
        size = self.mean_size() if mean_size is None else mean_size
        # Selection's degrees, index starts and heap, plus one mark array per thread.
        fixed = self.graph.n * (32 + 8 * self.threads)
        return int(sets * (size * BYTES_PER_ENTRY + BYTES_PER_SET)) + fixed

    def refusal(self, sets: int) -> MemoryBudgetError:
        """The error for a request of ``sets`` RR sets that does not fit the budget."""
        return MemoryBudgetError(
            f"{sets:,} RR sets of about {self.mean_size():.1f} nodes each would need about "
            f"{_size(self.bytes_needed(sets))}, over the memory budget of "
            f"{_size(self.memory_budget)}; raise epsilon, lower k or raise the budget"
        )

    def extend_to(self, target: int, progress: Progress | None = None) -> None:
        """Sample until ``target`` sets exist (in chunks, reporting progress between them)."""
        if target <= self.count:
            return
        if self.count and self.bytes_needed(target) > self.memory_budget:
            raise self.refusal(target)
        max_entries = (self.memory_budget - self.bytes_needed(target, 0.0)) // BYTES_PER_ENTRY
        if max_entries <= self.entries:
            raise self.refusal(target)
        if self._offsets.shape[0] < target + 1:
            offsets = np.empty(target + 1, dtype=np.int64)
            offsets[: self.count + 1] = self._offsets[: self.count + 1]
            self._offsets = offsets
        if self.count:
            wanted = int(target * self.mean_size() * 1.05) + 1024
            if wanted > self._nodes.shape[0]:
                nodes = np.empty(min(wanted, max_entries), dtype=np.int32)
                nodes[: self.entries] = self._nodes[: self.entries]
                self._nodes = nodes
        first = self.count
        while self.count < target:
            step = min(target, self.count + _PROGRESS_CHUNK * self.threads)
            self._sample(step, max_entries)
            if self.count < step:
                raise self.refusal(target)
            if progress is not None:
                progress(self.count - first, target - first)

    def _sample(self, stop: int, max_entries: int) -> None:
        """Sets ``count..stop-1``: each thread fills its own buffers, appended in order."""
        graph = self.graph
        room = (max_entries - self.entries) // self.threads
        mean = self.mean_size()

        def work(part: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, int]:
            nodes = np.empty(min(int((hi - lo) * mean * 1.1) + 1024, room), dtype=np.int32)
            offsets = np.zeros(hi - lo + 1, dtype=np.int64)
            result: tuple[np.ndarray, np.ndarray, int] = _extend(
                graph.in_indptr,
                graph.in_src,
                graph.in_prob,
                self._node_prob,
                self._node_inv_log_q,
                self.model == "lt",
                self.seed,
                lo,
                nodes,
                offsets,
                0,
                hi - lo,
                room,
                self._marks[part],
            )
            return result

        for nodes, offsets, reached in run_ranges(work, self.count, stop, self.threads):
            used = int(offsets[reached])
            entries = self.entries
            if entries + used > self._nodes.shape[0]:
                grown = np.empty(max(entries + used, self._nodes.shape[0] * 3 // 2), np.int32)
                grown[:entries] = self._nodes[:entries]
                self._nodes = grown
            self._nodes[entries : entries + used] = nodes[:used]
            self._offsets[self.count + 1 : self.count + reached + 1] = (
                offsets[1 : reached + 1] + entries
            )
            self.count += reached
            if reached < offsets.shape[0] - 1:
                return

    def select(self, costs: np.ndarray, budget: float, max_seeds: int) -> Coverage:
        """Greedy coverage over all sets sampled so far (see ``_greedy``).

        With non-uniform costs the best single affordable node replaces the greedy answer
        when it covers more: that comparison is what bounds the cost-effective greedy.
        """
        seeds, gains, best_single, single_gain = _greedy(
            self._nodes, self._offsets, self.count, self.graph.n, costs, budget, max_seeds
        )
        if best_single >= 0 and single_gain > gains.sum():
            seeds = np.array([best_single], dtype=np.int32)
            gains = np.array([single_gain], dtype=np.int64)
        return Coverage(seeds=seeds, gains=gains)


@dataclass(frozen=True, eq=False)
class Coverage:
    """Greedy result on a sample: ``gains[i]`` sets newly covered by ``seeds[i]``."""

    seeds: np.ndarray
    gains: np.ndarray

    @property
    def covered(self) -> int:
        return int(self.gains.sum())

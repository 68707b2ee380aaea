"""Monte Carlo estimate of the expected spread of a seed set, with its time profile.

Each simulation runs one cascade from the seeds and counts activated nodes (the seeds
included). Simulation ``j`` uses random stream ``(seed, j)`` only, so the estimate does not
depend on how the runs are batched. The kernel is single-threaded on purpose: numba's default
threading layer aborts the process when two Python threads (say, two web requests) launch
parallel kernels at once, and on NetHEPT 10,000 runs take about a second anyway.

The 95% confidence interval is the normal approximation ``mean +- 1.96 * std_error``; with
the thousands of simulations this is meant for, the spread's mean is very close to normal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from im2.influence._parallel import default_threads, run_ranges
from im2.influence._rng import (
    SIMULATION,
    next_success,
    step_uniform,
    stream_key,
    stream_state,
)
from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph, check_lt_weights
from im2.influence.rrsets import Model, Progress, shared_probability

_Z95 = 1.959963984540054
_PROGRESS_CHUNK = 1000


@dataclass(frozen=True, eq=False)
class SpreadEstimate:
    """Expected number of activated nodes (seeds included) and how it unfolds.

    ``per_step[t]`` is the mean number of nodes newly activated at step t (IC) or round t
    (LT); ``per_step[0]`` counts the seeds. The last entry also holds anything activated
    later than ``max_steps``.
    """

    mean: float
    std_error: float
    ci_low: float
    ci_high: float
    simulations: int
    model: Model
    per_step: np.ndarray

    def cumulative(self) -> np.ndarray:
        """Mean number of active nodes after each step, for a forecast chart."""
        return np.cumsum(self.per_step)


@njit(cache=True, nogil=True)
def _simulate(
    indptr: np.ndarray,
    dst: np.ndarray,
    prob: np.ndarray,
    row_prob: np.ndarray,
    row_inv_log_q: np.ndarray,
    linear_threshold: bool,
    seeds: np.ndarray,
    seed: np.uint64,
    first: int,
    count: int,
    max_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Run simulations ``first..first+count-1``; returns their spreads and per-step counts.

    ``row_prob[v]`` is the probability all out-edges of v share, or -1 if they differ, and
    ``row_inv_log_q[v]`` its ``1 / log(1 - p)`` (see next_success).
    """
    n = indptr.shape[0] - 1
    spreads = np.zeros(count, dtype=np.int64)
    steps = np.zeros(max_steps + 1, dtype=np.int64)
    # Stamps (simulation number + 1) mark "active in this run" without clearing arrays.
    active = np.zeros(n, dtype=np.int64)
    touched = np.zeros(n, dtype=np.int64)
    weight = np.zeros(n, dtype=np.float64)
    threshold = np.zeros(n, dtype=np.float64)
    queue = np.empty(n, dtype=np.int32)
    for j in range(first, first + count):
        state = stream_state(seed, np.uint64(j))
        stamp = j + 1
        size = 0
        for s in seeds:
            if active[s] != stamp:
                active[s] = stamp
                queue[size] = s
                size += 1
        steps[0] += size
        level_start = 0
        step = 0
        while level_start < size:
            level_end = size
            for h in range(level_start, level_end):
                v = queue[h]
                p = row_prob[v]
                if p > 0.0 and not linear_threshold:
                    # Shared p (e.g. a constant): jump from one live edge to the next.
                    inv_log_q = row_inv_log_q[v]
                    end = indptr[v + 1]
                    state, e = next_success(state, indptr[v] - 1, end, inv_log_q)
                    while e < end:
                        u = dst[e]
                        if active[u] != stamp:
                            active[u] = stamp
                            queue[size] = u
                            size += 1
                        state, e = next_success(state, e, end, inv_log_q)
                    continue
                for e in range(indptr[v], indptr[v + 1]):
                    u = dst[e]
                    if active[u] == stamp:
                        continue
                    if linear_threshold:
                        # Thresholds are drawn when a node is first reached: same law
                        # as drawing all n up front, at a fraction of the cost.
                        if touched[u] != stamp:
                            touched[u] = stamp
                            weight[u] = 0.0
                            state, r = step_uniform(state)
                            threshold[u] = 1.0 - r
                        weight[u] += prob[e]
                        live = weight[u] >= threshold[u]
                    else:
                        state, r = step_uniform(state)
                        live = r < prob[e]
                    if live:
                        active[u] = stamp
                        queue[size] = u
                        size += 1
            step += 1
            if size > level_end:
                steps[min(step, max_steps)] += size - level_end
            level_start = level_end
        spreads[j - first] = size
    return spreads, steps


def estimate_spread(
    graph: Graph,
    seeds: np.ndarray,
    *,
    model: Model = "ic",
    simulations: int = 10_000,
    seed: int = 0,
    max_steps: int = 100,
    threads: int | None = None,
    progress: Progress | None = None,
) -> SpreadEstimate:
    """Monte Carlo expected spread of ``seeds`` (internal ids; repeats count once).

    ``threads`` (default: every core available) only changes the speed, not the estimate.
    """
    if model not in ("ic", "lt"):
        raise InfluenceError(f"model must be 'ic' or 'lt', got {model!r}")
    if simulations < 1:
        raise InfluenceError(f"simulations must be at least 1, got {simulations}")
    if max_steps < 1:
        raise InfluenceError(f"max_steps must be at least 1, got {max_steps}")
    if seed < 0:
        raise InfluenceError(f"seed must be non-negative, got {seed}")
    seeds = np.asarray(seeds, dtype=np.int32).ravel()
    if seeds.size and (seeds.min() < 0 or seeds.max() >= graph.n):
        raise InfluenceError(f"seed nodes must be internal ids in 0..{graph.n - 1}")
    if model == "lt":
        check_lt_weights(graph)
    spreads = np.empty(simulations, dtype=np.int64)
    steps = np.zeros(max_steps + 1, dtype=np.int64)
    row_prob, row_inv_log_q = shared_probability(graph.out_indptr, graph.out_prob)
    threads = default_threads() if threads is None else max(1, threads)

    def work(part: int, lo: int, hi: int) -> tuple[int, np.ndarray, np.ndarray]:
        part_spreads, part_steps = _simulate(
            graph.out_indptr,
            graph.out_dst,
            graph.out_prob,
            row_prob,
            row_inv_log_q,
            model == "lt",
            seeds,
            stream_key(seed, SIMULATION),
            lo,
            hi - lo,
            max_steps,
        )
        return lo, part_spreads, part_steps

    chunk = _PROGRESS_CHUNK * threads
    for first in range(0, simulations, chunk):
        stop = min(first + chunk, simulations)
        for lo, part_spreads, part_steps in run_ranges(work, first, stop, threads):
            spreads[lo : lo + part_spreads.shape[0]] = part_spreads
            steps += part_steps
        if progress is not None:
            progress(stop, simulations)
    mean = float(spreads.mean())
    std_error = float(spreads.std(ddof=1) / math.sqrt(simulations)) if simulations > 1 else 0.0
    last = int(np.flatnonzero(steps)[-1]) if steps.any() else 0
    return SpreadEstimate(
        mean=mean,
        std_error=std_error,
        ci_low=mean - _Z95 * std_error,
        ci_high=mean + _Z95 * std_error,
        simulations=simulations,
        model=model,
        per_step=steps[: last + 1] / simulations,
    )

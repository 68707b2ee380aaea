"""Benchmark the share-tree metrics core (im2.sharing.cascade).

1. A generated 1,000,000-participant share forest: a Galton–Watson process whose offspring are
   heavy-tailed (most people bring nobody, a few bring thousands), with join times and
   channels, numbered in join order as a database would. Build + all metrics, pinned to one
   core; target under 3 s and under 1 GB peak traced memory (tracemalloc, which sees numpy's
   buffers; the input arrays are allocated before tracing starts).
2. The same figures by a plain-Python BFS over child lists (the obvious implementation), run in
   the same process on the same forest (on a 100,000-node forest with --quick), as the baseline.
3. Every Twitter15/16 retweet tree (twitter16 only with --quick): parse from the .tar.xz and
   measure, when /work/shared/data is present.

Usage: python benchmarks/cascade.py [--quick|--smoke]. `--smoke` measures a 20,000-node forest
(also the baseline's) and no Twitter trees, and judges nothing. The last line printed is one
JSON object.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import Mode, emit, mode_argument, mode_of, target
from im2.sharing.cascade import (
    build_forest,
    cascade_metrics,
    node_metrics,
    tree_metrics,
)
from im2.sharing.cascade_import import DropReason, load_twitter_dataset

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twitter15_16_cascades"
DAY = 86_400.0


def generate_forest(
    n: int, seed: int = 7
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Parent, join time (s) and channel of an n-node heavy-tailed share forest.

    Each participant brings nobody with probability 0.74, else Zipf(2.2) people (capped at
    10,000, a big influencer's reach): mean offspring ≈ 0.87 with a heavy tail, so most trees
    stay single people while a few shares cascade (seed 7: ~150k trees, the largest ~90k
    people and 40+ levels deep). Batches of organic roots over 14 days are added until n people
    joined.
    """
    rng = np.random.default_rng(seed)
    parents: list[np.ndarray[Any, Any]] = []
    times: list[np.ndarray[Any, Any]] = []
    total = 0
    while total < n:
        batch = max(1, (n - total) // 10)
        frontier = np.arange(total, total + batch)
        frontier_time = rng.uniform(0.0, 14 * DAY, batch)
        parents.append(np.full(batch, -1))
        times.append(frontier_time)
        total += batch
        while frontier.size and total < n:
            shares = rng.random(frontier.size) < 0.26
            counts = np.where(shares, np.minimum(rng.zipf(2.2, frontier.size), 10_000), 0)
            kids_parent = np.repeat(frontier, counts)[: n - total]
            # Log-normal gaps with a 3-hour median: most friends respond the same day.
            kids_time = np.repeat(frontier_time, counts)[: n - total] + rng.lognormal(
                np.log(3 * 3600.0), 1.5, kids_parent.size
            )
            parents.append(kids_parent)
            times.append(kids_time)
            frontier = np.arange(total, total + kids_parent.size)
            frontier_time = kids_time
            total += kids_parent.size
    parent = np.concatenate(parents)
    join = np.concatenate(times)
    channel = np.where(parent >= 0, rng.choice(5, n, p=[0.45, 0.25, 0.15, 0.1, 0.05]), -1)
    # Renumber in join order, as database ids would be.
    order = np.argsort(join, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    new_parent = np.where(parent[order] >= 0, rank[np.maximum(parent[order], 0)], -1)
    return new_parent, join[order], channel[order]


def numpy_metrics(parent: Any, join: Any, channel: Any) -> dict[str, float]:
    forest = build_forest(parent, time=join, channel=channel)
    metrics = cascade_metrics(forest)
    tree_metrics(forest)
    node_metrics(forest)
    return {
        "depth": metrics.depth,
        "largest_tree": metrics.largest_tree,
        "structural_virality": metrics.structural_virality,
        "max_breadth": metrics.max_breadth,
        "viral_cycle_time": metrics.viral_cycle_time,
    }


def python_metrics(parent_list: list[int], time_list: list[float]) -> dict[str, float]:
    """The same core figures by BFS over Python child lists: the obvious implementation."""
    n = len(parent_list)
    children: list[list[int]] = [[] for _ in range(n)]
    roots = []
    for node, par in enumerate(parent_list):
        if par < 0:
            roots.append(node)
        else:
            children[par].append(node)
    depth = [0] * n
    root_of = list(range(n))
    order: list[int] = []
    queue = deque(roots)
    while queue:
        node = queue.popleft()
        order.append(node)
        for kid in children[node]:
            depth[kid] = depth[node] + 1
            root_of[kid] = root_of[node]
            queue.append(kid)
    size = [1] * n
    for node in reversed(order):
        if parent_list[node] >= 0:
            size[parent_list[node]] += size[node]
    through = dict.fromkeys(roots, 0.0)
    for node in range(n):
        if parent_list[node] >= 0:
            s, tree_n = size[node], size[root_of[node]]
            through[root_of[node]] += s * (tree_n - s)
    sv = [(through[r] / (size[r] * (size[r] - 1) / 2), size[r]) for r in roots if size[r] > 1]
    breadth: dict[int, int] = {}
    for d in depth:
        breadth[d] = breadth.get(d, 0) + 1
    gaps = [time_list[c] - time_list[p] for c, p in enumerate(parent_list) if p >= 0]
    return {
        "depth": max(depth),
        "largest_tree": max(size[r] for r in roots),
        "structural_virality": sum(v * w for v, w in sv) / sum(w for _, w in sv),
        "max_breadth": max(breadth.values()),
        "viral_cycle_time": statistics.median(g for g in gaps if g >= 0),
    }


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def check_same(a: dict[str, float], b: dict[str, float]) -> None:
    for key, value in a.items():
        if not np.isclose(value, b[key], rtol=1e-9):
            raise SystemExit(f"numpy and Python disagree on {key}: {value} vs {b[key]}")


def twitter_figures(names: list[str]) -> dict[str, float]:
    start = time.perf_counter()
    sizes, svs, depths, trees = [], [], [], 0
    dropped = dict.fromkeys(DropReason, 0)
    for name in names:
        for cascade in load_twitter_dataset(DATA, name):  # type: ignore[arg-type]
            metrics = cascade_metrics(cascade.build.forest)
            sizes.append(metrics.size)
            svs.append(metrics.largest_tree_structural_virality)
            depths.append(metrics.depth)
            for reason in DropReason:
                dropped[reason] += cascade.build.report.count(reason)
            trees += 1
    seconds = time.perf_counter() - start
    return {
        "twitter_files": trees,
        "twitter_nodes": int(sum(sizes)),
        **{f"twitter_dropped_{r.name.lower()}": count for r, count in dropped.items()},
        "twitter_parse_and_metrics_seconds": round(seconds, 3),
        "twitter_median_tree_size": float(np.median(sizes)),
        "twitter_median_structural_virality": round(float(np.nanmedian(svs)), 4),
        "twitter_max_depth": int(max(depths)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode_argument(
        parser,
        quick="baseline on 100,000 nodes, twitter16 only",
        smoke="20,000 nodes, no Twitter trees",
    )
    args = parser.parse_args()
    mode = mode_of(args)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    n = 20_000 if mode is Mode.SMOKE else 1_000_000
    parent, join, channel = generate_forest(n)
    figures: dict[str, Any] = {"nodes": n, "quick": mode is Mode.QUICK}

    runs = [timed(numpy_metrics, parent, join, channel) for _ in range(3)]
    seconds = statistics.median(r[0] for r in runs)
    ours = runs[0][1]
    figures["million_node_seconds_median_of_3"] = round(seconds, 3)
    shuffle = np.random.default_rng(1).permutation(n)
    unshuffle = np.empty(n, dtype=np.int64)
    unshuffle[shuffle] = np.arange(n)
    shuffled_parent = np.where(parent[shuffle] >= 0, unshuffle[np.maximum(parent[shuffle], 0)], -1)
    figures["million_node_seconds_shuffled_ids"] = round(
        timed(numpy_metrics, shuffled_parent, join[shuffle], channel[shuffle])[0], 3
    )
    # Worst shape for depth: a single million-long chain (20 lifting rounds instead of 6).
    chain = np.arange(-1, n - 1)
    figures["million_chain_seconds"] = round(timed(numpy_metrics, chain, join, channel)[0], 3)
    tracemalloc.start()
    numpy_metrics(parent, join, channel)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    figures["million_node_peak_traced_mb"] = round(peak_mb, 1)
    figures.update({f"million_{k}": round(float(v), 4) for k, v in ours.items()})
    print(f"numpy: {n:,} nodes in {seconds:.3f} s (median of 3), peak {peak_mb:.0f} MB traced")

    base_n = 100_000 if mode is Mode.QUICK else n
    b_parent, b_join, b_channel = (
        (parent, join, channel) if base_n == n else generate_forest(base_n)
    )
    np_seconds = statistics.median(
        timed(numpy_metrics, b_parent, b_join, b_channel)[0] for _ in range(3)
    )
    py_seconds, py_result = timed(python_metrics, b_parent.tolist(), b_join.tolist())
    check_same(numpy_metrics(b_parent, b_join, b_channel), py_result)
    figures["baseline_nodes"] = base_n
    figures["baseline_python_bfs_seconds"] = round(py_seconds, 3)
    figures["baseline_numpy_seconds"] = round(np_seconds, 3)
    figures["speedup_vs_python_bfs"] = round(py_seconds / np_seconds, 1)
    print(
        f"baseline: plain-Python BFS on {base_n:,} nodes {py_seconds:.3f} s vs numpy "
        f"{np_seconds:.3f} s: {py_seconds / np_seconds:.1f}x, same results"
    )

    if mode is Mode.SMOKE:
        print("twitter: skipped in --smoke")
    elif (DATA / "twitter16.tar.xz").exists():
        names = ["twitter16"] if mode is Mode.QUICK else ["twitter15", "twitter16"]
        figures.update(twitter_figures(names))
        print(
            f"twitter ({', '.join(names)}): {figures['twitter_files']} trees, "
            f"{figures['twitter_nodes']:,} nodes in "
            f"{figures['twitter_parse_and_metrics_seconds']} s (parse + metrics)"
        )
    else:
        print(f"twitter: skipped, {DATA} is absent")

    # Named for the full forest; under --smoke they hold the 20,000-node figures (not judged).
    targets = {
        "million_node_seconds": target(
            figures["million_node_seconds_median_of_3"], "<= 3 s", seconds <= 3.0, mode=mode
        ),
        "million_node_peak_traced_mb": target(
            figures["million_node_peak_traced_mb"], "<= 1024 MB", peak_mb <= 1024, mode=mode
        ),
    }
    emit("cascade", figures, targets, mode=mode)


if __name__ == "__main__":
    main()

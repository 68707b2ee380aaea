"""The cascade core against hand-worked trees and a brute-force oracle."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest

from im2.sharing.cascade import (
    CascadeCycleError,
    CascadeError,
    build_forest,
    cascade_metrics,
    estimate_k,
    find_cycles,
    node_metrics,
    tree_metrics,
)

# 0 ── 1 ── 3
#  │    └── 4 ── 6
#  └─ 2 ── 5
HAND_PARENT = [-1, 0, 0, 1, 1, 2, 4]
HAND_TIME = [0.0, 10.0, 20.0, 15.0, 40.0, 50.0, 100.0]
HAND_CHANNEL = [-1, 0, 1, 0, 0, 2, 1]
# Subtree sizes below each edge: 1→4, 2→2, 3→1, 4→2, 5→1, 6→1, so the pairs crossing them sum
# to 4·3 + 2·5 + 1·6 + 2·5 + 1·6 + 1·6 = 50 over C(7, 2) = 21 pairs.
HAND_SV = 50 / 21


def test_hand_tree_metrics() -> None:
    forest = build_forest(HAND_PARENT, time=HAND_TIME, channel=HAND_CHANNEL)

    metrics = cascade_metrics(forest)

    assert metrics.size == 7
    assert metrics.trees == 1
    assert metrics.largest_tree == 7
    assert metrics.depth == 3
    assert metrics.mean_depth == pytest.approx(11 / 7)
    assert metrics.breadth_per_level == (1, 2, 3, 1)
    assert metrics.max_breadth == 3
    assert metrics.structural_virality == pytest.approx(HAND_SV)
    assert metrics.largest_tree_structural_virality == pytest.approx(HAND_SV)
    # Gaps 10, 20, 5, 30, 30, 60: the median is between 20 and 30.
    assert metrics.viral_cycle_time == pytest.approx(25.0)
    assert metrics.timed_edges == 6
    assert metrics.negative_gaps == 0
    assert metrics.channels == ((0, 3), (1, 2), (2, 1))
    assert metrics.k.k_factor == pytest.approx(6 / 7)
    assert metrics.k.invites_converted == 6
    assert metrics.k.invites_sent is None


def test_hand_tree_per_node() -> None:
    forest = build_forest(HAND_PARENT)

    nodes = node_metrics(forest)

    assert nodes.descendants.tolist() == [6, 3, 1, 0, 1, 0, 0]
    assert nodes.children.tolist() == [2, 2, 1, 0, 1, 0, 0]
    assert nodes.depth.tolist() == [0, 1, 1, 2, 2, 2, 3]
    assert nodes.tree.tolist() == [0] * 7


def test_forest_metrics_weight_trees_by_size() -> None:
    # The hand tree, a pair 7→8 and a lone participant 9.
    forest = build_forest([*HAND_PARENT, -1, 7, -1])

    metrics = cascade_metrics(forest)
    trees = tree_metrics(forest)

    assert metrics.trees == 3
    assert metrics.size == 10
    assert metrics.largest_tree == 7
    assert metrics.breadth_per_level == (3, 3, 3, 1)
    assert metrics.structural_virality == pytest.approx((7 * HAND_SV + 2 * 1.0) / 9)
    assert metrics.largest_tree_structural_virality == pytest.approx(HAND_SV)
    assert trees.root.tolist() == [0, 7, 9]
    assert trees.size.tolist() == [7, 2, 1]
    assert trees.depth.tolist() == [3, 1, 0]
    assert trees.mean_depth == pytest.approx([11 / 7, 0.5, 0.0])
    assert trees.max_breadth.tolist() == [3, 1, 1]
    assert trees.structural_virality[:2] == pytest.approx([HAND_SV, 1.0])
    assert math.isnan(trees.structural_virality[2])


def test_metrics_of_one_tree_of_a_forest() -> None:
    forest = build_forest([*HAND_PARENT, -1, 7, -1], time=[*HAND_TIME, 5.0, 8.0, 1.0])

    pair = cascade_metrics(forest, tree=1)
    alone = cascade_metrics(forest, tree=2)

    assert (pair.size, pair.trees, pair.depth, pair.breadth_per_level) == (2, 1, 1, (1, 1))
    assert pair.structural_virality == pytest.approx(1.0)
    assert pair.viral_cycle_time == pytest.approx(3.0)
    assert alone.size == 1
    assert math.isnan(alone.structural_virality)
    assert math.isnan(alone.viral_cycle_time)
    with pytest.raises(CascadeError, match="tree 3 does not exist"):
        cascade_metrics(forest, tree=3)


def test_k_factor_from_invite_counts() -> None:
    forest = build_forest(HAND_PARENT)

    metrics = cascade_metrics(forest, invites_sent=12, invites_converted=6)

    assert metrics.k.invites_per_participant == pytest.approx(12 / 7)
    assert metrics.k.conversion == pytest.approx(0.5)
    assert metrics.k.k_factor == pytest.approx(6 / 7)
    with pytest.raises(CascadeError, match="exceed invites sent"):
        cascade_metrics(forest, invites_sent=4, invites_converted=5)
    assert math.isnan(cascade_metrics(build_forest(np.zeros(0, dtype=np.int64))).k.k_factor)


def test_k_counts_only_people_old_enough_to_have_invited() -> None:
    """The hand tree observed until t = 60 with a 30-second window: 0 (t 0), 1 (t 10),
    2 (t 20) and 3 (t 15) joined at least 30 s before the end; 4 (t 40), 5 (t 50) and 6 had
    no full window. Within 30 s of their parent: 0 brought 1 and 2, 1 brought 3 (5 s; 4 came
    30 s after 1, still inside), 2 brought 5 (30 s), 3 nobody: 5 children of 4 people."""
    forest = build_forest(HAND_PARENT, time=HAND_TIME)

    k = estimate_k(forest, end=60.0, window=30.0)

    assert (k.eligible, k.brought) == (4, 5)
    assert k.k_factor == pytest.approx(5 / 4)
    # Offspring 2, 2, 1, 0: sample sd sqrt(0.9166…); 95 % normal interval around the mean.
    sd = math.sqrt(((2 - 1.25) ** 2 * 2 + 0.25**2 + 1.25**2) / 3)
    assert k.std == pytest.approx(sd)
    assert (k.ci_low, k.ci_high) == pytest.approx(
        (1.25 - 1.96 * sd / 2, 1.25 + 1.96 * sd / 2), abs=1e-3
    )
    # The naive ratio (everyone brought / everyone) of the same tree stays below 1.
    assert estimate_k(forest).k_factor == pytest.approx(6 / 7)


def test_a_child_after_the_window_or_the_end_does_not_count() -> None:
    # 0 at t 0 brings 1 at t 10 and 2 at t 100; observed until 200 with a 50 s window.
    forest = build_forest([-1, 0, 0], time=[0.0, 10.0, 100.0])

    k = estimate_k(forest, end=200.0, window=50.0)

    assert (k.eligible, k.brought, k.k_factor) == (3, 1, pytest.approx(1 / 3))
    young = estimate_k(forest, end=40.0, window=50.0)
    assert (young.eligible, young.brought) == (0, 0)
    assert math.isnan(young.k_factor)
    assert math.isnan(young.ci_low)


def test_k_refuses_a_window_that_is_not_positive() -> None:
    forest = build_forest([-1, 0])
    with pytest.raises(CascadeError, match="window must be positive"):
        estimate_k(forest, end=1.0, window=0.0)
    with pytest.raises(CascadeError, match="confidence"):
        estimate_k(forest, confidence=1.0)


def test_negative_gaps_are_counted_not_used() -> None:
    forest = build_forest([-1, 0, 0], time=[100.0, 40.0, 160.0])

    metrics = cascade_metrics(forest)

    assert metrics.negative_gaps == 1
    assert metrics.timed_edges == 2
    assert metrics.viral_cycle_time == pytest.approx(60.0)


def test_chain_and_star_closed_forms() -> None:
    n = 50_000
    chain = build_forest(np.arange(-1, n - 1))
    star = build_forest(np.r_[-1, np.zeros(n - 1, dtype=np.int64)])

    chain_metrics = cascade_metrics(chain)
    star_metrics = cascade_metrics(star)

    # Mean distance on a path of n nodes is (n + 1) / 3; on a star 2(n − 1) / n.
    assert chain_metrics.depth == n - 1
    assert chain_metrics.structural_virality == pytest.approx((n + 1) / 3)
    assert node_metrics(chain).descendants[0] == n - 1
    assert star_metrics.max_breadth == n - 1
    assert star_metrics.structural_virality == pytest.approx(2 * (n - 1) / n)


def test_breadth_and_channels_of_sparse_forests() -> None:
    # A 3,000-deep chain beside a thousand small trees makes the tree × level table too big
    # to hold densely; channel codes far apart make a dense count too big as well.
    chain = np.arange(-1, 2_999)
    fan = np.array([-1, 3_000, 3_000, 3_000])
    pairs = np.repeat(np.arange(3_004, 5_004, 2), 2)
    pairs[::2] = -1
    channel = np.full(5_004, -1)
    channel[1] = 10**12

    forest = build_forest(np.concatenate([chain, fan, pairs]), channel=channel)
    trees = tree_metrics(forest)

    assert trees.max_breadth[:3].tolist() == [1, 3, 1]
    assert set(trees.max_breadth[2:].tolist()) == {1}
    assert cascade_metrics(forest).channels == ((-1, 4_001), (10**12, 1))


def _oracle(parent: list[int]) -> tuple[list[int], list[int], dict[int, float]]:
    """Depth, subtree size and per-root mean pair distance by walking and all-pairs BFS."""
    n = len(parent)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for child, par in enumerate(parent):
        if par >= 0:
            neighbours[child].append(par)
            neighbours[par].append(child)
    depth, root = [0] * n, [0] * n
    for node in range(n):
        walk = node
        while parent[walk] >= 0:
            walk = parent[walk]
            depth[node] += 1
        root[node] = walk
    size = [1] * n
    for node in range(n):
        walk = parent[node]
        while walk >= 0:
            size[walk] += 1
            walk = parent[walk]
    totals: dict[int, list[int]] = {}
    for source in range(n):
        seen = {source: 0}
        queue = deque([source])
        while queue:
            here = queue.popleft()
            for there in neighbours[here]:
                if there not in seen:
                    seen[there] = seen[here] + 1
                    queue.append(there)
        total = totals.setdefault(root[source], [0, 0])
        total[0] += sum(seen.values())
        total[1] += len(seen) - 1
    mean = {r: t[0] / t[1] for r, t in totals.items() if t[1]}
    return depth, size, mean


@pytest.mark.parametrize("seed", range(25))
def test_random_forests_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    # Random recursive forest, then relabelled so parents need not precede children.
    order = [int(rng.integers(-1, i)) if rng.random() < 0.9 else -1 for i in range(n)]
    perm = rng.permutation(n)
    parent = [-1] * n
    for old, par in enumerate(order):
        parent[int(perm[old])] = -1 if par < 0 else int(perm[par])
    depth, size, mean = _oracle(parent)

    forest = build_forest(parent)
    trees = tree_metrics(forest)

    assert forest.depth.tolist() == depth
    assert forest.subtree_size.tolist() == size
    for root, sv in zip(trees.root.tolist(), trees.structural_virality.tolist(), strict=True):
        if root in mean:
            assert sv == pytest.approx(mean[root])
        else:
            assert math.isnan(sv)


def test_cycles_are_reported_not_looped() -> None:
    # 0→1→2→0 is a cycle with 3 and 4 hanging below it; 5→6 is fine; 7↔8 is a second cycle.
    parent = [2, 0, 1, 0, 3, -1, 5, 8, 7]

    with pytest.raises(CascadeCycleError) as caught:
        build_forest(parent)
    on_cycle, label = find_cycles(parent)

    assert sorted(caught.value.cycle_nodes.tolist()) == [0, 1, 2, 7, 8]
    assert caught.value.stranded == 7
    assert "cycles" in str(caught.value)
    assert on_cycle.tolist() == [0, 1, 2, 7, 8]
    assert label.tolist() == [0, 0, 0, 7, 7]


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ([-1, 5], r"parent\[1\] = 5 is not a node index"),
        ([-1, -2], r"parent\[1\] = -2"),
        ([-1, 1], "node 1 is its own parent"),
        ([[-1, 0]], "1-d array"),
        ([-1.0, 0.0], "integer node indices"),
    ],
)
def test_bad_parent_arrays_are_refused(parent: object, message: str) -> None:
    with pytest.raises(CascadeError, match=message):
        build_forest(parent)  # type: ignore[arg-type]


def test_side_arrays_must_match_and_results_are_read_only() -> None:
    with pytest.raises(CascadeError, match="time must have shape"):
        build_forest([-1, 0], time=[1.0])

    forest = build_forest([-1, 0])

    with pytest.raises(ValueError, match="read-only"):
        forest.depth[0] = 5


def test_empty_forest() -> None:
    metrics = cascade_metrics(build_forest(np.zeros(0, dtype=np.int64)))

    assert (metrics.size, metrics.trees, metrics.depth, metrics.breadth_per_level) == (0, 0, 0, ())
    assert math.isnan(metrics.structural_virality)


def test_the_worked_example_of_the_metrics_page() -> None:
    """docs/metrics.md: Ann, Ben, Cai, Eve, Dan, Fay, Gus, observed until 10 March (hours
    since 1 March 00:00); Dan came to Ann after more than 3 days, Fay and Gus are too young."""
    hour = 3600.0
    forest = build_forest(
        [-1, 0, 0, 1, 0, 4, -1],
        time=[9 * hour, 14 * hour, 57 * hour, 44 * hour, 130 * hour, 180 * hour, 200 * hour],
    )

    k = estimate_k(forest, end=216 * hour, window=72 * hour)

    assert (k.eligible, k.brought) == (5, 4)
    assert k.k_factor == pytest.approx(0.80)
    assert (round(k.ci_low, 2), round(k.ci_high, 2)) == (0.07, 1.53)

"""Cheap seed heuristics to compare IMM against (no guarantee, no sampling)."""

from __future__ import annotations

import numpy as np

from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph


def _check_k(graph: Graph, k: int) -> None:
    if not 1 <= k <= graph.n:
        raise InfluenceError(f"k must be between 1 and the number of nodes ({graph.n}), got {k}")


def top_degree(graph: Graph, k: int) -> np.ndarray:
    """The k nodes with the most out-edges; ties go to the smaller internal id."""
    _check_k(graph, k)
    # A stable sort on the negated degree keeps ids ascending within a degree.
    return np.argsort(-graph.out_degree(), kind="stable")[:k].astype(np.int32)


def degree_discount(graph: Graph, k: int, p: float | None = None) -> np.ndarray:
    """DegreeDiscountIC (Chen, Wang and Yang, KDD 2009) on out-degrees.

    A node whose in-neighbours were already picked is likely activated by them anyway, so
    its degree is discounted to ``d - 2t - (d - t) * t * p`` with t the number of picked
    in-neighbours. ``p`` defaults to the mean edge probability.
    """
    _check_k(graph, k)
    if p is None:
        p = float(graph.out_prob.mean())
    degree = graph.out_degree().astype(np.float64)
    score = degree.copy()
    picked_in = np.zeros(graph.n, dtype=np.float64)
    chosen = np.zeros(graph.n, dtype=bool)
    seeds = np.empty(k, dtype=np.int32)
    for i in range(k):
        # k is small (tens to hundreds), so an O(n) argmax per pick is fine here.
        v = int(np.argmax(np.where(chosen, -np.inf, score)))
        seeds[i] = v
        chosen[v] = True
        targets = graph.out_dst[graph.out_indptr[v] : graph.out_indptr[v + 1]]
        np.add.at(picked_in, targets, 1.0)
        t = picked_in[targets]
        d = degree[targets]
        score[targets] = d - 2.0 * t - (d - t) * t * p
    return seeds

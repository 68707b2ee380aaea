"""Degree heuristics used as comparison points."""

from __future__ import annotations

import numpy as np
import pytest

from im2.influence.baselines import degree_discount, top_degree
from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph, Probability, graph_from_edges


def overlap_graph() -> Graph:
    """0 and 1 reach almost the same nodes; 5 reaches three nodes of its own."""
    edges = [(0, 1), (0, 2), (0, 3), (0, 4), (1, 0), (1, 2), (1, 3), (5, 6), (5, 7), (5, 8)]
    src, dst = (np.array(column) for column in zip(*edges, strict=True))
    return graph_from_edges(src, dst, probability=Probability(kind="const", value=0.5)).graph


def test_top_degree_orders_by_out_degree_and_breaks_ties_by_id() -> None:
    assert top_degree(overlap_graph(), 3).tolist() == [0, 1, 5]


def test_degree_discount_skips_a_node_already_likely_reached() -> None:
    # After 0 is picked, 1 (an out-neighbour of 0) is discounted to 3 - 2 - 2 * 0.5 = 0.
    assert degree_discount(overlap_graph(), 2).tolist() == [0, 5]


@pytest.mark.parametrize("k", [0, 10])
def test_k_outside_one_to_n_is_refused(k: int) -> None:
    with pytest.raises(InfluenceError, match="k must be between 1 and the number of nodes"):
        top_degree(overlap_graph(), k)
    with pytest.raises(InfluenceError, match="k must be between 1 and the number of nodes"):
        degree_discount(overlap_graph(), k)

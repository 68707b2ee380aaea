"""The shared real graphs load with the counts their SOURCE.md files state.

Skipped when the shared data folder is absent: everything else is tested on generated graphs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from im2.influence.graph import load_graph

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not (DATA / "nethept_imm").is_dir(), reason=f"shared graphs not found in {DATA.resolve()}"
)


def test_nethept_has_the_imm_sizes_and_weighted_cascade_probabilities() -> None:
    loaded = load_graph(DATA / "nethept_imm" / "graph_ic.inf")

    g = loaded.graph
    assert (g.n, g.m) == (15_229, 62_752)
    assert loaded.report.probability == "from file"
    # The file stores p(u, v) = 1/in-degree(v) rounded to six significant digits.
    heads = np.repeat(np.arange(g.n), g.in_degree())
    assert np.allclose(g.in_prob, 1.0 / g.in_degree()[heads], rtol=1e-5)


def test_ego_facebook_skips_its_comment_line_and_doubles_undirected_edges() -> None:
    loaded = load_graph(DATA / "ego_facebook" / "facebook_combined.txt", directed=False)

    assert (loaded.graph.n, loaded.graph.m) == (4_039, 2 * 88_234)
    assert (loaded.report.self_loops_dropped, loaded.report.duplicates_dropped) == (0, 0)


def test_email_eu_core_drops_and_counts_its_self_loops() -> None:
    loaded = load_graph(DATA / "email_eu_core" / "email-Eu-core.txt")

    assert loaded.graph.n == 1_005
    assert loaded.report.self_loops_dropped == 642
    assert loaded.graph.m == 25_571 - 642

"""The share tree the dashboard draws: the largest cascades of the registry's share forest
(`metrics_journey.share_forest`, the same forest `cascade` measures), as one row per person.

A chart of more than a few hundred nodes is unreadable, so the tree keeps the largest cascades
in order of size and, within each, people level by level (nearest the root first) until
`TREE_NODES` people are in; each row says how many people that person brought in all, drawn
or not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from im2.analytics.kinds import PARTICIPATION_KINDS, REFERRED_KINDS
from im2.analytics.metrics import Metric, MetricValue, Unit, register
from im2.analytics.metrics_journey import share_forest
from im2.analytics.query import Query
from im2.i18n import N_

TREE_NODES = 400  # as the sharing page's tree
TREE_COUNT = 10


def _names(q: Query, hashes: np.ndarray[Any, np.dtype[np.uint64]]) -> dict[int, str]:
    """Participant ids of the drawn nodes from their `hash(actor_id)` (a few hundred)."""
    q.con.register("share_tree_nodes", pa.table({"h": pa.array(hashes, pa.uint64())}))
    try:
        rows = q.rows(
            "SELECT DISTINCT h, actor_id FROM (SELECT hash(actor_id) AS h, actor_id FROM evr "
            "WHERE actor_id IS NOT NULL) JOIN share_tree_nodes USING (h) ORDER BY actor_id"
        )
    finally:
        q.con.unregister("share_tree_nodes")
    found: dict[int, str] = {}
    for h, actor in rows:
        found.setdefault(int(h), str(actor))
    return found


def _share_tree(q: Query) -> MetricValue:
    built = share_forest(q)
    if built is None:
        return MetricValue(0.0, [])
    forest, hashes = built
    sizes = forest.subtree_size[forest.roots]
    shared = np.flatnonzero(sizes > 1)  # trees where someone came through a share
    if shared.size == 0:
        return MetricValue(0.0, [])
    # Largest first; of equal size, the one that started first.
    order = shared[np.lexsort((forest.time[forest.roots[shared]], -sizes[shared]))][:TREE_COUNT]
    rank = np.full(forest.n_trees, -1, dtype=np.int64)
    rank[order] = np.arange(order.size)
    nodes = np.flatnonzero(rank[forest.tree] >= 0)
    # Tree by tree, level by level, earliest first: a parent always comes before its children,
    # so cutting the list anywhere leaves a connected tree.
    nodes = nodes[np.lexsort((forest.time[nodes], forest.depth[nodes], rank[forest.tree[nodes]]))][
        :TREE_NODES
    ]
    parents = forest.parent[nodes]
    names = _names(q, np.unique(hashes[nodes]))

    def name(node: int) -> str | None:
        return names.get(int(hashes[node]))

    rows = [
        {
            "tree": int(rank[forest.tree[node]]) + 1,
            "participant": name(node),
            "parent": name(int(parent)) if parent >= 0 else None,
            "depth": int(forest.depth[node]),
            "people_brought": int(forest.subtree_size[node]) - 1,
            "joined_at": datetime.fromtimestamp(float(forest.time[node]), UTC).isoformat(),
        }
        for node, parent in zip(nodes.tolist(), parents.tolist(), strict=True)
    ]
    return MetricValue(float(sizes[order[0]]), rows)


register(
    Metric(
        "share_tree",
        N_("Share tree"),
        N_(
            "The largest share cascades (the forest `cascade` measures), one row per person: "
            "the cascade's rank by size, the person, who brought them, their depth, how many "
            "people they brought in all generations and when they joined. At most 10 "
            "cascades and 400 people, nearest the root first. The value is the size of the "
            "largest cascade."
        ),
        Unit.TABLE,
        (*PARTICIPATION_KINDS, *REFERRED_KINDS),
        _share_tree,
        columns=("tree", "participant", "parent", "depth", "people_brought", "joined_at"),
    )
)

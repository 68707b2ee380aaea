"""The influence product: graphs built from the workspace's data, KOL ranking, seed advice.

Callers own the transaction; nothing here commits.

The influence graph of a campaign (or of the whole workspace) joins four sources, each edge
``u -> v`` meaning "u can influence v":

- the share tree (``im2.sharing.service.share_stats``): inviter -> invitee, node ``p:<id>``;
- reposts in listening mentions: a Weibo-style ``//@B:`` or ``RT @B`` in A's post means A
  passed on B's post, so ``B -> A`` (nodes ``<platform>:<author>``). Mentions store no
  repost relation of their own (no parent post id), so the repost markers in the text are the
  evidence used;
- plain ``@B`` in A's post: B is notified of what A says, so ``A -> B`` ("mention" edges);
- imported follow / friend lists (``influence_edges``): ids as written in the file, so a file
  that writes ``p:12`` or ``weibo:name`` links to that participant or listening author.

Edge probabilities: weighted cascade ``1 / in-degree``, a constant, the imported values
(weighted cascade where a file gave none), or learned from observed shares with Beta
smoothing (``im2.influence.learn``; evidence: one share per campaign in which a participant
took a share link, an action when the contact joined or took part with that link's code).

Everything runs on the request path, so sizes are capped (``MAX_NODES``, ``MAX_EDGES``,
``schemas.MAX_K``, ``schemas.MIN_EPSILON``, a 256 MB RR-set budget and one thread).

The operations live by concern (imported graphs in ``graphs``, the network in ``network``, the
ranking in ``ranking``); this module is the facade the routes, the CLI and the demo import.
"""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.i18n import _
from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph
from im2.influence.graphs import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_EDGES,
    do_delete_graph,
    do_import_graph,
    list_graphs,
)
from im2.influence.imm import SeedSelection, select_seeds
from im2.influence.network import (
    MAX_EDGES,
    MAX_NODES,
    InfluenceNetwork,
    build_network,
    person_names,
)
from im2.influence.ranking import (
    CSV_COLUMNS,
    centrality,
    kol_ranking,
    kols_csv,
    rank_network,
    reason_text,
)
from im2.influence.schemas import (
    Forecast,
    GraphOptions,
    SeedRecommendation,
    SeedRequest,
    SeedRow,
    SpreadRead,
)
from im2.influence.simulate import SpreadEstimate, estimate_spread
from im2.workspaces.schemas import Actor

__all__ = [
    "CSV_COLUMNS",
    "MAX_EDGES",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_EDGES",
    "MAX_NODES",
    "InfluenceNetwork",
    "build_network",
    "centrality",
    "do_delete_graph",
    "do_import_graph",
    "kol_ranking",
    "kols_csv",
    "list_graphs",
    "own_pick_by_followers",
    "rank_network",
    "reason_text",
    "recommend_seeds",
]

SIMULATIONS = 2_000
MEMORY_BUDGET = 256 * 1024 * 1024

# --- seed selection and forecast --------------------------------------------------------------


def _spread(estimate: SpreadEstimate) -> SpreadRead:
    return SpreadRead(
        mean=estimate.mean,
        std_error=estimate.std_error,
        ci_low=estimate.ci_low,
        ci_high=estimate.ci_high,
        simulations=estimate.simulations,
    )


def _curve(estimate: SpreadEstimate, steps: int) -> list[float]:
    cumulative = estimate.cumulative().tolist()
    cumulative += [cumulative[-1]] * (steps + 1 - len(cumulative))
    return [round(x, 3) for x in cumulative[: steps + 1]]


def own_pick_by_followers(network: InfluenceNetwork, k: int) -> np.ndarray:
    """The brand's usual pick: the k people with the most followers (out-degree breaks ties)."""
    assert network.graph is not None
    degree = network.graph.out_degree().astype(np.float64)
    order = np.lexsort((np.arange(network.n), -degree, -network.followers))
    return order[:k].astype(np.int32)


def _checked_graph(network: InfluenceNetwork, request: SeedRequest) -> Graph:
    """The network's graph, when it has edges and at least k people."""
    graph = network.graph
    if graph is None:
        raise InvalidInput(
            _(
                "The influence graph has no edges yet: it needs shares, reposts or an imported "
                "follow list before seeds can be chosen."
            )
        )
    if request.k > graph.n:
        raise InvalidInput(
            _("k is {k} but the influence graph has only {n} people.").format(
                k=request.k, n=graph.n
            ),
            field="k",
        )
    return graph


def _costs(network: InfluenceNetwork, graph: Graph, request: SeedRequest) -> np.ndarray | None:
    """Each person's cost when a budget is given (None without one)."""
    if request.costs is not None and request.budget is None:
        raise InvalidInput(_("Costs need a budget to spend."), field="budget")
    if request.budget is None:
        return None
    # People without a listed cost cost 1, so a budget alone buys that many seeds.
    given = request.costs or {}
    unknown = [key for key in given if key not in set(network.keys)]
    if unknown:
        raise InvalidInput(
            _("Not in the influence graph: {ids}").format(ids=", ".join(unknown[:10])),
            field="costs",
        )
    costs = np.ones(graph.n)
    position = {key: i for i, key in enumerate(network.keys)}
    for key, cost in given.items():
        costs[position[key]] = cost
    return costs


def _own_pick(
    network: InfluenceNetwork, graph: Graph, request: SeedRequest
) -> tuple[np.ndarray, str]:
    """The pick the recommendation is compared with, and where it came from."""
    if not request.own_pick:
        return own_pick_by_followers(network, min(request.k, graph.n)), "followers"
    position = {key: i for i, key in enumerate(network.keys)}
    unknown = [key for key in request.own_pick if key not in position]
    if unknown:
        raise InvalidInput(
            _("Not in the influence graph: {ids}").format(ids=", ".join(unknown[:10])),
            field="own_pick",
        )
    own = np.array(list(dict.fromkeys(position[key] for key in request.own_pick)), dtype=np.int32)
    return own, "given"


def _simulate(graph: Graph, request: SeedRequest, seeds: np.ndarray) -> SpreadEstimate:
    return estimate_spread(
        graph,
        seeds,
        model=request.model.value,
        simulations=SIMULATIONS,
        seed=1,
        max_steps=request.steps,
        threads=1,
    )


def _select_and_simulate(
    graph: Graph, request: SeedRequest, costs: np.ndarray | None, own: np.ndarray
) -> tuple[SeedSelection, SpreadEstimate, SpreadEstimate]:
    """IMM's seeds, and the simulated spread of them and of the own pick."""
    model = request.model.value
    try:
        selection = select_seeds(
            graph,
            k=request.k,
            model=model,  # type: ignore[arg-type]
            epsilon=request.epsilon,
            seed=0,
            costs=costs,
            budget=request.budget,
            memory_budget=MEMORY_BUDGET,
            threads=1,
        )
        # Common random numbers: both seed sets meet the same simulated cascades.
        ours = _simulate(graph, request, selection.seeds)
        theirs = _simulate(graph, request, own)
    except InfluenceError as exc:
        raise InvalidInput(str(exc)) from None
    return selection, ours, theirs


def recommend_seeds(
    session: Session, *, actor: Actor, campaign_id: int | None, request: SeedRequest
) -> SeedRecommendation:
    """IMM seeds with an independent Monte Carlo check and a forecast against the own pick."""
    started = time.perf_counter()
    options = GraphOptions(
        probability=request.probability, constant=request.constant, strength=request.strength
    )
    network = build_network(session, actor=actor, campaign_id=campaign_id, options=options)
    graph = _checked_graph(network, request)
    costs = _costs(network, graph, request)
    own, own_source = _own_pick(network, graph, request)
    selection, ours, theirs = _select_and_simulate(graph, request, costs, own)

    shown = [network.keys[int(i)] for i in [*selection.seeds.tolist(), *own.tolist()]]
    names = person_names(session, actor=actor, keys=shown)

    def row(i: int, gain: float) -> SeedRow:
        return SeedRow(
            key=network.keys[i],
            label=names.get(network.keys[i], network.labels[i]),
            marginal_spread=round(gain, 3),
            cost=None if costs is None else float(costs[i]),
        )

    return SeedRecommendation(
        campaign_id=campaign_id,
        k=int(selection.seeds.shape[0]),
        model=request.model,
        epsilon=request.epsilon,
        approximation=selection.approximation,
        seeds=[
            row(int(i), float(g))
            for i, g in zip(selection.seeds, selection.marginal_spread, strict=True)
        ],
        imm_estimate=selection.estimated_spread,
        spread=_spread(ours),
        own_pick=[row(int(i), 0.0) for i in own],
        own_pick_source=own_source,
        own_spread=_spread(theirs),
        forecast=Forecast(
            steps=list(range(request.steps + 1)),
            recommended=_curve(ours, request.steps),
            own=_curve(theirs, request.steps),
        ),
        graph=network.summary,
        rr_sets=selection.rr_sets,
        total_cost=selection.total_cost,
        seconds=round(time.perf_counter() - started, 3),
    )

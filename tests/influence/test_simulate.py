"""Monte Carlo spread against exact spreads computed by enumerating live-edge worlds."""

from __future__ import annotations

import numpy as np
import pytest

from im2.influence.errors import InfluenceError
from im2.influence.exact import exact_spread
from im2.influence.graph import Graph, Probability, graph_from_edges
from im2.influence.rrsets import Model
from im2.influence.simulate import estimate_spread


def make_graph(edges: list[tuple[int, int, float]]) -> Graph:
    src, dst, prob = (np.array(column) for column in zip(*edges, strict=True))
    return graph_from_edges(src, dst, prob=prob).graph


def random_graph(seed: int, n: int = 8, m: int = 13, *, lt: bool = False) -> Graph:
    """Random probabilities; for LT scaled so each node's incoming weights sum to 0.8."""
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    prob = rng.uniform(0.1, 0.9, m)
    if lt:
        prob = 0.8 * prob / np.bincount(dst, weights=prob, minlength=n)[dst]
    return graph_from_edges(src, dst, n=n, prob=prob).graph


# Two parents each reaching node 2 with 0.5: IC needs one coin of two to succeed, while LT
# adds both weights (sum 1) and so always crosses the threshold.
FAN_IN = [(0, 2, 0.5), (1, 2, 0.5)]


def test_exact_spread_matches_hand_computation() -> None:
    path = make_graph([(0, 1, 0.5), (1, 2, 0.5)])
    fan_in = make_graph(FAN_IN)

    assert exact_spread(path, [[0], [1], [2], [0, 2]]) == pytest.approx([1.75, 1.5, 1.0, 2.5])
    assert exact_spread(path, [[0]], model="lt") == pytest.approx([1.75])
    assert exact_spread(fan_in, [[0, 1], [0]]) == pytest.approx([2.75, 1.5])
    assert exact_spread(fan_in, [[0, 1], [0]], model="lt") == pytest.approx([3.0, 1.5])


@pytest.mark.parametrize("model", ["ic", "lt"])
@pytest.mark.parametrize("graph_seed", [1, 2, 3])
def test_monte_carlo_mean_agrees_with_exact_spread(model: Model, graph_seed: int) -> None:
    graph = random_graph(graph_seed, lt=model == "lt")
    seeds = np.array([0, 3])
    exact = float(exact_spread(graph, [seeds.tolist()], model=model)[0])

    estimate = estimate_spread(graph, seeds, model=model, simulations=20_000, seed=graph_seed)

    assert estimate.std_error > 0
    assert abs(estimate.mean - exact) < 4 * estimate.std_error
    assert estimate.ci_low < exact < estimate.ci_high
    assert estimate.per_step.sum() == pytest.approx(estimate.mean)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_shared_probabilities_take_the_jump_path_and_stay_exact(p: float) -> None:
    # Every out-edge shares p here, so the simulator jumps between live edges instead of
    # testing each one; the result must still be the exact expectation.
    rng = np.random.default_rng(4)
    src, dst = rng.integers(0, 8, 14), rng.integers(0, 8, 14)
    graph = graph_from_edges(src, dst, n=8, probability=Probability(kind="const", value=p)).graph
    exact = float(exact_spread(graph, [[0, 5]])[0])

    estimate = estimate_spread(graph, np.array([0, 5]), simulations=20_000)

    assert abs(estimate.mean - exact) <= 4 * estimate.std_error + 1e-9


def test_lt_and_ic_simulations_differ_where_the_models_differ() -> None:
    graph = make_graph(FAN_IN)

    ic = estimate_spread(graph, np.array([0, 1]), model="ic", simulations=4000)
    lt = estimate_spread(graph, np.array([0, 1]), model="lt", simulations=4000)

    assert lt.mean == 3.0
    assert lt.std_error == 0.0
    assert abs(ic.mean - 2.75) < 4 * ic.std_error


def test_per_step_profile_of_a_certain_chain() -> None:
    graph = make_graph([(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0)])

    estimate = estimate_spread(graph, np.array([0]), simulations=50)

    assert estimate.per_step.tolist() == [1.0, 1.0, 1.0, 1.0]
    assert estimate.cumulative().tolist() == [1.0, 2.0, 3.0, 4.0]
    assert (estimate.mean, estimate.ci_low, estimate.ci_high) == (4.0, 4.0, 4.0)


def test_steps_past_the_horizon_are_lumped_into_the_last_entry() -> None:
    graph = make_graph([(i, i + 1, 1.0) for i in range(6)])

    estimate = estimate_spread(graph, np.array([0]), simulations=5, max_steps=3)

    assert estimate.per_step.tolist() == [1.0, 1.0, 1.0, 4.0]


def test_same_seed_same_estimate_and_repeated_seeds_count_once() -> None:
    graph = random_graph(7)

    first = estimate_spread(graph, np.array([1, 2]), simulations=3000, seed=11)
    again = estimate_spread(graph, np.array([2, 1, 1]), simulations=3000, seed=11)
    other = estimate_spread(graph, np.array([1, 2]), simulations=3000, seed=12)

    assert (first.mean, first.std_error) == (again.mean, again.std_error)
    assert first.mean != other.mean


def test_thread_count_does_not_change_the_estimate() -> None:
    graph = random_graph(7)

    one = estimate_spread(graph, np.array([1, 2]), simulations=2500, seed=5, threads=1)
    three = estimate_spread(graph, np.array([1, 2]), simulations=2500, seed=5, threads=3)

    assert (one.mean, one.std_error) == (three.mean, three.std_error)
    assert np.array_equal(one.per_step, three.per_step)


def test_empty_seed_set_spreads_nowhere() -> None:
    estimate = estimate_spread(random_graph(1), np.array([], dtype=np.int32), simulations=10)

    assert estimate.mean == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"simulations": 0}, "simulations must be at least 1"),
        ({"model": "sir"}, "model must be 'ic' or 'lt'"),
        ({"seed": -1}, "seed must be non-negative"),
        ({"max_steps": 0}, "max_steps must be at least 1"),
    ],
)
def test_bad_requests_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InfluenceError, match=message):
        estimate_spread(random_graph(1), np.array([0]), **kwargs)  # type: ignore[arg-type]


def test_seed_ids_outside_the_graph_are_refused() -> None:
    with pytest.raises(InfluenceError, match=r"internal ids in 0\.\.7"):
        estimate_spread(random_graph(1), np.array([8]))


def test_exact_spread_refuses_too_many_worlds() -> None:
    graph = random_graph(1, n=10, m=30)

    with pytest.raises(InfluenceError, match="live-edge worlds"):
        exact_spread(graph, [[0]], max_worlds=1000)

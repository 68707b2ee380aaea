"""Seed selection with IMM (Tang, Shi and Xiao, SIGMOD 2015) under IC and LT.

Guarantee (unit costs): with probability at least ``1 - 1/n^ell`` the returned k seeds have
expected spread at least ``(1 - 1/e - epsilon) * OPT``.

IMM first estimates a lower bound LB of OPT by sampling RR sets for a halving guess x of OPT
until the greedy solution covers enough of them, then samples ``theta = lambda* / LB`` RR
sets and runs greedy maximum coverage on them. Two details differ from the paper's
pseudo-code on purpose:

- The final selection runs on a fresh, independent collection of ``theta`` RR sets. The paper
  reuses the sets of the estimation phase, and Chen (2018, "An issue in the martingale
  analysis of the influence maximization algorithm IMM") showed that reuse breaks the
  martingale argument behind the guarantee; fresh sets restore it at the cost of sampling
  up to twice as much. ``reuse_samples=True`` gives the paper's (faster) behaviour.
- Optional per-node costs with a budget replace "k seeds" by "total cost <= budget". The
  selection is then the cost-effective greedy (best marginal coverage per unit cost) or the
  best single affordable node, whichever covers more; on a fixed sample this is a
  ``(1 - 1/sqrt(e))`` approximation of the best budget-feasible coverage (Khuller, Moss and
  Naor 1999). The sample size is computed with that factor in place of ``1 - 1/e`` and with
  k the largest number of nodes the budget can buy, so the guarantee becomes
  ``(1 - 1/sqrt(e) - epsilon) * OPT_budget`` with the same probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from im2.influence._parallel import default_threads
from im2.influence._rng import RR_ESTIMATION, RR_SELECTION, stream_key
from im2.influence.errors import InfluenceError
from im2.influence.graph import Graph, check_lt_weights
from im2.influence.rrsets import Model, Progress, RRSampler

DEFAULT_MEMORY_BUDGET = 1 << 30


@dataclass(frozen=True, eq=False)
class SeedSelection:
    """Chosen seeds (internal ids, in pick order) and how they were obtained.

    ``estimated_spread`` is ``n`` times the fraction of the final RR sets the seeds cover;
    it is slightly optimistic because the same sets chose the seeds. Use Monte Carlo
    (``simulate.estimate_spread``) for an independent figure. ``marginal_spread[i]`` is the
    estimated spread added by ``seeds[i]``.
    """

    seeds: np.ndarray
    model: Model
    epsilon: float
    ell: float
    approximation: float
    estimated_spread: float
    marginal_spread: np.ndarray
    lower_bound: float
    rr_sets: int
    rr_sets_total: int
    mean_rr_size: float
    total_cost: float | None


def log_binomial(n: int, k: int) -> float:
    """``log C(n, k)`` without overflow."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def sample_sizes(n: int, k: int, epsilon: float, ell: float, gamma: float) -> tuple[float, float]:
    """``(lambda', lambda*)`` of IMM (Equations 9 and 6); ``ell`` already adjusted.

    ``gamma`` is the approximation factor of the node selection on a fixed sample
    (``1 - 1/e`` for plain greedy).
    """
    log_c = log_binomial(n, k)
    log_n = math.log(n)
    eps_prime = math.sqrt(2.0) * epsilon
    lambda_prime = (
        (2.0 + 2.0 * eps_prime / 3.0)
        * (log_c + ell * log_n + math.log(max(math.log2(n), 1.0)))
        * n
        / eps_prime**2
    )
    alpha = math.sqrt(ell * log_n + math.log(2.0))
    beta = math.sqrt(gamma * (log_c + ell * log_n + math.log(2.0)))
    lambda_star = 2.0 * n * (gamma * alpha + beta) ** 2 / epsilon**2
    return lambda_prime, lambda_star


def _check_request(
    graph: Graph, k: int, epsilon: float, ell: float, costs: np.ndarray | None, budget: float | None
) -> tuple[np.ndarray, float, int]:
    """Validate and return ``(costs, budget, max_seeds)`` in the unit-cost or budget form."""
    if not 0.0 < epsilon < 1.0:
        raise InfluenceError(f"epsilon must be between 0 and 1 (exclusive), got {epsilon}")
    if ell <= 0.0:
        raise InfluenceError(f"ell must be positive, got {ell}")
    if (costs is None) != (budget is None):
        raise InfluenceError("costs and budget go together: give both or neither")
    if costs is None or budget is None:
        if not 1 <= k <= graph.n:
            raise InfluenceError(
                f"k must be between 1 and the number of nodes ({graph.n}), got {k}"
            )
        return np.ones(graph.n, dtype=np.float64), float(k), k
    costs = np.asarray(costs, dtype=np.float64)
    if costs.shape != (graph.n,):
        raise InfluenceError(f"costs need one value per node ({graph.n}), got {costs.shape}")
    if np.isnan(costs).any() or (costs <= 0).any():
        raise InfluenceError("costs must be positive (inf marks a node that may not be picked)")
    if not budget > 0:
        raise InfluenceError(f"budget must be positive, got {budget}")
    affordable = int(np.searchsorted(np.cumsum(np.sort(costs)), budget, side="right"))
    if affordable == 0:
        raise InfluenceError(f"no node costs at most the budget {budget:g}")
    return costs, float(budget), affordable


def select_seeds(
    graph: Graph,
    *,
    k: int = 50,
    model: Model = "ic",
    epsilon: float = 0.1,
    ell: float = 1.0,
    seed: int = 0,
    costs: np.ndarray | None = None,
    budget: float | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    reuse_samples: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> SeedSelection:
    """Pick seeds maximising expected spread; deterministic for a given ``seed``.

    With ``costs`` (one positive value per node, ``inf`` for nodes that may not be picked)
    and ``budget``, ``k`` is ignored and the seeds' total cost stays within the budget.
    Raises ``InfluenceError`` for an impossible request (k > n, LT weights summing above
    1, ...) and ``MemoryBudgetError`` before sampling more RR sets than ``memory_budget``
    bytes can hold. ``threads`` (default: every core available) only changes the speed:
    the result is the same for any value.
    """
    if model not in ("ic", "lt"):
        raise InfluenceError(f"model must be 'ic' or 'lt', got {model!r}")
    if seed < 0:
        raise InfluenceError(f"seed must be non-negative, got {seed}")
    threads = default_threads() if threads is None else threads
    costs, spend, max_seeds = _check_request(graph, k, epsilon, ell, costs, budget)
    if model == "lt":
        check_lt_weights(graph)
    unit = budget is None
    n = graph.n
    gamma = 1.0 - 1.0 / math.e if unit else 1.0 - 1.0 / math.sqrt(math.e)
    # Two phases may each fail with probability n^-ell'; together they stay within n^-ell.
    ell_adjusted = ell * (1.0 + math.log(2.0) / math.log(n)) if n > 1 else ell
    lambda_prime, lambda_star = sample_sizes(n, max_seeds, epsilon, ell_adjusted, gamma)
    eps_prime = math.sqrt(2.0) * epsilon

    estimation = RRSampler(
        graph,
        model=model,
        seed=stream_key(seed, RR_ESTIMATION),
        memory_budget=memory_budget,
        threads=threads,
    )
    lower_bound = 1.0
    i = 1
    while i < math.log2(n):
        x = n / 2.0**i
        estimation.extend_to(math.ceil(lambda_prime / x), progress)
        covered = estimation.select(costs, spend, max_seeds).covered
        if n * covered / estimation.count >= (1.0 + eps_prime) * x:
            lower_bound = n * covered / (estimation.count * (1.0 + eps_prime))
            break
        i += 1
    theta = math.ceil(lambda_star / lower_bound)
    estimation_sets = estimation.count

    if reuse_samples:
        final = estimation
    else:
        final = RRSampler(
            graph,
            model=model,
            seed=stream_key(seed, RR_SELECTION),
            memory_budget=memory_budget,
            threads=threads,
        )
        # Refuse early on the estimate from phase one instead of after filling memory.
        if final.bytes_needed(theta, estimation.mean_size()) > memory_budget:
            raise estimation.refusal(theta)
        del estimation
    final.extend_to(theta, progress)
    coverage = final.select(costs, spend, max_seeds)
    seeds = coverage.seeds
    marginal = coverage.gains * (n / final.count)
    if unit and seeds.shape[0] < k:
        # Every sampled RR set is covered already: the rest add no measurable spread, so
        # complete with the lowest unused ids to honour "k seeds" deterministically.
        unused = np.setdiff1d(np.arange(n, dtype=np.int32), seeds)[: k - seeds.shape[0]]
        seeds = np.concatenate([seeds, unused]).astype(np.int32)
        marginal = np.concatenate([marginal, np.zeros(unused.shape[0])])
    return SeedSelection(
        seeds=seeds,
        model=model,
        epsilon=epsilon,
        ell=ell,
        approximation=gamma - epsilon,
        estimated_spread=float(marginal.sum()),
        marginal_spread=marginal,
        lower_bound=lower_bound,
        rr_sets=final.count,
        rr_sets_total=final.count if reuse_samples else final.count + estimation_sets,
        mean_rr_size=final.mean_size(),
        total_cost=None if unit else float(costs[seeds].sum()),
    )

"""Bayesian A/B statistics for conversion goals, as PostHog computes them.

Each variant's conversion rate gets a Beta(1 + conversions, 1 + non-conversions) posterior
(a uniform prior). From Monte Carlo draws of every posterior at once:

- probability of being best: the share of draws in which the variant has the highest rate;
- expected loss: the mean of (best rate in the draw - this variant's rate), i.e. how much
  conversion one gives up on average by shipping this variant if it is not the best.

A winner is declared only once every variant has the minimum sample (Lehr's rule for 80 %
power at a two-sided 5 % level: n = 16 p (1 - p) / delta^2 per variant, with p the control's
rate and delta the smallest lift worth detecting, relative to p), the leader's probability of
being best reaches `P_BEST_THRESHOLD` and its expected loss is under `LOSS_THRESHOLD`.

Pure: plain numbers in, frozen dataclasses out; no database, no web.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import beta as beta_dist

SAMPLES = 100_000
P_BEST_THRESHOLD = 0.95
LOSS_THRESHOLD = 0.01
CREDIBLE_MASS = 0.95
MIN_SAMPLE_FLOOR = 100


def bucket(key: str, identity: str) -> float:
    """A uniform number in [0, 1) fixed by (experiment key, identity): the same person always
    lands in the same place, and different experiments split people independently."""
    digest = hashlib.sha256(f"{key}\x1f{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_variant(key: str, identity: str, weights: Sequence[float]) -> int:
    """The index of the variant this identity sees, with probability proportional to weight."""
    total = float(sum(weights))
    point = bucket(key, identity) * total
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight
        if point < running:
            return index
    return len(weights) - 1  # float rounding at the very top end


@dataclass(frozen=True, slots=True)
class VariantStats:
    exposures: int
    conversions: int
    rate: float | None
    interval_low: float
    interval_high: float
    p_best: float
    expected_loss: float


@dataclass(frozen=True, slots=True)
class Analysis:
    variants: tuple[VariantStats, ...]
    required_per_variant: int
    enough_data: bool
    leader: int | None
    significant: bool


def min_sample_per_variant(baseline: float, min_effect: float) -> int:
    """Lehr's rule: exposures per variant to detect a relative lift of `min_effect` on a rate of
    `baseline` with 80 % power at a two-sided 5 % level."""
    p = min(max(baseline, 1e-6), 1 - 1e-6)
    delta = p * min_effect
    return max(MIN_SAMPLE_FLOOR, math.ceil(16 * p * (1 - p) / (delta * delta)))


def analyse(
    counts: Sequence[tuple[int, int]],
    *,
    min_effect: float,
    samples: int = SAMPLES,
    seed: int = 0,
) -> Analysis:
    """`counts` is (exposures, conversions) per variant, control first."""
    if len(counts) < 2:
        raise ValueError("an experiment compares at least two variants")
    exposures = np.array([n for n, _ in counts], dtype=np.float64)
    conversions = np.array([min(c, n) for n, c in counts], dtype=np.float64)
    alpha = 1.0 + conversions
    beta = 1.0 + exposures - conversions
    rng = np.random.default_rng(seed)
    draws = rng.beta(alpha[:, None], beta[:, None], size=(len(counts), samples))
    best = draws.max(axis=0)
    winners = np.bincount(draws.argmax(axis=0), minlength=len(counts)) / samples
    loss = (best[None, :] - draws).mean(axis=1)
    tail = (1 - CREDIBLE_MASS) / 2
    low = beta_dist.ppf(tail, alpha, beta)
    high = beta_dist.ppf(1 - tail, alpha, beta)
    variants = tuple(
        VariantStats(
            exposures=int(exposures[i]),
            conversions=int(conversions[i]),
            rate=float(conversions[i] / exposures[i]) if exposures[i] else None,
            interval_low=float(low[i]),
            interval_high=float(high[i]),
            p_best=float(winners[i]),
            expected_loss=float(loss[i]),
        )
        for i in range(len(counts))
    )
    # The control's posterior mean, never 0 or 1, sets the sample the test needs.
    baseline = float(alpha[0] / (alpha[0] + beta[0]))
    required = min_sample_per_variant(baseline, min_effect)
    enough = bool(exposures.min() >= required)
    leader = int(np.argmax(winners)) if exposures.sum() > 0 else None
    significant = (
        enough
        and leader is not None
        and variants[leader].p_best >= P_BEST_THRESHOLD
        and variants[leader].expected_loss < LOSS_THRESHOLD
    )
    return Analysis(
        variants=variants,
        required_per_variant=required,
        enough_data=enough,
        leader=leader,
        significant=significant,
    )


def prob_b_beats_a(a_conv: int, a_n: int, b_conv: int, b_n: int) -> float:
    """Closed form of P(rate_B > rate_A) for Beta(1 + conv, 1 + n - conv) posteriors (Evan
    Miller's sum); exact, used to check the Monte Carlo."""
    alpha_a, beta_a = 1 + a_conv, 1 + a_n - a_conv
    alpha_b, beta_b = 1 + b_conv, 1 + b_n - b_conv
    total = 0.0
    for i in range(alpha_b):
        total += math.exp(
            math.lgamma(alpha_a + i)
            + math.lgamma(beta_a + beta_b)
            + math.lgamma(1 + i + beta_b)
            + math.lgamma(alpha_a + beta_a)
            - math.log(beta_b + i)
            - math.lgamma(1 + i)
            - math.lgamma(alpha_a + i + beta_a + beta_b)
            - math.lgamma(beta_b)
            - math.lgamma(alpha_a)
            - math.lgamma(beta_a)
        )
    return total


def posterior_curves(
    counts: Sequence[tuple[int, int]], *, points: int = 121
) -> tuple[list[float], list[list[float]]]:
    """Each variant's Beta posterior density on one grid of rates (for drawing)."""
    alpha = np.array([1.0 + min(c, n) for n, c in counts])
    beta = np.array([1.0 + n - min(c, n) for n, c in counts])
    low = float(beta_dist.ppf(0.0005, alpha, beta).min())
    high = float(beta_dist.ppf(0.9995, alpha, beta).max())
    grid = np.linspace(low, high, points)
    dens = beta_dist.pdf(grid[None, :], alpha[:, None], beta[:, None])
    return [round(float(x), 6) for x in grid], [[round(float(y), 4) for y in row] for row in dens]

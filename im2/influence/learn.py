"""Edge probabilities learned from observed cascades, with Beta smoothing.

For an edge ``u -> v`` (u can influence v) the data are

- ``shares[u]``: how many times u shared (one share per campaign in which u took a share
  link), and
- ``acted[e]``: in how many of those shares v acted through u's link (joined or took part
  with u's code as referrer).

The raw fraction ``acted / shares`` is 0/0 for people who never shared and jumps to 0 or 1
after a single share, which would make IMM chase noise. The estimator is therefore the
posterior mean under a Beta prior centred on a prior guess ``q`` (by default the weighted
cascade ``1 / in-degree(v)``) with a strength of ``m`` pseudo-shares::

    p_uv = (acted_uv + m * q_uv) / (shares_u + m)

i.e. the prior ``Beta(m q, m (1 - q))`` updated with ``acted`` successes in ``shares`` trials.
With no shares the edge keeps its prior ``q``; with many shares the observed fraction wins.
``m = 2, q = 1/2`` is Laplace's rule of succession ``(acted + 1) / (shares + 2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from im2.influence.errors import InfluenceError

DEFAULT_STRENGTH = 2.0


@dataclass(frozen=True, eq=False)
class LearnedProbabilities:
    """One probability per edge and the evidence behind it (for reports)."""

    prob: np.ndarray
    shares: np.ndarray  # shares of the edge's source, after clamping to at least ``acted``
    acted: np.ndarray
    edges_with_evidence: int


def learned_probabilities(
    src: np.ndarray,
    dst: np.ndarray,
    *,
    shares: np.ndarray,
    acted: np.ndarray,
    prior: np.ndarray,
    strength: float = DEFAULT_STRENGTH,
) -> LearnedProbabilities:
    """Beta-smoothed ``P(v acts | u shared)`` per edge ``src[e] -> dst[e]``.

    ``shares`` is indexed by node, ``acted`` and ``prior`` by edge. When ``acted`` exceeds the
    source's recorded shares (a share whose record was lost) the shares count is raised to
    ``acted``, so a probability never exceeds 1.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    acted = np.asarray(acted, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    shares = np.asarray(shares, dtype=np.float64)
    if not src.shape == dst.shape == acted.shape == prior.shape:
        raise InfluenceError("src, dst, acted and prior need one entry per edge")
    if src.size and (src.min() < 0 or src.max() >= shares.shape[0]):
        raise InfluenceError("shares needs one entry per node")
    if not strength > 0:
        raise InfluenceError(f"the prior strength must be positive, got {strength}")
    if (acted < 0).any() or (shares < 0).any():
        raise InfluenceError("share and action counts cannot be negative")
    if not ((prior >= 0.0) & (prior <= 1.0)).all():
        raise InfluenceError("prior probabilities must lie in [0, 1]")
    trials = np.maximum(shares[src], acted)
    prob = (acted + strength * prior) / (trials + strength)
    return LearnedProbabilities(
        prob=prob,
        shares=trials,
        acted=acted,
        edges_with_evidence=int(np.count_nonzero(trials)),
    )

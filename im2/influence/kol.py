"""KOL (key opinion leader) ranking: a combined score with the reasons behind it.

Inputs are per-person arrays (index = node of the influence graph); nothing here reads a
database. Signals:

- ``followers``: reach, the largest follower count known for the person (listening authors'
  profiles, or how many people follow them in imported follow lists);
- ``descendants``: observed spread, everyone who joined through the person's share links
  and their invitees' links, all generations (``im2.sharing.cascade.node_metrics``);
- ``centrality``: PageRank of the person in the graph where each influence edge ``u -> v``
  counts as v endorsing u (``pagerank`` below), so being followed by well-followed people
  counts more than being followed by many nobodies;
- ``engagement``: interactions per post (likes + reposts + comments) for listening authors,
  actions taken in the campaign for participants;
- ``positive`` / ``negative`` / ``mentions``: sentiment of what they post about the brand;
- ``posts`` with ``followers`` and ``engagement``: the authenticity check.

Combined score (0..100)::

    base  = 100 * (0.25 r_reach + 0.30 r_spread + 0.25 r_centrality + 0.20 r_engagement)
    score = base * (1 + 0.25 * net_sentiment) * (0.5 if suspicious else 1)

where ``r_x`` is the percentile rank of the person's value among all candidates (ties share
their mean rank; a zero value ranks 0, so a signal nobody has adds nothing), and
``net_sentiment = (positive - negative) / mentions`` in [-1, 1] (0 without mentions).
Observed spread weighs most because it is what the brand actually saw happen.

Authenticity: a person with at least ``SUSPICIOUS_FOLLOWERS`` followers whose interactions per
post are below ``SUSPICIOUS_RATE`` of the follower count is flagged. Genuine accounts usually
see 1-5 % engagement; 0.1 % at that size is the classic trace of bought followers. The flag
halves the score and is shown as a reason, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from im2.influence.errors import InfluenceError

WEIGHTS = {"reach": 0.25, "spread": 0.30, "centrality": 0.25, "engagement": 0.20}
SENTIMENT_WEIGHT = 0.25
SUSPICIOUS_FOLLOWERS = 10_000
SUSPICIOUS_RATE = 0.001
SUSPICIOUS_PENALTY = 0.5
TOP_SHARE = 0.10  # a signal is a reason in its top 10 % (and for its sole leader)


def pagerank(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    damping: float = 0.85,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> np.ndarray:
    """PageRank of the links ``src[e] -> dst[e]`` by power iteration (sums to 1).

    Rank flows along links in proportion to ``weight``; nodes without out-links spread
    theirs evenly (the usual dangling-node fix). O(m) per iteration.
    """
    if n <= 0:
        raise InfluenceError("PageRank needs at least one node")
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.ones(src.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    out_weight = np.bincount(src, weights=w, minlength=n)
    share = np.divide(w, out_weight[src], out=np.zeros_like(w), where=out_weight[src] > 0)
    dangling = out_weight == 0
    rank = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        flow = np.bincount(dst, weights=rank[src] * share, minlength=n)
        new = (1.0 - damping) / n + damping * (flow + rank[dangling].sum() / n)
        done = float(np.abs(new - rank).sum()) < tol
        rank = new
        if done:
            break
    return np.asarray(rank, dtype=np.float64)


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Share of candidates with a smaller value, plus half the ties, in [0, 1]; 0 for 0."""
    values = np.asarray(values, dtype=np.float64)
    count = values.shape[0]
    if count == 0:
        return values
    order = np.sort(values)
    below = np.searchsorted(order, values, side="left")
    at_or_below = np.searchsorted(order, values, side="right")
    rank = (below + at_or_below) / (2.0 * count)
    return np.where(values > 0, rank, 0.0)


def share_at_or_above(values: np.ndarray) -> np.ndarray:
    """Share of candidates whose value is at least this one (the best alone: 1 / count)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] == 0:
        return values
    order = np.sort(values)
    below = np.searchsorted(order, values, side="left")
    return np.asarray((values.shape[0] - below) / values.shape[0], dtype=np.float64)


@dataclass(frozen=True)
class Reason:
    """Why a person ranks where they do: ``kind`` names the signal, ``value`` its figure and
    ``top`` the share of candidates at or above them (0.03 = top 3 %)."""

    kind: str  # reach, spread, centrality, engagement, positive, negative, suspicious
    value: float
    top: float


@dataclass(frozen=True)
class KolScore:
    node: int
    score: float
    reach: float
    spread: float
    centrality: float
    engagement: float
    net_sentiment: float
    mentions: int
    suspicious: bool
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, eq=False)
class KolSignals:
    """Per-node signals, all arrays of the same length."""

    followers: np.ndarray
    descendants: np.ndarray
    centrality: np.ndarray
    engagement: np.ndarray
    posts: np.ndarray
    positive: np.ndarray
    negative: np.ndarray
    mentions: np.ndarray


def suspicious_accounts(
    followers: np.ndarray, engagement: np.ndarray, posts: np.ndarray
) -> np.ndarray:
    """Big follower counts with almost no interactions per post (see module docstring)."""
    followers = np.asarray(followers, dtype=np.float64)
    rate = np.divide(
        np.asarray(engagement, dtype=np.float64),
        followers,
        out=np.zeros_like(followers),
        where=followers > 0,
    )
    flags = (followers >= SUSPICIOUS_FOLLOWERS) & (np.asarray(posts) > 0) & (rate < SUSPICIOUS_RATE)
    return np.asarray(flags, dtype=bool)


def rank_kols(signals: KolSignals, *, limit: int | None = None) -> list[KolScore]:
    """Everyone with any signal, best first (ties: smaller node id first)."""
    arrays = [
        signals.followers,
        signals.descendants,
        signals.centrality,
        signals.engagement,
        signals.posts,
        signals.positive,
        signals.negative,
        signals.mentions,
    ]
    n = signals.followers.shape[0]
    if any(np.asarray(a).shape != (n,) for a in arrays):
        raise InfluenceError("every KOL signal needs one value per person")
    if limit is not None and limit < 1:
        raise InfluenceError(f"limit must be at least 1, got {limit}")
    values = {
        "reach": np.asarray(signals.followers, dtype=np.float64),
        "spread": np.asarray(signals.descendants, dtype=np.float64),
        "centrality": np.asarray(signals.centrality, dtype=np.float64),
        "engagement": np.asarray(signals.engagement, dtype=np.float64),
    }
    # Centrality is positive for everyone (teleportation): only above-uniform counts.
    if n:
        values["centrality"] = np.where(values["centrality"] > 1.0 / n, values["centrality"], 0.0)
    ranks = {key: percentile_rank(v) for key, v in values.items()}
    at_or_above = {key: share_at_or_above(v) for key, v in values.items()}
    base = 100.0 * sum(WEIGHTS[key] * ranks[key] for key in WEIGHTS)
    mentions = np.asarray(signals.mentions, dtype=np.float64)
    positive = np.asarray(signals.positive, dtype=np.float64)
    negative = np.asarray(signals.negative, dtype=np.float64)
    net = np.divide(positive - negative, mentions, out=np.zeros(n), where=mentions > 0)
    suspicious = suspicious_accounts(signals.followers, signals.engagement, signals.posts)
    score = base * (1.0 + SENTIMENT_WEIGHT * net) * np.where(suspicious, SUSPICIOUS_PENALTY, 1.0)
    has_signal = (sum(values.values()) > 0) | (mentions > 0)
    candidates = np.flatnonzero(has_signal)
    order = candidates[np.lexsort((candidates, -score[candidates]))]
    if limit is not None:
        order = order[:limit]
    rows = []
    for i in order.tolist():
        reasons: list[Reason] = []
        for key in ("spread", "reach", "centrality", "engagement"):
            top = float(at_or_above[key][i])
            sole_leader = top * n <= 1.0  # nobody else has as much (ties are no distinction)
            if values[key][i] > 0 and (top <= TOP_SHARE or sole_leader):
                reasons.append(Reason(kind=key, value=float(values[key][i]), top=top))
        if net[i] > 0:
            reasons.append(
                Reason(kind="positive", value=float(positive[i]), top=float(mentions[i]))
            )
        elif net[i] < 0:
            reasons.append(
                Reason(kind="negative", value=float(negative[i]), top=float(mentions[i]))
            )
        if suspicious[i]:
            rate = float(values["engagement"][i] / values["reach"][i])
            reasons.append(Reason(kind="suspicious", value=rate, top=float(values["reach"][i])))
        if not reasons:  # nobody is listed without a reason: give their strongest signal
            key = max(WEIGHTS, key=lambda k: (ranks[k][i], k))
            reasons.append(
                Reason(kind=key, value=float(values[key][i]), top=float(at_or_above[key][i]))
            )
        rows.append(
            KolScore(
                node=i,
                score=float(score[i]),
                reach=float(values["reach"][i]),
                spread=float(values["spread"][i]),
                centrality=float(signals.centrality[i]),
                engagement=float(values["engagement"][i]),
                net_sentiment=float(net[i]),
                mentions=int(mentions[i]),
                suspicious=bool(suspicious[i]),
                reasons=tuple(reasons),
            )
        )
    return rows

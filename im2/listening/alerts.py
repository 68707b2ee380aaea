"""The spike and crisis detector: pure, so it can be replayed on real timelines in tests.

The last window (an hour by default) is compared with the windows before it (twelve by
default), as Meltwater does:

* **volume**: z = (x − μ) / σ over the baseline windows' counts, with σ never below √μ (the
  Poisson spread; a flat baseline has no sample variance but counts still fluctuate) nor
  below 1 (a silent baseline). Bursty topics therefore need a bigger jump than calm ones.
* **negative share**: a one-sided test of the window's share of negative mentions against the
  baseline's share, z = (p − p₀) / √(p₀(1 − p₀)/n), and the share must also rise by a margin a
  person would call a change.

Sensitivity sets the z threshold and the fewest mentions that can make an alert; the cool-down
keeps one crisis from sending an alert every minute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from im2.listening.schemas import AlertKind as SpikeKind
from im2.listening.schemas import Sensitivity

Z_THRESHOLD: Final = {Sensitivity.LOW: 5.0, Sensitivity.MEDIUM: 4.0, Sensitivity.HIGH: 3.0}
MIN_MENTIONS: Final = {Sensitivity.LOW: 20, Sensitivity.MEDIUM: 10, Sensitivity.HIGH: 5}
# The negative share must rise by at least this much (absolute), whatever the statistics say:
# with thousands of mentions a 2-point rise is "significant" and still not a crisis.
MIN_SHARE_RISE: Final = 0.15
# With no baseline at all, assume the share of negative mentions typical of brand chatter.
PRIOR_NEGATIVE_SHARE: Final = 0.2


@dataclass(frozen=True, slots=True)
class Bucket:
    total: int
    negative: int = 0


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    sensitivity: Sensitivity = Sensitivity.MEDIUM
    cooldown: timedelta = timedelta(hours=6)
    window: timedelta = timedelta(hours=1)
    baseline_windows: int = 12


@dataclass(frozen=True, slots=True)
class Spike:
    kind: SpikeKind
    observed: float
    baseline: float
    score: float
    mentions: int
    negative_share: float


def volume_score(window: Bucket, baseline: Sequence[Bucket]) -> tuple[float, float]:
    """(z, baseline mean) of the window's mention count."""
    counts = [b.total for b in baseline]
    mean = sum(counts) / len(counts) if counts else 0.0
    var = sum((c - mean) ** 2 for c in counts) / (len(counts) - 1) if len(counts) > 1 else 0.0
    sigma = math.sqrt(max(var, mean, 1.0))
    return (window.total - mean) / sigma, mean


def negative_share_score(window: Bucket, baseline: Sequence[Bucket]) -> tuple[float, float]:
    """(z, baseline share) of the window's share of negative mentions."""
    base_total = sum(b.total for b in baseline)
    base_negative = sum(b.negative for b in baseline)
    p0 = base_negative / base_total if base_total else PRIOR_NEGATIVE_SHARE
    if window.total == 0:
        return 0.0, p0
    p0_clamped = min(max(p0, 0.05), 0.95)
    p = window.negative / window.total
    return (p - p0) / math.sqrt(p0_clamped * (1 - p0_clamped) / window.total), p0


def detect(
    window: Bucket,
    baseline: Sequence[Bucket],
    *,
    settings: DetectorSettings,
    now: datetime,
    last_fired: dict[SpikeKind, datetime] | None = None,
) -> list[Spike]:
    """The spikes to raise now (none while a kind is cooling down from its last alert)."""
    threshold = Z_THRESHOLD[settings.sensitivity]
    minimum = MIN_MENTIONS[settings.sensitivity]
    last_fired = last_fired or {}
    share = window.negative / window.total if window.total else 0.0
    spikes: list[Spike] = []

    def cooling(kind: SpikeKind) -> bool:
        fired = last_fired.get(kind)
        return fired is not None and now - fired < settings.cooldown

    z, mean = volume_score(window, baseline)
    if window.total >= minimum and z >= threshold and not cooling(SpikeKind.VOLUME):
        spikes.append(Spike(SpikeKind.VOLUME, window.total, mean, z, window.total, share))
    z, p0 = negative_share_score(window, baseline)
    if (
        window.negative >= max(1, minimum // 2)
        and share - p0 >= MIN_SHARE_RISE
        and z >= threshold
        and not cooling(SpikeKind.NEGATIVE)
    ):
        spikes.append(Spike(SpikeKind.NEGATIVE, share, p0, z, window.total, share))
    return spikes


def bucketize(
    times: Sequence[datetime],
    negative: Sequence[bool],
    *,
    now: datetime,
    window: timedelta,
    baseline_windows: int,
) -> tuple[Bucket, list[Bucket]]:
    """Count mentions into the last window and the baseline windows before it (oldest first).

    Windows are half-open and end at `now`: (now − window, now] is the current one.
    """
    totals = [0] * (baseline_windows + 1)
    negatives = [0] * (baseline_windows + 1)
    for when, is_negative in zip(times, negative, strict=True):
        if when > now:
            continue
        # Window k is (now − (k+1)·window, now − k·window]; 0 is the current one.
        index = int((now - when) / window)
        if index <= baseline_windows:
            totals[index] += 1
            negatives[index] += int(is_negative)
    buckets = [Bucket(t, n) for t, n in zip(totals, negatives, strict=True)]
    return buckets[0], list(reversed(buckets[1:]))

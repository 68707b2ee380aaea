"""Synthetic campaign event streams at scale, a pure core: numpy in, Arrow tables out.

Realistic enough to exercise every metric: daily and hourly seasonality (an evening peak and a
launch-week decay), heavy-tailed participation (Pareto activity per person), share cascades
(a third of people arrive through an earlier person's share), channels, and conversions with
log-normal amounts. Deterministic for a seed.

Synthetic people are "s:0", "s:1" … (`SYNTHETIC_PREFIX`): never a real participant's id
("129") nor a visitor's ("d:…"), so generated traffic written into a real campaign's log is
counted beside its real people, never merged with them.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from im2.events.schemas import EventKind as K
from im2.events.service import EVENT_ARROW_SCHEMA

SYNTHETIC_PREFIX = "s:"
CHANNELS = ("wechat", "weibo", "douyin", "xiaohongshu", None)
CHANNEL_WEIGHTS = (0.35, 0.25, 0.2, 0.1, 0.1)
# Later events of a person (the first is always a view); weights sum to 1.
KIND_MIX = (
    (K.CAMPAIGN_VIEWED, 0.30),
    (K.ACTIVITY_VIEWED, 0.15),
    (K.VOTE_CAST, 0.18),
    (K.LIKE_GIVEN, 0.08),
    (K.COMMENT_POSTED, 0.04),
    (K.QUIZ_ANSWERED, 0.05),
    (K.CHECKIN_DONE, 0.06),
    (K.SHARE_CREATED, 0.05),
    (K.UGC_SUBMITTED, 0.02),
    (K.PARTICIPANT_JOINED, 0.05),
    (K.CONVERSION_RECORDED, 0.02),
)
# Share of the day's traffic per local hour: quiet nights, a lunch bump, an evening peak.
HOURLY = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4.5, 6, 5, 4, 4, 4.5, 5, 6, 8, 9, 9, 6, 3]
)


def generate_events(
    *,
    events: int,
    start: datetime,
    days: int = 30,
    campaign_id: int = 1,
    workspace_id: int = 1,
    first_id: int = 1,
    utc_offset_hours: int = 8,
    seed: int = 7,
) -> pa.Table:
    """`events` events of one campaign over `days` days from `start`, sorted by time, with ids
    from `first_id` (so ids grow with time, as in the event log)."""
    rng = np.random.default_rng(seed)
    people = max(events // 12, 1)
    activity = rng.pareto(1.3, people) + 1.0
    channel_of = rng.choice(len(CHANNELS), people, p=CHANNEL_WEIGHTS)
    # Arrival day decays after launch; arrival hour follows the local daily curve.
    day_w = np.exp(-np.arange(days) / (days / 3)) + 0.2
    arrival_day = rng.choice(days, people, p=day_w / day_w.sum())
    arrival_hour = rng.choice(24, people, p=HOURLY / HOURLY.sum())
    start_s = start.timestamp()
    arrival = (
        start_s
        + arrival_day * 86400.0
        + ((arrival_hour - utc_offset_hours) % 24) * 3600.0
        + rng.uniform(0, 3600, people)
    )
    order = np.argsort(arrival, kind="stable")
    arrival, channel_of, activity = arrival[order], channel_of[order], activity[order]
    # A third arrive through an earlier person's share (someone who arrived before them).
    referred = rng.random(people) < 0.33
    referred[0] = False
    parent = np.where(referred, (rng.random(people) * np.arange(people)).astype(np.int64), -1)

    # Every person's first event is a view; the rest are drawn by activity weight.
    rest = events - people
    actor = np.concatenate(
        [np.arange(people), rng.choice(people, max(rest, 0), p=activity / activity.sum())]
    )[:events]
    n = actor.size
    kinds = np.array([str(k) for k, _w in KIND_MIX] + [str(K.SHARE_CLICKED)])
    kind_idx = rng.choice(len(KIND_MIX), n, p=[w for _k, w in KIND_MIX])
    first = np.zeros(n, dtype=bool)
    first[: min(people, n)] = True
    kind_idx[first] = np.where(referred[actor[first]], len(KIND_MIX), 0)
    # Returns come back hours to days later, heavy-tailed, hourly shaped by the arrival curve.
    delay = np.where(first, 0.0, rng.exponential(2.5, n) * 86400.0)
    end_s = start_s + days * 86400.0 - 1
    when = arrival[actor] + delay
    is_conv = kind_idx == 10
    amounts = np.round(rng.lognormal(4.5, 0.8, n), 2)
    # A return that would fall after the window comes back some time inside it instead (drawn
    # last, so the rest of the stream is as before): no pile of events on the last second.
    late = when > end_s
    when[late] = arrival[actor[late]] + rng.random(int(late.sum())) * np.maximum(
        end_s - arrival[actor[late]], 0.0
    )
    when = np.minimum(when, end_s)
    carries_ref = (first & referred[actor]) | ((kind_idx == 9) & referred[actor])
    ref = np.where(carries_ref, parent[actor], -1)

    sort = np.argsort(when, kind="stable")
    when, actor, kind_idx, is_conv, amounts, ref = (
        when[sort],
        actor[sort],
        kind_idx[sort],
        is_conv[sort],
        amounts[sort],
        ref[sort],
    )
    channel_idx = channel_of[actor]
    channel_values = pa.array(list(CHANNELS), pa.string())
    amount_text = pc.cast(pa.array(amounts), pa.string())
    properties = pc.if_else(
        pa.array(is_conv),
        pc.binary_join_element_wise('{"amount": ', amount_text, "}", ""),
        pa.scalar("{}"),
    )
    ref_arr = pa.array(ref)
    referrer = pc.if_else(pc.greater_equal(ref_arr, 0), _synthetic_ids(ref_arr), None)
    table = pa.Table.from_arrays(
        [
            pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
            pa.array((when * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC")),
            pa.array(np.full(n, workspace_id, dtype=np.int64)),
            pa.array(np.full(n, campaign_id, dtype=np.int64)),
            pa.nulls(n, pa.int64()),
            pa.array(np.full(n, "participant")),
            _synthetic_ids(pa.array(actor)),
            pc.take(pa.array(kinds), pa.array(kind_idx)),
            pc.take(channel_values, pa.array(channel_idx)),
            referrer,
            properties,
        ],
        schema=EVENT_ARROW_SCHEMA,
    )
    return table


def _synthetic_ids(numbers: pa.Array) -> pa.Array:
    """The ids "s:<n>" of person numbers."""
    return pc.binary_join_element_wise(SYNTHETIC_PREFIX, pc.cast(numbers, pa.string()), "")

"""The demo brand's saved segments (人群): three audiences a marketer would keep, read from the
closeness ladder the demo computed (so they load after `ladder_job`).

- 传播者和拥护者: everyone who shared and brought a friend (the people to thank and to ask
  again);
- 最近 7 天活跃的参与者: people who took part and came back this week (a campaign's warm
  audience);
- 高互动用户（互动指数 50 以上）: the most engaged (recency, frequency, spread).

Each is a rule over `people` columns the ladder job writes (stage, score, last seen), so its
count needs no other job to have run."""

from __future__ import annotations

from datetime import datetime

from im2.db import Database
from im2.people.segments import service as segments
from im2.people.segments.schemas import SegmentCreate, SegmentRule
from im2.workspaces.schemas import Actor

DEMO_SEGMENTS: list[tuple[str, dict[str, object]]] = [
    (
        "传播者和拥护者",
        {
            "match": "all",
            "conditions": [{"field": "stage", "op": "in", "values": ["spreader", "advocate"]}],
        },
    ),
    (
        "最近 7 天活跃的参与者",
        {
            "match": "all",
            "conditions": [
                {"field": "stage", "op": "in", "values": ["participant", "spreader", "advocate"]},
                {"field": "last_seen", "op": "within", "days": 7},
            ],
        },
    ),
    (
        "高互动用户（互动指数 50 以上）",
        {"match": "all", "conditions": [{"field": "score", "op": "gte", "value": 50}]},
    ),
]


def load_segments_demo(db: Database, *, actor: Actor, now: datetime) -> None:
    """Save the demo's segments as `actor` (the demo owner), in one transaction."""
    with db.transaction() as session:
        for name, rule in DEMO_SEGMENTS:
            segments.do_create_segment(
                session,
                actor=actor,
                data=SegmentCreate(name=name, rule=SegmentRule.model_validate(rule)),
                now=now,
            )

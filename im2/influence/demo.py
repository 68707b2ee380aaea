"""Demo data for influence: a share cascade in the fission campaign and a follow list.

Deterministic (a fixed random seed): the same demo every time. Called once from
``im2.demo.load_demo`` inside its transaction.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.influence import service
from im2.participation import service as participation
from im2.participation.schemas import Visitor
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor

CASCADE_PEOPLE = 120
FANS = 240


def load_influence_demo(session: Session, *, actor: Actor, campaign_id: int, now: datetime) -> None:
    """About 120 participants who brought each other in, and a follow list over them."""
    rng = random.Random(20260322)
    status = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id).status
    clickable = status not in ("draft", "archived")  # links of those campaigns lead nowhere
    start = now - timedelta(days=40)
    joined: list[int] = []
    codes: dict[int, str] = {}
    # A few people drive most of the spread, as in real fission campaigns.
    pull = [rng.paretovariate(1.3) for _ in range(CASCADE_PEOPLE)]
    for i in range(CASCADE_PEOPLE):
        referrer = None
        if joined and i >= 6:
            weights = [pull[j] for j in range(len(joined))]
            parent = rng.choices(range(len(joined)), weights=weights)[0]
            referrer = codes[joined[parent]]
        when = start + timedelta(minutes=37 * i)
        visitor = Visitor(
            device_id=f"demo-influence-{i:04d}",
            ip=f"10.7.{i // 200}.{i % 200 + 1}",
            user_agent="Mozilla/5.0 (iPhone) MicroMessenger",
            channel=rng.choice(("wechat", "wechat", "weibo", "xiaohongshu")),
            referrer=referrer,
        )
        if referrer is not None and clickable:
            # As in real life, a friend's link is opened before they join through it.
            sharing.do_click(session, code=referrer, visitor=visitor, now=when)
        person = participation.do_join(
            session,
            workspace_id=actor.workspace_id,
            campaign_id=campaign_id,
            visitor=visitor,
            consented=True,
            now=when,
        )
        joined.append(person.id)
        link = sharing.do_get_link(
            session,
            workspace_id=actor.workspace_id,
            campaign_id=campaign_id,
            participant_id=person.id,
            now=when + timedelta(minutes=5),
        )
        codes[person.id] = link.code
    # A follow list: participants followed by fans, with a handful of well-followed accounts.
    lines = ["followee,follower"]
    stars = rng.sample(joined, 8)
    for f in range(FANS):
        fan = f"fan-{f:03d}"
        for followee in set(rng.sample(stars, 2) + rng.sample(joined, 2)):
            lines.append(f"p:{followee},{fan}")
        if f % 3 == 0:
            lines.append(f"{fan},fan-{(f * 7 + 11) % FANS:03d}")
    for a in joined:
        for b in rng.sample(joined, 2):
            if a != b:
                lines.append(f"p:{a},p:{b}")
    service.do_import_graph(
        session,
        actor=actor,
        name="会员关注关系（演示）",
        filename="demo-follows.csv",
        data="\n".join(lines).encode(),
        directed=True,
        now=now - timedelta(days=1),
    )

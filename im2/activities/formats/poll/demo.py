"""Demo content for polls: a live poll with a few hundred realistic votes, and one waiting for
the charity vote to start."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from im2.activities.formats.demos import demo_rules
from im2.activities.formats.poll import service
from im2.activities.formats.poll.schemas import PollCreate, PollOptionIn, ResultsVisibility
from im2.activities.formats.poll.votes import VoteRequest, cast_votes
from im2.campaigns import service as campaigns
from im2.errors import IM2Error
from im2.i18n import get_locale
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

CHANNELS = ("wechat", "wechat", "wechat", "xiaohongshu", "xiaohongshu", "email", "weibo")


def load_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> None:
    live_id = campaign_ids["feedback_live"]
    tasting = service.do_create_poll(
        session,
        actor=actor,
        campaign_id=live_id,
        data=PollCreate(
            title="试喝之后，你最想把哪款带回家？",
            description="樱花拿铁首发周，四款春季限定饮品，你投出的每一票都会影响下一季菜单。",
            options=[
                PollOptionIn(label="樱花拿铁"),
                PollOptionIn(label="抹茶冷萃"),
                PollOptionIn(label="桂花乌龙拿铁"),
                PollOptionIn(label="海盐芝士美式"),
            ],
            results=ResultsVisibility.AFTER_VOTE,
        ),
        now=now - timedelta(days=5),
    )
    slug = campaigns.get_campaign(session, actor=actor, campaign_id=live_id).slug
    rng = random.Random(20260301)  # the same demo every time
    weights = [0.41, 0.27, 0.22, 0.10]
    option_ids = [o.id for o in service.options_of(session, activity_id=tasting.id)]
    votes = []
    for i in range(320):
        voted_at = now - timedelta(days=5) + timedelta(minutes=rng.randint(0, 5 * 24 * 60 - 10))
        choice = rng.choices(option_ids, weights=weights)[0]
        votes.append(
            VoteRequest(
                slug=slug,
                activity_id=tasting.id,
                visitor=Visitor(
                    device_id=f"demo{i:028d}",
                    ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                    user_agent=(
                        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) MicroMessenger"
                    ),
                    channel=rng.choice(CHANNELS),
                ),
                option_ids=[choice],
                **demo_rules(rng.uniform(3, 40)),
                now=voted_at,
                locale=get_locale(),
            )
        )
    # The same rule as every participant's vote, in one batch.
    refused = [o for o in cast_votes(session, votes).outcomes if isinstance(o, IM2Error)]
    if refused:
        raise refused[0]

    service.do_create_poll(
        session,
        actor=actor,
        campaign_id=campaign_ids["charity_scheduled"],
        data=PollCreate(
            title="这一季，我们把咖啡钱捐给谁？",
            description="每一票捐出 1 元，得票最高的项目获得全部捐款。",
            options=[
                PollOptionIn(label="乡村图书角"),
                PollOptionIn(label="流浪动物救助"),
                PollOptionIn(label="云南咖啡农培训"),
            ],
            results=ResultsVisibility.LIVE,
        ),
        now=now - timedelta(days=2),
    )

"""Demo page views: who looked at the demo campaigns, written after every format's demo made
its participants, so that reach, interaction rate, coverage and the AISAS funnel have the
traffic behind them. It reads campaigns, activities and share links and writes participation's
views and sharing's clicks, so it sits with `im2.demo`, above every domain it loads.

Realistic in shape: every participant looked before taking part (on the channel they came
by, through the share link that brought them if one did), some came back on a later day, and
about twice as many people looked without taking part, by the campaign's channels, a few
through a participant's share link (a real click on it), a few from a search engine.
Deterministic for the demo's clock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from im2.activities.service import list_activities
from im2.campaigns import service as campaigns
from im2.events.schemas import EventKind
from im2.participation import service
from im2.participation.schemas import Visitor
from im2.participation.visits import PageView, record_views
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor

LOOKERS_PER_PARTICIPANT = 2.0  # people who looked without taking part, per participant
VIA_SHARE = 0.15  # of the lookers, arrived through a participant's share link
VIA_SEARCH = 0.06  # of the lookers, from a search engine
CAME_BACK = 0.25  # looked again on a later day
OPENED_ACTIVITY = 0.6  # of participants; lookers half as often
# The local hour people look at their phones, from night to late evening.
HOURS = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3, 3.5, 4, 6, 5, 4, 4, 4.5, 5, 6, 8, 9, 8, 5, 2)


def load_views_demo(
    session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
) -> int:
    """Views (and the share clicks behind some) for every demo campaign people took part in;
    returns how many views were written."""
    written = 0
    for number, campaign_id in enumerate(sorted(campaign_ids.values())):
        written += _campaign_views(
            session, actor=actor, campaign_id=campaign_id, now=now, seed=20260400 + number
        )
    return written


class _Views:
    """The page views of one campaign being made: `look` adds a view of the campaign page,
    maybe one of an activity, maybe a return visit on a later day."""

    def __init__(
        self,
        *,
        workspace_id: int,
        campaign_id: int,
        activities: list[int],
        end: datetime,
        rng: random.Random,
    ) -> None:
        self.workspace_id = workspace_id
        self.campaign_id = campaign_id
        self.activities = activities
        self.end = end
        self.rng = rng
        self.views: list[PageView] = []

    def look(
        self,
        device: str,
        at: datetime,
        channel: str | None,
        *,
        referrer: str | None = None,
        properties: Mapping[str, object] | None = None,
        activity: float,
    ) -> None:
        rng = self.rng
        base = PageView(
            kind=EventKind.CAMPAIGN_VIEWED,
            workspace_id=self.workspace_id,
            campaign_id=self.campaign_id,
            activity_id=None,
            device_id=device,
            occurred_at=at,
            channel=channel,
            referrer=referrer,
            properties=properties or {},
        )
        self.views.append(base)
        if self.activities and rng.random() < activity:
            self.views.append(
                replace(
                    base,
                    kind=EventKind.ACTIVITY_VIEWED,
                    activity_id=rng.choice(self.activities),
                    occurred_at=at + timedelta(seconds=rng.randint(10, 120)),
                    referrer=None,
                    properties={},
                )
            )
        if rng.random() < CAME_BACK:
            again = at + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 10))
            if again < self.end:
                self.views.append(replace(base, occurred_at=again, referrer=None, properties={}))


def _campaign_views(
    session: Session, *, actor: Actor, campaign_id: int, now: datetime, seed: int
) -> int:
    joins = service.list_joins(session, workspace_id=actor.workspace_id, campaign_id=campaign_id)
    if not joins:
        return 0
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    start = campaign.starts_at or min(j.joined_at for j in joins)
    end = min(campaign.ends_at or now, now)
    activities = [a.id for a in list_activities(session, actor=actor, campaign_id=campaign_id)]
    codes = sorted(sharing.link_owners(session, campaign_id=campaign_id))
    devices = service.get_signals(
        session,
        workspace_id=actor.workspace_id,
        participant_ids=[j.participant_id for j in joins],
    )
    rng = random.Random(seed)  # noqa: S311 (demo data, deterministic by design)
    views = _Views(
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        activities=activities,
        end=end,
        rng=rng,
    )
    # Participants looked a few minutes before they took part.
    for join in joins:
        signals = devices.get(join.participant_id)
        if signals is None:
            continue
        at = max(join.joined_at - timedelta(minutes=rng.randint(1, 20)), start)
        via = join.referred_by if join.referred_by in codes else None
        views.look(
            signals.device_id,
            at,
            join.channel,
            referrer=via,
            properties={"source": "share"} if via else None,
            activity=OPENED_ACTIVITY,
        )
    _lookers(
        session,
        views,
        count=int(len(joins) * LOOKERS_PER_PARTICIPANT),
        start=start,
        zone=ZoneInfo(campaign.timezone),
        channels=[c.channel.value for c in campaign.channels] or ["wechat"],
        codes=codes,
    )
    record_views(session, views.views)
    return len(views.views)


def _lookers(
    session: Session,
    views: _Views,
    *,
    count: int,
    start: datetime,
    zone: ZoneInfo,
    channels: list[str],
    codes: list[str],
) -> None:
    """People who looked and did not take part (a few through a share link: a real click)."""
    rng, end = views.rng, views.end
    span = max((end - start).total_seconds(), 3600.0)
    for _ in range(count):
        device = f"{rng.getrandbits(128):032x}"
        day = (start + timedelta(seconds=rng.uniform(0, span))).astimezone(zone)
        hour = rng.choices(range(24), weights=HOURS)[0]
        at = day.replace(hour=hour, minute=rng.randint(0, 59))
        at = min(max(at, start), end - timedelta(minutes=1))
        channel: str | None = rng.choice(channels) if rng.random() > 0.1 else None
        draw = rng.random()
        if codes and draw < VIA_SHARE:
            code = rng.choice(codes)
            visitor = Visitor(device_id=device, ip=None, user_agent=None, channel="wechat")
            sharing.do_click(session, code=code, visitor=visitor, now=at)
            views.look(
                device,
                at + timedelta(seconds=2),
                "wechat",
                referrer=code,
                properties={"source": "share"},
                activity=OPENED_ACTIVITY / 2,
            )
        elif draw < VIA_SHARE + VIA_SEARCH:
            source = {"source": "search", "from": "www.baidu.com"}
            views.look(device, at, channel, properties=source, activity=OPENED_ACTIVITY / 2)
        else:
            views.look(device, at, channel, activity=OPENED_ACTIVITY / 2)

"""Personal share links, clicks with first-touch attribution, and the share tree's figures.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.campaigns.service import PublicCampaignRef
from im2.db import Base
from im2.errors import NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import count_events_by_channel, record_event
from im2.i18n import _
from im2.participation import service as participation
from im2.participation.schemas import Visitor, visitor_actor
from im2.sharing.cascade import node_metrics
from im2.sharing.cascade_import import forest_from_edges
from im2.sharing.models import ShareLink
from im2.sharing.schemas import ChannelRow, ShareLinkRead, ShareStats, ShareTreeNode
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

# No 0/o, 1/l/i: codes are read aloud and typed from posters.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 10  # 31^10 ≈ 8e14: not guessable by walking the space


def _read(row: ShareLink) -> ShareLinkRead:
    return ShareLinkRead(
        code=row.code,
        campaign_id=row.campaign_id,
        participant_id=row.participant_id,
        created_at=row.created_at,
        clicks=row.clicks,
    )


def do_get_link(
    session: Session, *, workspace_id: int, campaign_id: int, participant_id: int, now: datetime
) -> ShareLinkRead:
    """The participant's one link for this campaign, created on first request."""
    query = select(ShareLink).where(
        ShareLink.campaign_id == campaign_id, ShareLink.participant_id == participant_id
    )
    existing = session.scalar(query)
    if existing is not None:
        return _read(existing)
    for _attempt in range(5):
        row = ShareLink(
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            participant_id=participant_id,
            code="".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)),
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            again = session.scalar(query)  # the same person in a concurrent request
            if again is not None:
                return _read(again)
            continue  # a code collision: draw another
        record_event(
            session,
            kind=EventKind.SHARE_CREATED,
            occurred_at=now,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=participant_id,
            properties={"code": row.code},
        )
        return _read(row)
    raise RuntimeError("could not draw a free share code")


@dataclass(frozen=True, slots=True)
class ClickTarget:
    """What a click on a share link needs: the link, its campaign and where to send them."""

    link_id: int
    code: str
    workspace_id: int
    campaign_id: int
    sharer_id: int
    slug: str


def _click_targets(session: Session, codes: set[str]) -> dict[str, ClickTarget | str]:
    """Each code's link with its campaign's slug, in one indexed query; for a code that cannot
    be followed, why: "missing" (no such link) or "closed" (draft or archived campaign)."""
    # The campaigns table through the shared metadata: one join instead of loading the whole
    # campaign (channels, KPI targets) that a redirect does not need.
    campaigns_table = Base.metadata.tables["campaigns"]
    rows = session.execute(
        select(
            ShareLink.id,
            ShareLink.code,
            ShareLink.workspace_id,
            ShareLink.campaign_id,
            ShareLink.participant_id,
            campaigns_table.c.slug,
            campaigns_table.c.status,
        )
        .join(campaigns_table, campaigns_table.c.id == ShareLink.campaign_id)
        .where(ShareLink.code.in_(codes))
    ).all()
    found: dict[str, ClickTarget | str] = dict.fromkeys(codes, "missing")
    for link_id, code, workspace_id, campaign_id, sharer_id, slug, status in rows:
        found[code] = (
            "closed"
            if status in ("draft", "archived")
            else ClickTarget(link_id, code, workspace_id, campaign_id, sharer_id, slug)
        )
    return found


def _not_followable(reason: str) -> NotFound:
    if reason == "closed":
        return NotFound(_("There is no campaign at this address."))
    return NotFound(_("This share link does not exist."))


def find_click_target(session: Session, *, code: str) -> ClickTarget:
    """The link behind /s/<code>; NotFound for an unknown code or a campaign that is not public
    (draft or archived)."""
    found = _click_targets(session, {code})[code]
    if isinstance(found, str):
        raise _not_followable(found)
    return found


@dataclass(frozen=True, slots=True)
class Click:
    """A click as the request brought it, for the group commit (`record_clicks`)."""

    code: str
    visitor: Visitor
    now: datetime
    utm: Mapping[str, str] = field(default_factory=dict)


def record_clicks(session: Session, clicks: Sequence[Click]) -> list[ClickTarget | str]:
    """The redirect's batch work: count and record every followable click of the batch (one
    lookup for all codes, one counter update per link, the events in one flush). A click that
    cannot be followed writes nothing and comes back as its reason ("missing" or "closed"),
    which the request turns into a 404 in the visitor's language."""
    targets = _click_targets(session, {c.code for c in clicks})
    counts: Counter[int] = Counter()
    outcomes: list[ClickTarget | str] = []
    for click in clicks:
        target = targets[click.code]
        outcomes.append(target)
        if isinstance(target, str):
            continue
        counts[target.link_id] += 1
        _click_event(session, target=target, visitor=click.visitor, now=click.now, utm=click.utm)
    if counts:
        # One executemany on the table (not one ORM statement per link, each with autoflush).
        table = Base.metadata.tables[ShareLink.__tablename__]
        session.execute(
            table.update()
            .where(table.c.id == bindparam("link_id"))
            .values(clicks=table.c.clicks + bindparam("added")),
            [{"link_id": link_id, "added": n} for link_id, n in counts.items()],
        )
    return outcomes


def refusal(reason: str) -> NotFound:
    """The error for a click `record_clicks` could not follow, in the caller's language."""
    return _not_followable(reason)


def _click_event(
    session: Session,
    *,
    target: ClickTarget,
    visitor: Visitor,
    now: datetime,
    utm: Mapping[str, str] | None = None,
) -> None:
    properties: dict[str, Any] = {"device": visitor.device_id, "sharer": target.sharer_id}
    if utm:
        properties["utm"] = dict(utm)
    # The clicker is a visitor (most never take part): their device identity, the one their
    # page views carry, so that reach counts them once whether they clicked, looked or both.
    record_event(
        session,
        kind=EventKind.SHARE_CLICKED,
        occurred_at=now,
        workspace_id=target.workspace_id,
        campaign_id=target.campaign_id,
        actor_type=ActorType.VISITOR,
        actor_id=visitor_actor(visitor.device_id),
        channel=visitor.channel,
        referrer=target.code,
        properties=properties,
    )


def do_record_click(
    session: Session, *, target: ClickTarget, visitor: Visitor, now: datetime
) -> None:
    """Count the click and record `share.clicked` (the referrer is the link's code)."""
    session.execute(
        update(ShareLink).where(ShareLink.id == target.link_id).values(clicks=ShareLink.clicks + 1)
    )
    _click_event(session, target=target, visitor=visitor, now=now)


def do_click(session: Session, *, code: str, visitor: Visitor, now: datetime) -> PublicCampaignRef:
    """Count a click on a share link and record it; returns the campaign to send them to."""
    target = find_click_target(session, code=code)
    do_record_click(session, target=target, visitor=visitor, now=now)
    found = campaigns.get_public_campaign_by_id(session, campaign_id=target.campaign_id)
    assert found is not None  # the join above found it
    return found


def share_stats(session: Session, *, actor: Actor, campaign_id: int) -> ShareStats:
    """The campaign's share links and the tree they grew: links, clicks, who brought whom (first
    touch), the top sharers and the channels. The campaign's figures (participants, K-factor,
    cascade depth and virality) are the analytics registry's, not computed here."""
    require(actor, Permission.READ_CAMPAIGNS)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    links = link_owners(session, campaign_id=campaign.id)
    clicks = int(
        session.scalar(
            select(func.coalesce(func.sum(ShareLink.clicks), 0)).where(
                ShareLink.campaign_id == campaign.id
            )
        )
        or 0
    )
    joins = participation.list_joins(
        session, workspace_id=actor.workspace_id, campaign_id=campaign.id
    )
    edges = [
        ShareTreeNode(
            participant_id=j.participant_id,
            # A code from another campaign (or a forged cookie) is not an edge of this tree.
            parent_id=links.get(j.referred_by) if j.referred_by else None,
            channel=j.channel,
            joined_at=j.joined_at,
        )
        for j in joins
    ]
    channels = _by_channel(session, actor=actor, campaign_id=campaign.id, edges=edges)
    top: list[tuple[int, int]] = []
    if any(e.parent_id is not None for e in edges):
        build = forest_from_edges(
            [e.parent_id for e in edges],
            [e.participant_id for e in edges],
            times=np.array([e.joined_at.timestamp() for e in edges], dtype=np.float64),
        )
        descendants = node_metrics(build.forest).descendants
        order = np.argsort(-descendants, kind="stable")[:10]
        top = [(int(build.ids[i]), int(descendants[i])) for i in order if descendants[i] > 0]
    return ShareStats(
        links=len(links), clicks=clicks, edges=edges, top_sharers=top, channels=channels
    )


def _by_channel(
    session: Session, *, actor: Actor, campaign_id: int, edges: list[ShareTreeNode]
) -> list[ChannelRow]:
    """Clicks (from the `share.clicked` events) and people brought, per channel tag."""
    clicks = count_events_by_channel(
        session,
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        kinds=[EventKind.SHARE_CLICKED.value],
    )
    joined = Counter(e.channel or "link" for e in edges if e.parent_id is not None)
    names = {name or "link" for name in clicks} | set(joined)
    totals = Counter({name or "link": n for name, n in clicks.items() if name})
    totals["link"] += clicks.get(None, 0)
    rows = [ChannelRow(channel=n, clicks=totals[n], joined=joined[n]) for n in names]
    return sorted(rows, key=lambda r: (-r.clicks, -r.joined, r.channel))


def get_link(session: Session, *, campaign_id: int, participant_id: int) -> ShareLinkRead | None:
    row = session.scalar(
        select(ShareLink).where(
            ShareLink.campaign_id == campaign_id, ShareLink.participant_id == participant_id
        )
    )
    return None if row is None else _read(row)


def link_owners(session: Session, *, campaign_id: int) -> dict[str, int]:
    """Every share link of the campaign: its code and the participant who shares it."""
    rows = session.execute(
        select(ShareLink.code, ShareLink.participant_id).where(ShareLink.campaign_id == campaign_id)
    )
    return {str(code): int(pid) for code, pid in rows}


def get_link_by_code(session: Session, *, code: str) -> ShareLinkRead | None:
    row = session.scalar(select(ShareLink).where(ShareLink.code == code))
    return None if row is None else _read(row)

"""What the brand, a participant and a verifier see of a lucky draw: results and stock, the
held entries, the participant's page, and the public record that `im2 draw verify` checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import held_rows
from im2.activities.formats.draw import core
from im2.activities.formats.draw.models import Draw, DrawEntry, DrawPrize
from im2.activities.formats.draw.schemas import (
    DrawMode,
    DrawRecord,
    DrawResults,
    PrizeRead,
    WinnerRead,
)
from im2.activities.formats.draw.service import (
    eligible_entry_ids,
    entries_closed,
    load_console,
    load_draw,
    prizes_of,
    shared_stocks,
)
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.workspaces import service as workspaces
from im2.workspaces.schemas import Actor

ALGORITHM = (
    "ticket = HMAC-SHA256(key=seed, message=str(entry_id)); scheduled: entries sorted by "
    "(ticket, entry_id), prizes in order take their units from the top; instant: roll = "
    "int(ticket[:13], 16) / 2**52, the first prize whose cumulative odds exceed the roll is "
    "won while it has stock; a prize with a shared_prize_id also needs a unit of the points "
    "store's stock, and entries that found it empty are listed in `missed`. "
    "commitment = SHA-256(seed)."
)


def prize_reads(prizes: list[DrawPrize], shared: dict[int, int]) -> list[PrizeRead]:
    """`shared`: free units of shared prizes (`service.shared_stocks`)."""
    return [
        PrizeRead(
            id=p.id,
            name=p.name,
            units=p.units,
            stock=p.stock,
            odds=p.odds,
            won=p.units - p.stock,
            shared_prize_id=p.prize_id,
            shared_stock=shared.get(p.id),
        )
        for p in prizes
    ]


def missed_of(session: Session, *, activity_id: int) -> dict[int, int]:
    """Entries of an instant draw whose pick found a shared prize's stock empty."""
    rows = session.execute(
        select(DrawEntry.id, DrawEntry.missed_prize_id).where(
            DrawEntry.activity_id == activity_id, DrawEntry.missed_prize_id.is_not(None)
        )
    )
    return {entry_id: prize_id for entry_id, prize_id in rows if prize_id is not None}


def winners_of(session: Session, *, activity_id: int) -> list[WinnerRead]:
    rows = session.execute(
        select(DrawEntry, DrawPrize.name)
        .join(DrawPrize, DrawPrize.id == DrawEntry.prize_id)
        .where(DrawEntry.activity_id == activity_id)
        .order_by(DrawEntry.won_at, DrawEntry.id)
    )
    return [
        WinnerRead(
            entry_id=entry.id,
            participant_id=entry.participant_id,
            prize_id=entry.prize_id or 0,
            prize=name,
            won_at=entry.won_at or entry.created_at,
        )
        for entry, name in rows
    ]


def count_entries(session: Session, *, activity_id: int, held: bool) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(DrawEntry)
            .where(DrawEntry.activity_id == activity_id, DrawEntry.held.is_(held))
        )
        or 0
    )


def is_revealed(draw: Draw, prizes: list[DrawPrize], campaign: CampaignRead | None) -> bool:
    """A scheduled draw shows its seed once drawn; an instant one once nothing more can be won
    (the campaign has ended, or every prize is gone)."""
    if draw.mode == DrawMode.SCHEDULED.value:
        return draw.drawn_at is not None
    ended = campaign is not None and campaign.status in (
        CampaignStatus.ENDED,
        CampaignStatus.ARCHIVED,
    )
    return ended or all(p.stock == 0 for p in prizes)


def record_of(session: Session, *, activity_id: int, reveal: bool) -> DrawRecord:
    draw = load_draw(session, activity_id=activity_id)
    prizes = prizes_of(session, activity_id=activity_id)
    shared = shared_stocks(session, draw=draw, prizes=prizes)
    return DrawRecord(
        activity_id=activity_id,
        mode=DrawMode(draw.mode),
        algorithm=ALGORITHM,
        commitment=draw.commitment,
        seed=draw.seed if reveal else None,
        draw_at=draw.draw_at,
        drawn_at=draw.drawn_at,
        prizes=prize_reads(prizes, shared),
        entries=eligible_entry_ids(session, activity_id=activity_id),
        winners={w.entry_id: w.prize_id for w in winners_of(session, activity_id=activity_id)},
        missed=missed_of(session, activity_id=activity_id),
    )


def published_record(session: Session, *, activity_id: int) -> DrawRecord:
    """The record exactly as the public page publishes it now (for `im2 draw verify`, which
    has no slug or console user): the seed only once the draw is over."""
    row = activities.load_any_activity(session, activity_id=activity_id, kind=ActivityKind.DRAW)
    workspace = workspaces.get_workspace_by_id(session, workspace_id=row.workspace_id)
    system = workspaces.system_actor(session, workspace_slug=workspace.slug)
    campaign = campaigns.get_campaign(session, actor=system, campaign_id=row.campaign_id)
    draw = load_draw(session, activity_id=row.id)
    reveal = is_revealed(draw, prizes_of(session, activity_id=row.id), campaign)
    return record_of(session, activity_id=row.id, reveal=reveal)


def verify_record(record: DrawRecord) -> core.Verdict:
    """Recompute the winners from the record alone (what `im2 draw verify` runs)."""
    if record.seed is None:
        return core.Verdict(ok=False, problems=["the seed is not revealed yet"])
    return core.verify(
        mode=record.mode.value,
        seed_hex=record.seed,
        commitment=record.commitment,
        entry_ids=record.entries,
        prizes=[
            core.PrizeTerms(
                id=p.id, units=p.units, odds=p.odds, shared=p.shared_prize_id is not None
            )
            for p in record.prizes
        ],
        winners=record.winners,
        missed=record.missed,
    )


def draw_results(session: Session, *, actor: Actor, activity_id: int) -> DrawResults:
    row = load_console(session, actor=actor, activity_id=activity_id)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=row.campaign_id)
    draw = load_draw(session, activity_id=row.id)
    prizes = prizes_of(session, activity_id=row.id)
    shared = shared_stocks(session, draw=draw, prizes=prizes)
    return DrawResults(
        activity_id=row.id,
        title=row.title,
        mode=DrawMode(draw.mode),
        draw_at=draw.draw_at,
        drawn_at=draw.drawn_at,
        commitment=draw.commitment,
        seed=draw.seed if is_revealed(draw, prizes, campaign) else None,
        entries=count_entries(session, activity_id=row.id, held=False),
        held=count_entries(session, activity_id=row.id, held=True),
        prizes=prize_reads(prizes, shared),
        winners=winners_of(session, activity_id=row.id),
    )


def export_draw(session: Session, *, actor: Actor, activity_id: int) -> Iterator[dict[str, Any]]:
    row = load_console(session, actor=actor, activity_id=activity_id)
    names = {p.id: p.name for p in prizes_of(session, activity_id=row.id)}
    entries = session.scalars(
        select(DrawEntry).where(DrawEntry.activity_id == row.id).order_by(DrawEntry.id)
    )
    for entry in entries:
        yield {
            "entry_id": entry.id,
            "participant_id": entry.participant_id,
            "entered_at": entry.created_at.isoformat(),
            "prize": names.get(entry.prize_id, "") if entry.prize_id else "",
            "won_at": entry.won_at.isoformat() if entry.won_at else "",
            "held_for_review": entry.held,
            "risk_reasons": entry.risk_reasons or "",
        }


@dataclass(frozen=True, slots=True)
class HeldEntry:
    id: int
    participant_id: int
    created_at: datetime
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldEntry]:
    row = load_console(session, actor=actor, activity_id=activity_id)
    entries = held_rows(session, model=DrawEntry, activity_id=row.id)
    return [
        HeldEntry(
            id=e.id,
            participant_id=e.participant_id,
            created_at=e.created_at,
            reasons=e.risk_reasons or "",
        )
        for e in entries
    ]


@dataclass(frozen=True, slots=True)
class DrawView:
    """What one visitor sees of a draw."""

    campaign: CampaignRead
    activity: ActivityRead
    mode: DrawMode
    draw_at: datetime | None
    drawn: bool
    prizes: list[PrizeRead]
    commitment: str
    seed: str | None
    entries: int
    winners: list[WinnerRead]
    closed_reason: str | None
    can_enter: bool
    entered: bool
    held: bool
    my_entry_id: int | None
    my_prize: str | None
    participant_id: int | None


def view_draw(
    session: Session, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> DrawView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.DRAW
    )
    draw = load_draw(session, activity_id=row.id)
    prizes = prizes_of(session, activity_id=row.id)
    participant = activities.participant_for(session, public=public, device_id=device_id)
    mine = (
        session.scalar(
            select(DrawEntry).where(
                DrawEntry.activity_id == row.id, DrawEntry.participant_id == participant.id
            )
        )
        if participant
        else None
    )
    names = {p.id: p.name for p in prizes}
    shared = shared_stocks(session, draw=draw, prizes=prizes)
    reason = activities.closed_reason(public.campaign) or entries_closed(
        draw, prizes, shared=shared, now=now
    )
    revealed = is_revealed(draw, prizes, public.campaign)
    drawn = draw.mode == DrawMode.SCHEDULED.value and draw.drawn_at is not None
    return DrawView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        mode=DrawMode(draw.mode),
        draw_at=draw.draw_at,
        drawn=drawn,
        prizes=prize_reads(prizes, shared),
        commitment=draw.commitment,
        seed=draw.seed if revealed else None,
        entries=count_entries(session, activity_id=row.id, held=False),
        winners=winners_of(session, activity_id=row.id) if drawn or revealed else [],
        closed_reason=reason,
        can_enter=reason is None and mine is None,
        entered=mine is not None,
        held=bool(mine and mine.held),
        my_entry_id=mine.id if mine else None,
        my_prize=names.get(mine.prize_id) if mine and mine.prize_id else None,
        participant_id=participant.id if participant else None,
    )


def public_record(session: Session, *, slug: str, activity_id: int) -> DrawRecord:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.DRAW
    )
    draw = load_draw(session, activity_id=row.id)
    reveal = is_revealed(draw, prizes_of(session, activity_id=row.id), public.campaign)
    return record_of(session, activity_id=row.id, reveal=reveal)

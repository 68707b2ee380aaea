"""Lucky draw (抽奖): prizes with stock; instant win with odds, or a scheduled draw among the
entrants; one entry per participant; verifiable through a commitment to a secret seed.

Two rules live in the database, not only here: one entry per participant (a unique index) and
stock never below zero (a CHECK constraint). A prize is only ever taken by one conditional
UPDATE (`stock = stock - 1 WHERE stock > 0`), so however many entries race for the last unit,
exactly one gets it: PostgreSQL re-checks the condition on the locked row, and SQLite write
transactions are serialised (BEGIN IMMEDIATE).

A draw prize may instead be one of the campaign's prizes from the incentives domain
(`DrawPrize.prize_id`): one physical stock for the draw and the points store. `units` is then
how many the draw may give, and a win takes a unit of the shared stock too, through
`im2.incentives.service` in the same transaction:
- instant win: from the free stock, racing store purchases on the same conditional UPDATE; an
  entry whose pick finds it empty loses and is published as `missed`, so a verifier sees why;
- scheduled draw: the units are reserved (taken out of the free stock, all or nothing) when the
  draw is created, so the published prizes and units can always be paid and the store can no
  longer sell them; the draw takes its winners' units from that reserve and gives back what
  nobody won (fewer eligible entries than units). A scheduled draw cannot be created with more
  units than are in stock (409).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import (
    HeldReview,
    acting_event,
    add_activity,
    console_activity,
    participant_event,
    update_texts,
)
from im2.activities.formats.draw import core
from im2.activities.formats.draw.models import Draw, DrawEntry, DrawPrize
from im2.activities.formats.draw.schemas import (
    DrawCreate,
    DrawMode,
    EntryReceipt,
    PrizeIn,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.i18n import N_, _
from im2.incentives import service as incentives
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

# --- reads -------------------------------------------------------------------------------------


def load_draw(session: Session, *, activity_id: int) -> Draw:
    draw = session.get(Draw, activity_id)
    if draw is None:
        raise NotFound(_("Activity {id} not found.").format(id=activity_id))
    return draw


def prizes_of(session: Session, *, activity_id: int) -> list[DrawPrize]:
    return list(
        session.scalars(
            select(DrawPrize)
            .where(DrawPrize.activity_id == activity_id)
            .order_by(DrawPrize.position, DrawPrize.id)
        )
    )


def terms_of(prizes: list[DrawPrize]) -> list[core.PrizeTerms]:
    return [
        core.PrizeTerms(id=p.id, units=p.units, odds=p.odds, shared=p.prize_id is not None)
        for p in prizes
    ]


def shared_stocks(session: Session, *, draw: Draw, prizes: list[DrawPrize]) -> dict[int, int]:
    """draw prize id → free units of the campaign prize it shares, for an instant draw (a
    scheduled draw's units are reserved, so the free stock does not limit it)."""
    if draw.mode != DrawMode.INSTANT.value:
        return {}
    linked = {p.id: p.prize_id for p in prizes if p.prize_id is not None}
    free = incentives.prize_stocks(session, prize_ids=linked.values())
    return {draw_prize: free.get(prize, 0) for draw_prize, prize in linked.items()}


def eligible_entry_ids(session: Session, *, activity_id: int) -> list[int]:
    """The published entry list: every entry not held for review, in the order they came."""
    return list(
        session.scalars(
            select(DrawEntry.id)
            .where(DrawEntry.activity_id == activity_id, DrawEntry.held.is_(False))
            .order_by(DrawEntry.id)
        )
    )


# --- console -----------------------------------------------------------------------------------


def check_draw(data: DrawCreate, *, now: datetime) -> None:
    names = [p.name for p in data.prizes if p.name is not None]
    if len(set(names)) != len(names):
        raise InvalidInput(_("Two prizes have the same name."), field="prizes")
    if data.mode is DrawMode.SCHEDULED:
        if data.draw_at is None:
            raise InvalidInput(_("Choose when the draw takes place."), field="draw_at")
        if data.draw_at <= now:
            raise InvalidInput(_("The draw must take place in the future."), field="draw_at")
    else:
        total = sum(p.odds for p in data.prizes)
        if total <= 0:
            raise InvalidInput(_("Give at least one prize a chance to be won."), field="prizes")
        if total > 1.0 + 1e-9:
            raise InvalidInput(
                _("The odds of all prizes add up to more than 100%."), field="prizes"
            )


def _resolve_prizes(
    session: Session, *, actor: Actor, campaign_id: int, data: DrawCreate
) -> list[tuple[str, PrizeIn, int | None]]:
    """(published name, prize, shared campaign prize id) in order; a shared prize must be one of
    this campaign's prizes (422 otherwise: another campaign's or workspace's is not offered),
    at most once per draw, and have the units in stock (409)."""
    resolved: list[tuple[str, PrizeIn, int | None]] = []
    seen: set[int] = set()
    for prize in data.prizes:
        if prize.prize_id is None:
            assert prize.name is not None  # PrizeIn requires a name or a prize
            resolved.append((prize.name, prize, None))
            continue
        ref = incentives.check_prize_for_draw(
            session,
            workspace_id=actor.workspace_id,
            campaign_id=campaign_id,
            prize_id=prize.prize_id,
        )
        if ref.id in seen:
            raise InvalidInput(
                _("{name} is chosen twice; give it once with all its units.").format(name=ref.name),
                field="prizes",
            )
        seen.add(ref.id)
        if prize.stock > ref.stock:
            raise Conflict(
                _("Only {n} of {name} are in stock; the draw cannot offer more.").format(
                    n=ref.stock, name=ref.name
                ),
                field="prizes",
            )
        resolved.append((prize.name or ref.name, prize, ref.id))
    return resolved


def do_create_draw(
    session: Session, *, actor: Actor, campaign_id: int, data: DrawCreate, now: datetime
) -> ActivityRead:
    """A draw with its prizes. A shared prize of a scheduled draw has its units reserved from
    the campaign prize's stock here, in the same transaction, all or nothing."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    check_draw(data, now=now)
    campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)  # 404 if not theirs
    prizes = _resolve_prizes(session, actor=actor, campaign_id=campaign_id, data=data)
    names = [name for name, _prize, _shared in prizes]
    if len(set(names)) != len(names):
        raise InvalidInput(_("Two prizes have the same name."), field="prizes")
    scheduled = data.mode is DrawMode.SCHEDULED
    row = add_activity(
        session,
        ActivityKind.DRAW,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings={"mode": data.mode.value},
        now=now,
    )
    seed = secrets.token_hex(32)
    session.add(
        Draw(
            activity_id=row.id,
            mode=data.mode.value,
            draw_at=data.draw_at if scheduled else None,
            seed=seed,
            commitment=core.commitment_of(seed),
            drawn_at=None,
        )
    )
    for position, (name, prize, shared) in enumerate(prizes):
        if (
            scheduled
            and shared is not None
            and not incentives.reserve_prize_stock(session, prize_id=shared, units=prize.stock)
        ):
            # Sold in the store between the check above and now.
            raise Conflict(
                _("Only {n} of {name} are in stock; the draw cannot offer more.").format(
                    n=incentives.prize_stocks(session, prize_ids=[shared]).get(shared, 0),
                    name=name,
                ),
                field="prizes",
            )
        session.add(
            DrawPrize(
                activity_id=row.id,
                position=position,
                name=name,
                units=prize.stock,
                stock=prize.stock,
                odds=0.0 if scheduled else prize.odds,
                prize_id=shared,
            )
        )
    session.flush()
    return activities.to_read(row)


do_update_draw = update_texts(ActivityKind.DRAW)


def load_console(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.DRAW)


# --- the draw itself ---------------------------------------------------------------------------


def take_unit(session: Session, *, prize_id: int) -> bool:
    """Take one unit of a prize if any is left; False when it is gone (never below zero)."""
    result = session.execute(
        update(DrawPrize)
        .where(DrawPrize.id == prize_id, DrawPrize.stock > 0)
        .values(stock=DrawPrize.stock - 1)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def _win(
    session: Session,
    *,
    activity: Activity,
    draw: Draw,
    entry: DrawEntry,
    prize: DrawPrize,
    now: datetime,
) -> bool:
    """Give `prize` to `entry` if a unit is left; False otherwise. The draw's own count is taken
    first; a shared prize then takes a unit of the campaign prize too (a PrizeClaim on the
    winner's "my rewards" page). If the store took the last free unit first, the draw's count
    is given back and the entry is marked as having missed that prize."""
    if not take_unit(session, prize_id=prize.id):
        return False
    if prize.prize_id is not None:
        claim = incentives.claim_prize_for_draw(
            session,
            prize_id=prize.prize_id,
            participant_id=entry.participant_id,
            activity_id=activity.id,
            from_reserve=draw.mode == DrawMode.SCHEDULED.value,
            now=now,
        )
        if claim is None:
            session.execute(
                update(DrawPrize)
                .where(DrawPrize.id == prize.id)
                .values(stock=DrawPrize.stock + 1)
                .execution_options(synchronize_session=False)
            )
            entry.missed_prize_id = prize.id
            return False
    _award(session, activity=activity, entry=entry, prize=prize, now=now)
    return True


def _award(
    session: Session, *, activity: Activity, entry: DrawEntry, prize: DrawPrize, now: datetime
) -> None:
    entry.prize_id = prize.id
    entry.won_at = now
    participant_event(
        session,
        EventKind.DRAW_WON,
        activity=activity,
        participant_id=entry.participant_id,
        now=now,
        properties={"entry_id": entry.id, "prize_id": prize.id, "prize": prize.name},
    )


def due_draws(session: Session, *, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(Draw.activity_id).where(
                Draw.mode == DrawMode.SCHEDULED.value,
                Draw.drawn_at.is_(None),
                Draw.draw_at <= now,
            )
        )
    )


def do_run_draw(session: Session, *, activity_id: int, now: datetime) -> list[int]:
    """Hold a scheduled draw: the winning entry ids. Idempotent: the draw is claimed by one
    conditional UPDATE, so a second run (or a second server) does nothing."""
    claimed = session.execute(
        update(Draw)
        .where(
            Draw.activity_id == activity_id,
            Draw.mode == DrawMode.SCHEDULED.value,
            Draw.drawn_at.is_(None),
        )
        .values(drawn_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(claimed, CursorResult)
    if claimed.rowcount != 1:
        return []
    activity = session.get(Activity, activity_id)
    draw = session.get(Draw, activity_id)
    if activity is None or draw is None:
        return []
    prizes = prizes_of(session, activity_id=activity_id)
    by_id = {p.id: p for p in prizes}
    winners = core.scheduled_winners(
        draw.seed, eligible_entry_ids(session, activity_id=activity_id), terms_of(prizes)
    )
    given: dict[int, int] = {p.id: 0 for p in prizes}
    for entry_id, prize_id in sorted(winners.items()):
        entry = session.get(DrawEntry, entry_id)
        if entry is not None and _win(
            session, activity=activity, draw=draw, entry=entry, prize=by_id[prize_id], now=now
        ):
            given[prize_id] += 1
    for prize in prizes:
        if prize.prize_id is not None:
            # Units reserved for winners the draw did not have go back on sale.
            incentives.release_prize_reserve(
                session, prize_id=prize.prize_id, units=prize.units - given[prize.id]
            )
    session.flush()
    return sorted(winners)


def _release_entry(
    session: Session, row: Activity, entry: DrawEntry, approve: bool, now: datetime
) -> None:
    """A held entry admitted to the draw, or discarded. An instant draw decides an admitted
    entry then, by the same roll of its ticket; a scheduled draw that has taken place admits
    nobody (its published list of entries is final)."""
    if not approve:
        session.delete(entry)
        return
    draw = load_draw(session, activity_id=row.id)
    if draw.mode == DrawMode.SCHEDULED.value and draw.drawn_at is not None:
        raise Conflict(_("The draw has taken place; its list of entries is final."))
    entry.held = False
    session.flush()
    if draw.mode == DrawMode.INSTANT.value:
        prizes = prizes_of(session, activity_id=row.id)
        picked = core.instant_pick(draw.seed, entry.id, terms_of(prizes))
        chosen = next((p for p in prizes if p.id == picked), None)
        if chosen is not None:
            _win(session, activity=row, draw=draw, entry=entry, prize=chosen, now=now)


do_review_entry = HeldReview(
    ActivityKind.DRAW,
    DrawEntry,
    "entry_id",
    N_("No such entry waiting for review."),
    "draw_entry",
    release=_release_entry,
)


# --- participants ------------------------------------------------------------------------------


def entries_closed(
    draw: Draw, prizes: list[DrawPrize], *, shared: dict[int, int], now: datetime
) -> str | None:
    """Why entries are closed, or None. `shared`: free units of shared prizes
    (`shared_stocks`); a shared prize the store has sold out leaves nothing to win either."""
    if draw.mode == DrawMode.SCHEDULED.value and (
        draw.drawn_at is not None or (draw.draw_at is not None and draw.draw_at <= now)
    ):
        return _("The draw has taken place; entries are closed.")
    if draw.mode == DrawMode.INSTANT.value and all(
        p.stock == 0 or shared.get(p.id, 1) == 0 for p in prizes
    ):
        # Nothing is left to win: taking more entries would only disappoint people.
        return _("All prizes have been won; the draw is over. Thank you!")
    return None


def do_enter(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> EntryReceipt:
    """Enter the draw once; an instant draw decides at once. A held entry (suspicious) is kept
    but takes no part in the draw."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.DRAW
    )
    activities.require_open(public)
    draw = load_draw(session, activity_id=row.id)
    prizes = prizes_of(session, activity_id=row.id)
    closed = entries_closed(
        draw, prizes, shared=shared_stocks(session, draw=draw, prizes=prizes), now=now
    )
    if closed:
        raise Conflict(closed)
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    entry = DrawEntry(
        activity_id=row.id,
        participant_id=acting.participant.id,
        created_at=now,
        held=acting.held,
        risk_reasons="; ".join(acting.risk.reasons)[:500] or None,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        raise Conflict(_("You have already entered this draw.")) from None
    acting_event(
        session,
        EventKind.DRAW_ENTERED,
        activity=row,
        acting=acting,
        now=now,
        visitor=visitor,
        entry_id=entry.id,
    )
    prize: DrawPrize | None = None
    if draw.mode == DrawMode.INSTANT.value and not acting.held:
        picked = core.instant_pick(draw.seed, entry.id, terms_of(prizes))
        chosen = next((p for p in prizes if p.id == picked), None)
        if chosen is not None and _win(
            session, activity=row, draw=draw, entry=entry, prize=chosen, now=now
        ):
            prize = chosen
    session.flush()
    return EntryReceipt(
        entry_id=entry.id,
        activity_id=row.id,
        mode=DrawMode(draw.mode),
        held_for_review=acting.held,
        won=prize is not None,
        prize=prize.name if prize else None,
        draw_at=draw.draw_at,
    )

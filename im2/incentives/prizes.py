"""Prizes and their stock: the brand's prizes, restocking, and the units a reward or a draw takes.

Stock is held by the database: `stock >= 0` is a CHECK constraint behind conditional UPDATEs,
so a purchase, a grant and a draw racing for the last unit never give it twice. A prize's stock
is shared with the lucky draws that give it (docs/draws-and-prizes.md): the draw format takes
units through `claim_prize_for_draw` (instant wins, from the same free stock as the store) and
`reserve_prize_stock` / `release_prize_reserve` (scheduled draws, whose units are set aside when
the draw is created so its published promise can always be paid).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.incentives._common import check_own_campaign
from im2.incentives.models import Prize, PrizeClaim
from im2.incentives.schemas import PrizeClaimRef, PrizeRef
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require


def _prize_ref(row: Prize, *, won_in_draws: int = 0) -> PrizeRef:
    return PrizeRef(
        id=row.id,
        campaign_id=row.campaign_id,
        name=row.name,
        description=row.description,
        units=row.units,
        stock=row.stock,
        cost_points=row.cost_points,
        reserved=row.reserved,
        won_in_draws=won_in_draws,
    )


def _won_in_draws(session: Session, prize_ids: list[int]) -> dict[int, int]:
    if not prize_ids:
        return {}
    rows = session.execute(
        select(PrizeClaim.prize_id, func.count())
        .where(PrizeClaim.prize_id.in_(prize_ids), PrizeClaim.source == "draw")
        .group_by(PrizeClaim.prize_id)
    )
    return {prize_id: int(count) for prize_id, count in rows}


def list_prizes(
    session: Session, *, workspace_id: int, campaign_id: int | None = None
) -> list[PrizeRef]:
    query = select(Prize).where(Prize.workspace_id == workspace_id)
    if campaign_id is not None:
        query = query.where(Prize.campaign_id == campaign_id)
    rows = list(session.scalars(query.order_by(Prize.id)))
    drawn = _won_in_draws(session, [p.id for p in rows])
    return [_prize_ref(p, won_in_draws=drawn.get(p.id, 0)) for p in rows]


def get_prize(session: Session, *, workspace_id: int, prize_id: int) -> PrizeRef | None:
    row = session.get(Prize, prize_id)
    if row is None or row.workspace_id != workspace_id:
        return None
    return _prize_ref(row, won_in_draws=_won_in_draws(session, [row.id]).get(row.id, 0))


def claim_prize_for_grant(
    session: Session, *, prize: Prize, participant_id: int, grant_id: int | None, now: datetime
) -> PrizeClaim | None:
    done = session.execute(
        update(Prize)
        .where(Prize.id == prize.id, Prize.stock > 0)
        .values(stock=Prize.stock - 1)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    claim = PrizeClaim(
        workspace_id=prize.workspace_id,
        campaign_id=prize.campaign_id,
        prize_id=prize.id,
        participant_id=participant_id,
        grant_id=grant_id,
        created_at=now,
    )
    session.add(claim)
    session.flush()
    session.refresh(prize)
    return claim


# --- lucky draws: a draw prize may share a campaign prize's stock -------------------------------
#
# The draw format (im2/activities/formats/draw) calls these in its own transaction. An instant
# draw takes a unit of the free stock per win, racing the store on the same conditional UPDATE;
# a scheduled draw reserves its units when it is created (all or nothing), so its published
# promise can always be paid, takes its winners' units from the reserve, and gives back the rest.


def check_prize_for_draw(
    session: Session, *, workspace_id: int, campaign_id: int, prize_id: int
) -> PrizeRef:
    """The campaign prize a draw prize is to share stock with. InvalidInput (422) unless it is a
    prize of this campaign; another campaign's or workspace's prize is refused the same way, so
    the answer does not tell whether it exists."""
    row = session.get(Prize, prize_id)
    if row is None or row.workspace_id != workspace_id or row.campaign_id != campaign_id:
        raise InvalidInput(_("Choose one of this campaign's prizes."), field="prizes")
    return _prize_ref(row)


def prize_stocks(session: Session, *, prize_ids: Iterable[int]) -> dict[int, int]:
    """prize id → units free to take now."""
    wanted = sorted(set(prize_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Prize.id, Prize.stock).where(Prize.id.in_(wanted)))
    return {int(prize_id): int(stock) for prize_id, stock in rows}


def reserve_prize_stock(session: Session, *, prize_id: int, units: int) -> bool:
    """Move `units` from the prize's free stock to its reserve, all or nothing: False when fewer
    are in stock. One conditional UPDATE, so a purchase at the same moment cannot make the
    stock go below zero or the reserve promise units that are gone."""
    done = session.execute(
        update(Prize)
        .where(Prize.id == prize_id, Prize.stock >= units)
        .values(stock=Prize.stock - units, reserved=Prize.reserved + units)
        .execution_options(synchronize_session=False)
    )
    _reload(session, prize_id)
    return done.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _reload(session: Session, prize_id: int) -> None:
    """Refresh a prize this session already holds after a bulk UPDATE changed its counters."""
    held = session.get(Prize, prize_id)
    if held is not None:
        session.refresh(held)


def release_prize_reserve(session: Session, *, prize_id: int, units: int) -> None:
    """Give reserved units nobody won back to the free stock (a scheduled draw with fewer
    eligible entries than units)."""
    if units <= 0:
        return
    session.execute(
        update(Prize)
        .where(Prize.id == prize_id, Prize.reserved >= units)
        .values(stock=Prize.stock + units, reserved=Prize.reserved - units)
        .execution_options(synchronize_session=False)
    )
    _reload(session, prize_id)


def claim_prize_for_draw(
    session: Session,
    *,
    prize_id: int,
    participant_id: int,
    activity_id: int,
    from_reserve: bool,
    now: datetime,
) -> PrizeClaimRef | None:
    """One unit of a shared prize for a draw's winner: a PrizeClaim (so the win shows on the
    winner's "my rewards" page) and its `prize.claimed` event. From the free stock (instant
    draw) or from the units reserved for a scheduled draw; None when none is left there."""
    counter = Prize.reserved if from_reserve else Prize.stock
    done = session.execute(
        update(Prize)
        .where(Prize.id == prize_id, counter > 0)
        .values({counter: counter - 1})
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        return None
    prize = session.get(Prize, prize_id)
    assert prize is not None
    session.refresh(prize)
    claim = PrizeClaim(
        workspace_id=prize.workspace_id,
        campaign_id=prize.campaign_id,
        prize_id=prize.id,
        participant_id=participant_id,
        grant_id=None,
        source="draw",
        created_at=now,
    )
    session.add(claim)
    session.flush()
    record_event(
        session,
        kind=EventKind.PRIZE_CLAIMED,
        occurred_at=now,
        workspace_id=prize.workspace_id,
        campaign_id=prize.campaign_id,
        activity_id=activity_id,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        properties={
            "participant": participant_id,
            "prize": prize.id,
            "name": prize.name,
            "stock_left": prize.stock,
            "reason": "draw",
        },
    )
    return PrizeClaimRef(
        id=claim.id, prize_id=prize.id, prize_name=prize.name, created_at=now, source="draw"
    )


def _prize_row(session: Session, *, actor: Actor, prize_id: int) -> Prize:
    prize = owned_row(session, Prize, prize_id, actor=actor, missing=_("There is no such prize."))
    return prize


def do_create_prize(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    name: str,
    units: int,
    description: str = "",
    cost_points: int | None = None,
    now: datetime,
) -> PrizeRef:
    require(actor, Permission.WRITE_CAMPAIGNS)
    check_own_campaign(session, actor=actor, campaign_id=campaign_id)
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise InvalidInput(_("A name of 1–80 characters is required."), field="name")
    if not 0 <= units <= 10_000_000:
        raise InvalidInput(_("The stock must be between 0 and 10,000,000."), field="units")
    if cost_points is not None and cost_points <= 0:
        raise InvalidInput(_("A price in points must be above zero."), field="cost_points")
    taken = session.scalar(
        select(Prize.id).where(Prize.campaign_id == campaign_id, Prize.name == name)
    )
    if taken is not None:
        raise Conflict(_("This campaign already has a prize of this name."), field="name")
    prize = Prize(
        workspace_id=actor.workspace_id,
        campaign_id=campaign_id,
        name=name,
        description=description.strip()[:300],
        units=units,
        stock=units,
        cost_points=cost_points,
        created_at=now,
    )
    session.add(prize)
    session.flush()
    record_audit(
        session,
        actor,
        "prize.created",
        ("prize", prize.id),
        f"prize {name} ({units})",
        now=now,
        after={"name": name, "units": units, "cost_points": cost_points},
    )
    return _prize_ref(prize)


def do_restock_prize(
    session: Session, *, actor: Actor, prize_id: int, add_units: int, now: datetime
) -> PrizeRef:
    """Add units to a prize's stock (a conditional UPDATE, safe alongside claims)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    prize = _prize_row(session, actor=actor, prize_id=prize_id)
    if not 1 <= add_units <= 10_000_000:
        raise InvalidInput(_("Add between 1 and 10,000,000 units."), field="add_units")
    session.execute(
        update(Prize)
        .where(Prize.id == prize.id)
        .values(stock=Prize.stock + add_units, units=Prize.units + add_units)
        .execution_options(synchronize_session=False)
    )
    session.refresh(prize)
    record_audit(
        session,
        actor,
        "prize.restocked",
        ("prize", prize.id),
        f"prize {prize.name} +{add_units}",
        now=now,
        after={"stock": prize.stock, "units": prize.units},
    )
    return _prize_ref(prize)


def participant_prizes(
    session: Session, *, workspace_id: int, campaign_id: int, participant_id: int
) -> list[PrizeClaimRef]:
    rows = session.execute(
        select(PrizeClaim, Prize.name)
        .join(Prize, Prize.id == PrizeClaim.prize_id)
        .where(
            PrizeClaim.workspace_id == workspace_id,
            PrizeClaim.campaign_id == campaign_id,
            PrizeClaim.participant_id == participant_id,
        )
        .order_by(PrizeClaim.id.desc())
    ).all()
    return [
        PrizeClaimRef(
            id=c.id, prize_id=c.prize_id, prize_name=name, created_at=c.created_at, source=c.source
        )
        for c, name in rows
    ]

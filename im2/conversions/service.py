"""Recording a shop's order as a conversion: check it, find who bought and through which share
links (first and last touch), store it once per order id, and record `conversion.recorded` with
the properties the analytics registry reads for revenue and ROI (`amount`, channel, referrer).

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision, list_currencies
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.conversions.models import Conversion
from im2.conversions.schemas import (
    ATTRIBUTION_DAYS,
    ConversionCreate,
    ConversionPage,
    ConversionRead,
    TouchRead,
)
from im2.db import Base
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import list_events, record_event
from im2.i18n import _
from im2.incentives import service as incentives
from im2.pagination import decode_cursor, encode_cursor
from im2.sharing import service as sharing
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

# The analytics registry sums `amount` as one currency (its revenue unit); budgets default to it.
DEFAULT_CURRENCY = "CNY"
MAX_AMOUNT = Decimal("1000000000000")
FUTURE_SLACK = timedelta(hours=1)
# Fund and testing codes are not money a shop is paid in.
NOT_MONEY = frozenset({"XXX", "XTS", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"})
CURRENCIES = frozenset(c for c in list_currencies() if len(c) == 3 and c not in NOT_MONEY)


# --- checks -----------------------------------------------------------------------------------


def check_currency(currency: str) -> str:
    code = currency.strip().upper()
    if code not in CURRENCIES:
        raise InvalidInput(
            _("{code} is not an ISO 4217 currency code; use e.g. CNY, USD or EUR.").format(
                code=currency.strip()[:12] or '""'
            ),
            field="currency",
        )
    return code


def check_amount(amount: Decimal, currency: str) -> Decimal:
    try:
        finite = amount.is_finite()
    except (InvalidOperation, AttributeError):
        finite = False
    if not finite:
        raise InvalidInput(_("The amount must be a number."), field="amount")
    if amount < 0:
        raise InvalidInput(
            _("The amount cannot be negative; report refunds to the shop's own books."),
            field="amount",
        )
    if amount > MAX_AMOUNT:
        raise InvalidInput(_("The amount is too large."), field="amount")
    places = get_currency_precision(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidInput(
            _("{currency} amounts have at most {n} decimal places.").format(
                currency=currency, n=places
            ),
            field="amount",
        )
    return amount.quantize(Decimal(1).scaleb(-places))


def check_occurred_at(occurred_at: datetime, now: datetime) -> datetime:
    if occurred_at.tzinfo is None:
        raise InvalidInput(
            _("Give occurred_at with its time zone, e.g. 2026-03-02T10:00:00+08:00."),
            field="occurred_at",
        )
    if occurred_at > now + FUTURE_SLACK:
        raise InvalidInput(
            _("The order cannot have been placed in the future."), field="occurred_at"
        )
    return occurred_at.astimezone(UTC)


def reporting_currency(campaign: CampaignRead) -> str:
    """The currency of the campaign's channel budgets (what ROI compares revenue with)."""
    budgeted = {c.currency for c in campaign.channels if c.budget is not None}
    return budgeted.pop() if len(budgeted) == 1 else DEFAULT_CURRENCY


# --- reading ----------------------------------------------------------------------------------


def _touch(
    code: str | None, channel: str | None, at: datetime | None, sharer: int | None
) -> TouchRead | None:
    return None if code is None else TouchRead(code=code, channel=channel, at=at, sharer_id=sharer)


def _read(row: Conversion) -> ConversionRead:
    places = get_currency_precision(row.currency)
    return ConversionRead(
        id=row.id,
        order_id=row.order_id,
        campaign_id=row.campaign_id,
        amount=Decimal(row.amount).quantize(Decimal(1).scaleb(-places)),
        currency=row.currency,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        participant_id=row.participant_id,
        coupon_code=row.coupon_code,
        share_code=row.share_code,
        channel=row.channel,
        referrer=row.referrer,
        first_touch=_touch(
            row.first_touch_code,
            row.first_touch_channel,
            row.first_touch_at,
            row.first_touch_sharer_id,
        ),
        last_touch=_touch(
            row.last_touch_code, row.last_touch_channel, row.last_touch_at, row.last_touch_sharer_id
        ),
    )


def list_conversions(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> ConversionPage:
    """Newest first."""
    require(actor, Permission.READ_CAMPAIGNS)
    query = select(Conversion).where(Conversion.workspace_id == actor.workspace_id)
    if campaign_id is not None:
        campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        query = query.where(Conversion.campaign_id == campaign_id)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(Conversion.id < after)
    rows = list(session.scalars(query.order_by(Conversion.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return ConversionPage(
        items=[_read(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


def get_conversion(session: Session, *, actor: Actor, order_id: str) -> ConversionRead:
    require(actor, Permission.READ_CAMPAIGNS)
    row = session.scalar(
        select(Conversion).where(
            Conversion.workspace_id == actor.workspace_id, Conversion.order_id == order_id
        )
    )
    if row is None:
        raise NotFound(_("No conversion with this order id."))
    return _read(row)


# --- attribution ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Buyer:
    id: int
    device_id: str
    referred_by: str | None
    first_channel: str | None
    first_campaign_id: int | None
    joined_at: datetime


def _buyer(session: Session, *, workspace_id: int, participant_id: int) -> _Buyer | None:
    # Read through the shared metadata, not participation's models (domains meet in services).
    table = Base.metadata.tables["participants"]
    row = session.execute(
        select(
            table.c.id,
            table.c.device_id,
            table.c.referred_by,
            table.c.first_channel,
            table.c.first_campaign_id,
            table.c.created_at,
        ).where(table.c.id == participant_id, table.c.workspace_id == workspace_id)
    ).first()
    if row is None:
        return None
    return _Buyer(row[0], row[1], row[2], row[3], row[4], row[5])


@dataclass(frozen=True, slots=True)
class Attribution:
    campaign_id: int
    participant_id: int | None
    first: TouchRead | None
    last: TouchRead | None
    channel: str | None  # the channel credited: the last touch's, else where they first came from


def _sharer(session: Session, *, code: str | None) -> int | None:
    if code is None:
        return None
    link = sharing.get_link_by_code(session, code=code)
    return None if link is None else link.participant_id


def _last_click(
    session: Session, *, workspace_id: int, campaign_id: int, device_id: str, until: datetime
) -> TouchRead | None:
    """The buyer's latest click on a share link of this campaign before the order (within the
    attribution window): what the sharing domain recorded as `share.clicked`."""
    clicks = list_events(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        kinds=[EventKind.SHARE_CLICKED.value],
        since=until - timedelta(days=ATTRIBUTION_DAYS),
        until=until + timedelta(microseconds=1),
    )
    mine = [c for c in clicks if c.properties.get("device") == device_id and c.referrer]
    if not mine:
        return None
    last = max(mine, key=lambda c: (c.occurred_at, c.id))
    sharer = last.properties.get("sharer")
    return TouchRead(
        code=str(last.referrer),
        channel=last.channel,
        at=last.occurred_at,
        sharer_id=int(sharer) if isinstance(sharer, int) else _sharer(session, code=last.referrer),
    )


def _campaign_for(session: Session, *, actor: Actor, campaign_id: int, field: str) -> CampaignRead:
    campaign = _campaign_or_none(session, actor=actor, campaign_id=campaign_id)
    if campaign is None:
        raise InvalidInput(
            _("There is no campaign {id} in this workspace.").format(id=campaign_id), field=field
        )
    return campaign


def attribute(
    session: Session, *, actor: Actor, data: ConversionCreate, now: datetime
) -> tuple[CampaignRead, Attribution]:
    """Who bought, for which campaign, through which share links. 422 for anything unknown."""
    given = [
        name
        for name in ("coupon_code", "participant_id", "share_code")
        if getattr(data, name) not in (None, "")
    ]
    if len(given) != 1:
        raise InvalidInput(
            _("Identify the buyer by exactly one of coupon_code, participant_id or share_code."),
            field="participant_id" if not given else given[1],
        )
    workspace_id = actor.workspace_id
    participant_id: int | None = None
    campaign_id: int | None = data.campaign_id
    if data.coupon_code:
        coupon = incentives.find_coupon(
            session, workspace_id=workspace_id, code=data.coupon_code, now=now
        )
        if coupon is None:
            raise InvalidInput(
                _("There is no coupon {code} in this workspace.").format(code=data.coupon_code),
                field="coupon_code",
            )
        if campaign_id is not None and campaign_id != coupon.campaign_id:
            raise InvalidInput(
                _("This coupon belongs to campaign {id}.").format(id=coupon.campaign_id),
                field="campaign_id",
            )
        campaign_id, participant_id = coupon.campaign_id, coupon.participant_id
    elif data.share_code:
        link = sharing.get_link_by_code(session, code=data.share_code.strip().lower())
        campaign = None
        if link is not None:
            campaign = _campaign_or_none(session, actor=actor, campaign_id=link.campaign_id)
        if link is None or campaign is None:
            raise InvalidInput(
                _("There is no share link {code} in this workspace.").format(code=data.share_code),
                field="share_code",
            )
        if campaign_id is not None and campaign_id != link.campaign_id:
            raise InvalidInput(
                _("This share link belongs to campaign {id}.").format(id=link.campaign_id),
                field="campaign_id",
            )
        # The buyer is not known to us, only the link they came through: both touches.
        touch = TouchRead(code=link.code, channel=None, at=None, sharer_id=link.participant_id)
        return campaign, Attribution(link.campaign_id, None, touch, touch, None)
    else:
        assert data.participant_id is not None
        participant_id = data.participant_id
    buyer = None
    if participant_id is not None:
        buyer = _buyer(session, workspace_id=workspace_id, participant_id=participant_id)
        if buyer is None:
            raise InvalidInput(
                _("There is no participant {id} in this workspace.").format(id=participant_id),
                field="participant_id",
            )
        if campaign_id is None:
            campaign_id = buyer.first_campaign_id
    if campaign_id is None:
        raise InvalidInput(_("Say which campaign to credit: campaign_id."), field="campaign_id")
    campaign = _campaign_for(session, actor=actor, campaign_id=campaign_id, field="campaign_id")
    if buyer is None:
        return campaign, Attribution(campaign.id, None, None, None, None)
    first = None
    if buyer.referred_by:
        first = TouchRead(
            code=buyer.referred_by,
            channel=buyer.first_channel,
            at=buyer.joined_at,
            sharer_id=_sharer(session, code=buyer.referred_by),
        )
    last = _last_click(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign.id,
        device_id=buyer.device_id,
        until=data.occurred_at,
    )
    if last is None:  # no click found (e.g. older than the window): the first touch stands
        last = first
    channel = last.channel if last is not None and last.channel else buyer.first_channel
    return campaign, Attribution(campaign.id, buyer.id, first, last, channel)


def _campaign_or_none(session: Session, *, actor: Actor, campaign_id: int) -> CampaignRead | None:
    try:
        return campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    except NotFound:
        return None


# --- recording --------------------------------------------------------------------------------


def _same_order(row: Conversion, *, amount: Decimal, currency: str) -> None:
    """A repeated order id is the same order only with the same amount and currency."""
    stored = Decimal(row.amount)
    if stored == amount and row.currency == currency:
        return
    places = get_currency_precision(row.currency)
    raise Conflict(
        _(
            "Order {order} was already recorded with {old}; the same order id with {new} is "
            "refused. Send a new order id for a different order."
        ).format(
            order=row.order_id,
            old=f"{stored.quantize(Decimal(1).scaleb(-places))} {row.currency}",
            new=f"{amount} {currency}",
        ),
        field="amount",
    )


def _existing(session: Session, *, workspace_id: int, order_id: str) -> Conversion | None:
    return session.scalar(
        select(Conversion).where(
            Conversion.workspace_id == workspace_id, Conversion.order_id == order_id
        )
    )


def do_record_conversion(
    session: Session, *, actor: Actor, data: ConversionCreate, now: datetime
) -> tuple[ConversionRead, bool]:
    """Record the order once; returns (the conversion, whether this call created it). The same
    order again gives the stored answer; the same order id with another amount is a 409."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    order_id = data.order_id.strip()
    if not order_id:
        raise InvalidInput(_("This field is required."), field="order_id")
    currency = check_currency(data.currency)
    amount = check_amount(data.amount, currency)
    occurred_at = check_occurred_at(data.occurred_at, now)
    found = _existing(session, workspace_id=actor.workspace_id, order_id=order_id)
    if found is not None:
        _same_order(found, amount=amount, currency=currency)
        return _read(found), False
    campaign, attribution = attribute(session, actor=actor, data=data, now=now)
    expected = reporting_currency(campaign)
    if currency != expected:
        raise InvalidInput(
            _(
                "Campaign {name} counts revenue and budgets in {expected}; send the amount in "
                "{expected}."
            ).format(name=campaign.name, expected=expected),
            field="currency",
        )
    first, last = attribution.first, attribution.last
    row = Conversion(
        workspace_id=actor.workspace_id,
        campaign_id=campaign.id,
        order_id=order_id,
        amount=amount,
        currency=currency,
        occurred_at=occurred_at,
        recorded_at=now,
        coupon_code=(data.coupon_code or "").strip() or None,
        share_code=(data.share_code or "").strip().lower() or None,
        participant_id=attribution.participant_id,
        channel=attribution.channel,
        referrer=last.code if last else None,
        first_touch_code=first.code if first else None,
        first_touch_channel=first.channel if first else None,
        first_touch_at=first.at if first else None,
        first_touch_sharer_id=first.sharer_id if first else None,
        last_touch_code=last.code if last else None,
        last_touch_channel=last.channel if last else None,
        last_touch_at=last.at if last else None,
        last_touch_sharer_id=last.sharer_id if last else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # The same order in a concurrent request: its row is the answer (or the conflict).
        again = _existing(session, workspace_id=actor.workspace_id, order_id=order_id)
        if again is None:
            raise
        _same_order(again, amount=amount, currency=currency)
        return _read(again), False
    properties: dict[str, Any] = {
        "conversion_id": row.id,
        "order_id": order_id,
        # The buyer, as the referral activity reads a purchase (also the event's actor).
        "participant_id": attribution.participant_id,
        "amount": float(amount),
        "currency": currency,
        "first_touch": first.code if first else None,
        "first_touch_channel": first.channel if first else None,
        "first_touch_sharer": first.sharer_id if first else None,
        "last_touch": last.code if last else None,
        "last_touch_channel": last.channel if last else None,
        "last_touch_sharer": last.sharer_id if last else None,
        "coupon_code": row.coupon_code,
    }
    record_event(
        session,
        kind=EventKind.CONVERSION_RECORDED,
        occurred_at=occurred_at,
        workspace_id=actor.workspace_id,
        campaign_id=campaign.id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=attribution.participant_id,
        channel=attribution.channel,
        referrer=last.code if last else None,
        properties=properties,
    )
    record_audit(
        session,
        actor,
        "conversion.record",
        ("conversion", row.id),
        f"Order {order_id}: {amount} {currency} for campaign {campaign.name}",
        now=now,
        after={"order_id": order_id, "amount": str(amount), "currency": currency},
    )
    return _read(row), True

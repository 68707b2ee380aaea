"""Daily check-in (打卡): one check-in per participant per local day in the campaign's time
zone (a unique index), streaks of consecutive local days, and a milestone event when a streak
reaches a configured length (the reward itself belongs to incentives).

The day boundary is local midnight of the campaign's zone, so a participant in Shanghai who
checks in at 23:59 and again at 00:01 has two days and a streak of two.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.checkin.models import CheckinDay
from im2.activities.formats.checkin.schemas import (
    CalendarDay,
    CheckinReceipt,
    CheckinStats,
    MyCheckins,
    StreakRow,
)
from im2.activities.formats.common import (
    HeldReview,
    console_activity,
    create_with,
    held_rows,
    participant_event,
    update_texts,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.errors import Conflict
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import N_, _
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor

LEADERBOARD_SIZE = 50
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def milestones_of(activity: Activity) -> list[int]:
    return [int(m) for m in activity.settings.get("milestones", [])]


def days_of(session: Session, *, activity_id: int, participant_id: int) -> list[CheckinDay]:
    return list(
        session.scalars(
            select(CheckinDay)
            .where(
                CheckinDay.activity_id == activity_id,
                CheckinDay.participant_id == participant_id,
            )
            .order_by(CheckinDay.day)
        )
    )


def current_streak(days: list[CheckinDay], *, today: str) -> int:
    """A streak is still alive if its last day is today or yesterday (today not done yet)."""
    if not days or days[-1].day not in (today, day_before(today)):
        return 0
    return days[-1].streak


# --- console -----------------------------------------------------------------------------------


do_create_checkin = create_with(ActivityKind.CHECKIN, lambda data: {"milestones": data.milestones})


do_update_checkin = update_texts(
    ActivityKind.CHECKIN,
    lambda data: {"milestones": data.milestones} if data.milestones is not None else None,
)


def _load_console(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return console_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.CHECKIN
    )


def leaderboard(session: Session, *, activity_id: int, today: str) -> list[StreakRow]:
    """Participants by live streak, then best streak, then days; held check-ins left out."""
    counted = (CheckinDay.activity_id == activity_id, CheckinDay.held.is_(False))
    totals = session.execute(
        select(
            CheckinDay.participant_id,
            func.max(CheckinDay.streak),
            func.count(),
            func.max(CheckinDay.day),
        )
        .where(*counted)
        .group_by(CheckinDay.participant_id)
    ).all()
    live = dict(
        session.execute(
            select(CheckinDay.participant_id, func.max(CheckinDay.streak))
            .where(*counted, CheckinDay.day.in_([today, day_before(today)]))
            .group_by(CheckinDay.participant_id)
        ).all()
    )
    rows = [
        StreakRow(
            participant_id=pid,
            current_streak=int(live.get(pid, 0)),
            best_streak=int(best),
            total_days=int(total),
            last_day=str(last),
        )
        for pid, best, total, last in totals
    ]
    rows.sort(key=lambda r: (-r.current_streak, -r.best_streak, -r.total_days, r.participant_id))
    return rows[:LEADERBOARD_SIZE]


def checkin_stats(
    session: Session, *, actor: Actor, activity_id: int, campaign: CampaignRead, now: datetime
) -> CheckinStats:
    row = _load_console(session, actor=actor, activity_id=activity_id)
    today = activities.local_day(campaign, now)

    def count(*where: Any) -> int:
        return int(
            session.scalar(
                select(func.count())
                .select_from(CheckinDay)
                .where(CheckinDay.activity_id == row.id, *where)
            )
            or 0
        )

    return CheckinStats(
        activity_id=row.id,
        title=row.title,
        today=today,
        checked_in_today=count(CheckinDay.day == today, CheckinDay.held.is_(False)),
        participants=int(
            session.scalar(
                select(func.count(func.distinct(CheckinDay.participant_id))).where(
                    CheckinDay.activity_id == row.id, CheckinDay.held.is_(False)
                )
            )
            or 0
        ),
        check_ins=count(CheckinDay.held.is_(False)),
        held=count(CheckinDay.held.is_(True)),
        milestones=milestones_of(row),
        leaderboard=leaderboard(session, activity_id=row.id, today=today),
    )


def export_checkins(
    session: Session, *, actor: Actor, activity_id: int
) -> Iterator[dict[str, Any]]:
    row = _load_console(session, actor=actor, activity_id=activity_id)
    days = session.scalars(
        select(CheckinDay)
        .where(CheckinDay.activity_id == row.id)
        .order_by(CheckinDay.participant_id, CheckinDay.day)
    )
    for day in days:
        yield {
            "participant_id": day.participant_id,
            "day": day.day,
            "streak": day.streak,
            "checked_in_at": day.created_at.isoformat(),
            "held_for_review": day.held,
            "risk_reasons": day.risk_reasons or "",
        }


@dataclass(frozen=True, slots=True)
class HeldCheckin:
    id: int
    participant_id: int
    day: str
    streak: int
    created_at: datetime
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldCheckin]:
    row = _load_console(session, actor=actor, activity_id=activity_id)
    days = held_rows(session, model=CheckinDay, activity_id=row.id)
    return [
        HeldCheckin(
            id=d.id,
            participant_id=d.participant_id,
            day=d.day,
            streak=d.streak,
            created_at=d.created_at,
            reasons=d.risk_reasons or "",
        )
        for d in days
    ]


def _release_checkin(
    session: Session, row: Activity, day: CheckinDay, approve: bool, now: datetime
) -> None:
    """A held check-in counted (and its milestone, if it reached one, recorded now), or
    discarded. Later days keep the streak they were given, as the participant saw it."""
    if not approve:
        session.delete(day)
        return
    day.held = False
    if day.streak in milestones_of(row):
        participant_event(
            session,
            EventKind.STREAK_MILESTONE,
            activity=row,
            participant_id=day.participant_id,
            now=now,
            properties={"milestone": day.streak, "day": day.day, "reviewed": True},
        )


do_review_checkin = HeldReview(
    ActivityKind.CHECKIN,
    CheckinDay,
    "checkin_id",
    N_("No such check-in waiting for review."),
    "checkin",
    release=_release_checkin,
)


# --- participants ------------------------------------------------------------------------------


def do_check_in(
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
) -> CheckinReceipt:
    """Check in for today (local day); a second check-in the same day is refused."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.CHECKIN
    )
    activities.require_open(public)
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
    today = activities.local_day(public.campaign, now)
    previous = session.scalar(
        select(CheckinDay.streak).where(
            CheckinDay.activity_id == row.id,
            CheckinDay.participant_id == acting.participant.id,
            CheckinDay.day == day_before(today),
        )
    )
    streak = (previous or 0) + 1
    entry = CheckinDay(
        activity_id=row.id,
        participant_id=acting.participant.id,
        day=today,
        streak=streak,
        created_at=now,
        held=acting.held,
        risk_reasons="; ".join(acting.risk.reasons)[:500] or None,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        raise Conflict(_("You have already checked in today; come back tomorrow.")) from None
    common: dict[str, Any] = {
        "occurred_at": now,
        "workspace_id": public.workspace_id,
        "campaign_id": public.campaign.id,
        "activity_id": row.id,
        "actor_type": ActorType.PARTICIPANT,
        "actor_id": acting.participant.id,
        "channel": visitor.channel,
        "referrer": visitor.referrer,
    }
    record_event(
        session,
        kind=EventKind.CHECKIN_DONE,
        properties={"day": today, "streak": streak, "held": acting.held},
        **common,
    )
    # A held check-in keeps the person's own streak going but earns no milestone until the
    # brand has looked at it: milestones are what rewards will be paid on.
    milestone = streak if streak in milestones_of(row) and not acting.held else None
    if milestone is not None:
        record_event(
            session,
            kind=EventKind.STREAK_MILESTONE,
            properties={"milestone": milestone, "day": today},
            **common,
        )
    total = len(days_of(session, activity_id=row.id, participant_id=acting.participant.id))
    return CheckinReceipt(
        activity_id=row.id,
        day=today,
        streak=streak,
        total_days=total,
        milestone=milestone,
        held_for_review=acting.held,
    )


def month_weeks(month: str, *, checked: set[str], today: str) -> list[list[CalendarDay]]:
    """The month as weeks from Monday, padded with the neighbouring months' days."""
    year, number = (int(part) for part in month.split("-"))
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, number)
    return [
        [
            CalendarDay(
                day=d.isoformat(),
                number=d.day,
                checked=d.isoformat() in checked,
                today=d.isoformat() == today,
                in_month=d.month == number,
            )
            for d in week
        ]
        for week in weeks
    ]


def shift_month(month: str, delta: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def shown_month(requested: str | None, *, today: str) -> str:
    """The month asked for (YYYY-MM), if it is a real one no later than this month."""
    if requested and MONTH.fullmatch(requested) and "0001-01" <= requested <= today[:7]:
        return requested
    return today[:7]


def my_checkins(
    session: Session,
    *,
    activity: Activity,
    participant_id: int | None,
    today: str,
    month: str | None = None,
) -> MyCheckins:
    days = (
        days_of(session, activity_id=activity.id, participant_id=participant_id)
        if participant_id is not None
        else []
    )
    streak = current_streak(days, today=today)
    shown = shown_month(month, today=today)
    ahead = [m for m in milestones_of(activity) if m > streak]
    return MyCheckins(
        activity_id=activity.id,
        today=today,
        checked_today=bool(days and days[-1].day == today),
        current_streak=streak,
        best_streak=max((d.streak for d in days), default=0),
        total_days=len(days),
        next_milestone=ahead[0] if ahead else None,
        month=shown,
        previous_month=shift_month(shown, -1) if days and days[0].day[:7] < shown else None,
        next_month=shift_month(shown, 1) if shown < today[:7] else None,
        weeks=month_weeks(shown, checked={d.day for d in days}, today=today),
        last_check_in=days[-1].created_at if days else None,
    )


@dataclass(frozen=True, slots=True)
class CheckinView:
    campaign: CampaignRead
    activity: ActivityRead
    closed_reason: str | None
    can_check_in: bool
    mine: MyCheckins
    milestones: list[int]
    participant_id: int | None


def view_checkin(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    device_id: str,
    now: datetime,
    month: str | None = None,
) -> CheckinView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.CHECKIN
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    today = activities.local_day(public.campaign, now)
    mine = my_checkins(
        session,
        activity=row,
        participant_id=participant.id if participant else None,
        today=today,
        month=month,
    )
    reason = activities.closed_reason(public.campaign)
    return CheckinView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        closed_reason=reason,
        can_check_in=reason is None and not mine.checked_today,
        mine=mine,
        milestones=milestones_of(row),
        participant_id=participant.id if participant else None,
    )

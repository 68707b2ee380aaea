"""Poll / vote: single or multiple choice, text and image options, one ballot per participant
(or N a day), results live, after voting, or only after the end.

"One ballot per participant" is a unique index, not only a check: two racing requests from one
person cannot both land. Option counters are updated in the ballot's transaction, so results
are read without scanning ballots.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from im2.activities.models import Activity
from im2.activities.schemas import (
    OptionResult,
    PollCreate,
    PollOptionIn,
    PollResults,
    VoteLimit,
)
from im2.db import Base
from im2.errors import Conflict, InvalidInput
from im2.i18n import _

ONCE = "once"


class PollOption(Base):
    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(80))
    image_url: Mapped[str | None] = mapped_column(String(500))
    vote_count: Mapped[int] = mapped_column(default=0)


class PollBallot(Base):
    __tablename__ = "poll_ballots"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    # "once" for one-ballot polls, else the local date (YYYY-MM-DD) in the campaign's zone.
    day: Mapped[str] = mapped_column(String(10))
    seq: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    held: Mapped[bool] = mapped_column(default=False)
    risk_reasons: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        UniqueConstraint("activity_id", "participant_id", "day", "seq"),
        Index("ix_poll_ballots_activity_held", "activity_id", "held"),
    )


class PollChoice(Base):
    __tablename__ = "poll_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("poll_ballots.id", ondelete="CASCADE"), index=True
    )
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("ballot_id", "option_id"),)


def settings_from(data: PollCreate) -> dict[str, Any]:
    if data.multiple and data.max_choices > len(data.options):
        raise InvalidInput(
            _("At most {n} choices are possible with these options.").format(n=len(data.options)),
            field="max_choices",
        )
    labels = [o.label for o in data.options]
    if len(set(labels)) != len(labels):
        raise InvalidInput(_("Two options have the same text."), field="options")
    return {
        "multiple": data.multiple,
        "max_choices": data.max_choices if data.multiple else 1,
        "vote_limit": data.vote_limit.value,
        "votes_per_day": data.votes_per_day if data.vote_limit is VoteLimit.DAILY else 1,
        "results": data.results.value,
    }


def add_options(session: Session, *, activity_id: int, options: list[PollOptionIn]) -> None:
    for position, option in enumerate(options):
        session.add(
            PollOption(
                activity_id=activity_id,
                position=position,
                label=option.label,
                image_url=option.image_url,
            )
        )


def options_of(session: Session, *, activity_id: int) -> list[PollOption]:
    return list(
        session.scalars(
            select(PollOption)
            .where(PollOption.activity_id == activity_id)
            .order_by(PollOption.position)
        )
    )


def ballot_count(session: Session, *, activity_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PollBallot)
            .where(PollBallot.activity_id == activity_id)
        )
        or 0
    )


def ballots_of(session: Session, *, activity_id: int, participant_id: int) -> list[PollBallot]:
    return list(
        session.scalars(
            select(PollBallot)
            .where(
                PollBallot.activity_id == activity_id, PollBallot.participant_id == participant_id
            )
            .order_by(PollBallot.id)
        )
    )


def cast_ballot(
    session: Session,
    *,
    activity: Activity,
    participant_id: int,
    option_ids: list[int],
    local_day: str,
    held: bool,
    risk_reasons: tuple[str, ...],
    now: datetime,
) -> PollBallot:
    """Validate the choice against this poll's options and rules, then write the ballot."""
    settings = activity.settings
    chosen = list(dict.fromkeys(option_ids))  # the same option twice counts once
    valid = set(
        session.scalars(
            select(PollOption.id).where(
                PollOption.activity_id == activity.id, PollOption.id.in_(chosen)
            )
        )
    )
    if len(valid) != len(chosen):
        raise InvalidInput(_("That is not an option of this poll."), field="options")
    limit = int(settings.get("max_choices", 1)) if settings.get("multiple") else 1
    if len(chosen) > limit:
        raise InvalidInput(_("Choose at most {n} options.").format(n=limit), field="options")

    if settings.get("vote_limit") == VoteLimit.DAILY.value:
        day = local_day
        allowed = int(settings.get("votes_per_day", 1))
        used = len(
            [
                b
                for b in ballots_of(session, activity_id=activity.id, participant_id=participant_id)
                if b.day == day
            ]
        )
        if used >= allowed:
            raise Conflict(
                _("You have used all {n} votes for today; come back tomorrow.").format(n=allowed),
                field="options",
            )
        seq = used + 1
    else:
        day, seq = ONCE, 1
    ballot = PollBallot(
        activity_id=activity.id,
        participant_id=participant_id,
        day=day,
        seq=seq,
        created_at=now,
        held=held,
        risk_reasons="; ".join(risk_reasons)[:500] or None,
    )
    try:
        with session.begin_nested():
            session.add(ballot)
            session.flush()
    except IntegrityError:
        raise Conflict(_("You have already voted in this poll."), field="options") from None
    for option_id in chosen:
        session.add(PollChoice(ballot_id=ballot.id, option_id=option_id))
    if not held:
        _count(session, chosen, +1)
    return ballot


def _count(session: Session, option_ids: list[int], delta: int) -> None:
    # One atomic UPDATE per option: concurrent ballots never lose an increment.
    session.execute(
        update(PollOption)
        .where(PollOption.id.in_(option_ids))
        .values(vote_count=PollOption.vote_count + delta)
    )


def choices_of(session: Session, *, ballot_id: int) -> list[int]:
    return list(
        session.scalars(select(PollChoice.option_id).where(PollChoice.ballot_id == ballot_id))
    )


def release_ballot(session: Session, *, ballot: PollBallot, approve: bool) -> None:
    """A held ballot reviewed in the console: counted when approved, deleted when rejected."""
    if approve:
        ballot.held = False
        _count(session, choices_of(session, ballot_id=ballot.id), +1)
    else:
        session.delete(ballot)


def results(session: Session, *, activity: Activity) -> PollResults:
    options = options_of(session, activity_id=activity.id)
    counted = select(PollBallot).where(PollBallot.activity_id == activity.id)
    ballots = int(
        session.scalar(
            select(func.count()).select_from(counted.where(PollBallot.held.is_(False)).subquery())
        )
        or 0
    )
    voters = int(
        session.scalar(
            select(func.count(func.distinct(PollBallot.participant_id))).where(
                PollBallot.activity_id == activity.id, PollBallot.held.is_(False)
            )
        )
        or 0
    )
    held = int(
        session.scalar(
            select(func.count()).select_from(counted.where(PollBallot.held.is_(True)).subquery())
        )
        or 0
    )
    total = sum(o.vote_count for o in options)
    return PollResults(
        activity_id=activity.id,
        title=activity.title,
        ballots=ballots,
        voters=voters,
        held=held,
        options=[
            OptionResult(
                id=o.id,
                label=o.label,
                image_url=o.image_url,
                votes=o.vote_count,
                share=(o.vote_count / total) if total else 0.0,
            )
            for o in options
        ],
    )


def export_rows(session: Session, *, activity_id: int) -> Iterator[dict[str, Any]]:
    labels = {o.id: o.label for o in options_of(session, activity_id=activity_id)}
    rows = session.execute(
        select(PollBallot, PollChoice.option_id)
        .join(PollChoice, PollChoice.ballot_id == PollBallot.id)
        .where(PollBallot.activity_id == activity_id)
        .order_by(PollBallot.id, PollChoice.option_id)
    )
    for ballot, option_id in rows:
        yield {
            "ballot_id": ballot.id,
            "participant_id": ballot.participant_id,
            "voted_at": ballot.created_at.isoformat(),
            "day": ballot.day,
            "option_id": option_id,
            "option": labels.get(option_id, ""),
            "held_for_review": ballot.held,
            "risk_reasons": ballot.risk_reasons or "",
        }


def held_ballots(session: Session, *, activity_id: int) -> list[PollBallot]:
    return list(
        session.scalars(
            select(PollBallot)
            .where(PollBallot.activity_id == activity_id, PollBallot.held.is_(True))
            .order_by(PollBallot.id)
        )
    )

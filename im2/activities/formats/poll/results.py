"""A poll's results: option counters (moved in the ballots' own transactions) and the count of
ballots, voters and held ballots; and who may see them when."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from im2.activities.formats.poll.models import PollBallot, PollOption
from im2.activities.formats.poll.schemas import (
    OptionResult,
    PollResults,
    PollSettings,
    ResultsVisibility,
)
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.db import Base


def results_channel(activity_id: int) -> str:
    return f"activity:{activity_id}:results"


def results_visible(settings: PollSettings, *, campaign: CampaignRead, voted: bool) -> bool:
    if settings.results is ResultsVisibility.LIVE:
        return True
    if settings.results is ResultsVisibility.AFTER_VOTE:
        return voted or campaign.status is CampaignStatus.ENDED
    return campaign.status is CampaignStatus.ENDED


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# Built once, Core statements: every vote batch reads them, and building an ORM statement cost
# more than running it.
_BALLOT, _OPTION = _table(PollBallot), _table(PollOption)
_HELD = select(func.count()).where(
    _BALLOT.c.activity_id == bindparam("activity_id"), _BALLOT.c.held.is_(True)
)
_OPTIONS = (
    select(_OPTION.c.id, _OPTION.c.label, _OPTION.c.image_url, _OPTION.c.vote_count)
    .where(_OPTION.c.activity_id == bindparam("activity_id"))
    .order_by(_OPTION.c.position)
)


def ballot_counts(
    session: Session, *, activity_id: int, daily: bool, counted_choices: int | None = None
) -> tuple[int, int, int]:
    """(counted ballots, people behind them, ballots held for review). A one-ballot poll has
    one ballot per person (unique index), so its voters are its counted ballots and the
    count needs no DISTINCT (which would sort every ballot on each vote batch).

    For a one-ballot poll whose ballots hold one option each, pass `counted_choices`, the sum
    of its options' counters (written in the same transactions as the ballots): that is its
    counted ballots, and only the held ballots are counted (through the index), instead of
    every ballot of the poll on each vote batch (~2 ms at 40,000 ballots, ~50 ms at a
    million, on SQLite)."""
    if not daily and counted_choices is not None:
        held_only = session.scalar(_HELD, {"activity_id": activity_id})
        return counted_choices, counted_choices, int(held_only or 0)
    counted = PollBallot.held.is_(False)
    if daily:
        ballots, voters, held = session.execute(
            select(
                func.count().filter(counted),
                func.count(func.distinct(PollBallot.participant_id)).filter(counted),
                func.count().filter(PollBallot.held.is_(True)),
            ).where(PollBallot.activity_id == activity_id)
        ).one()
        return int(ballots or 0), int(voters or 0), int(held or 0)
    by_held = dict(
        session.execute(
            select(PollBallot.held, func.count())
            .where(PollBallot.activity_id == activity_id)
            .group_by(PollBallot.held)
        ).all()
    )
    counted_ballots = int(by_held.get(False, 0))
    return counted_ballots, counted_ballots, int(by_held.get(True, 0))


def read_results(
    session: Session,
    *,
    activity_id: int,
    title: str,
    settings: PollSettings,
) -> PollResults:
    """The results as of now in `session`, its own counter updates included (counters move
    with Core UPDATEs, so they are read with a plain query, never from loaded objects)."""
    options = session.execute(_OPTIONS, {"activity_id": activity_id}).all()
    total = sum(o.vote_count for o in options)
    ballots, voters, held = ballot_counts(
        session,
        activity_id=activity_id,
        daily=settings.daily,
        counted_choices=total if settings.choice_limit == 1 else None,
    )
    return PollResults(
        activity_id=activity_id,
        title=title,
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

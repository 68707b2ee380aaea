"""Poll / vote: single or multiple choice, text and image options, one ballot per participant
(or N a day), results live, after voting, or only after the end.

This module is the brand's side (create, edit, results, review of held ballots, export) and
what a visitor sees; the vote itself is `votes.cast_votes` (the one vote rule), the results
`results.read_results`. Option counters are updated in the ballot's transaction, so results
are read without scanning ballots.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import (
    HeldReview,
    add_activity,
    console_activity,
    held_rows,
    update_texts,
)
from im2.activities.formats.poll.models import PollBallot, PollChoice, PollOption
from im2.activities.formats.poll.results import read_results, results_visible
from im2.activities.formats.poll.schemas import (
    PollCreate,
    PollOptionIn,
    PollResults,
    PollSettings,
    VoteLimit,
)
from im2.activities.formats.poll.votes import VoteRequest as VoteRequest
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.errors import InvalidInput
from im2.i18n import N_, _
from im2.workspaces.schemas import Actor


def settings_from(data: PollCreate) -> PollSettings:
    if data.multiple and data.max_choices > len(data.options):
        raise InvalidInput(
            _("At most {n} choices are possible with these options.").format(n=len(data.options)),
            field="max_choices",
        )
    labels = [o.label for o in data.options]
    if len(set(labels)) != len(labels):
        raise InvalidInput(_("Two options have the same text."), field="options")
    return PollSettings(
        multiple=data.multiple,
        max_choices=data.max_choices if data.multiple else 1,
        vote_limit=data.vote_limit,
        votes_per_day=data.votes_per_day if data.vote_limit is VoteLimit.DAILY else 1,
        results=data.results,
    )


def settings_of(activity: Activity | ActivityRead) -> PollSettings:
    return PollSettings.model_validate(activity.settings)


def results(session: Session, *, activity: Activity) -> PollResults:
    return read_results(
        session, activity_id=activity.id, title=activity.title, settings=settings_of(activity)
    )


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
            # Counters move with Core UPDATEs: never trust a copy loaded earlier in the session.
            .execution_options(populate_existing=True)
        )
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


def _count(session: Session, option_ids: list[int], delta: int) -> None:
    # One atomic UPDATE per option: concurrent reviews and ballots never lose an increment.
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
    return held_rows(session, model=PollBallot, activity_id=activity_id)


# --- console ----------------------------------------------------------------------------------


def do_create_poll(
    session: Session, *, actor: Actor, campaign_id: int, data: PollCreate, now: datetime
) -> ActivityRead:
    settings = settings_from(data).model_dump(mode="json")
    row = add_activity(
        session,
        ActivityKind.POLL,
        actor=actor,
        campaign_id=campaign_id,
        data=data,
        settings=settings,
        now=now,
    )
    add_options(session, activity_id=row.id, options=data.options)
    session.flush()
    return activities.to_read(row)


do_update_poll = update_texts(
    ActivityKind.POLL,
    lambda data: {"results": data.results.value} if data.results is not None else None,
)


def poll_results(session: Session, *, actor: Actor, activity_id: int) -> PollResults:
    row = console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL)
    return results(session, activity=row)


def load_results(session: Session, *, activity_id: int) -> PollResults:
    """Results for the live channel (who may see them is decided where they are shown)."""
    row = activities.load_any_activity(session, activity_id=activity_id, kind=ActivityKind.POLL)
    return results(session, activity=row)


@dataclass(frozen=True, slots=True)
class HeldBallot:
    id: int
    participant_id: int
    created_at: datetime
    options: list[str]
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldBallot]:
    row = console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL)
    labels = {o.id: o.label for o in options_of(session, activity_id=row.id)}
    return [
        HeldBallot(
            id=b.id,
            participant_id=b.participant_id,
            created_at=b.created_at,
            options=[labels.get(o, "?") for o in choices_of(session, ballot_id=b.id)],
            reasons=b.risk_reasons or "",
        )
        for b in held_ballots(session, activity_id=row.id)
    ]


do_review_ballot = HeldReview(
    ActivityKind.POLL,
    PollBallot,
    "ballot_id",
    N_("No such vote waiting for review."),
    "vote",
    target_type="ballot",
    release=lambda session, _row, ballot, ok, _now: release_ballot(
        session, ballot=ballot, approve=ok
    ),
)


def export_poll(session: Session, *, actor: Actor, activity_id: int) -> list[dict[str, Any]]:
    row = console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL)
    return list(export_rows(session, activity_id=row.id))


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollView:
    """What one visitor sees of a poll."""

    campaign: CampaignRead
    activity: ActivityRead
    options: list[tuple[int, str, str | None]]
    open: bool
    closed_reason: str | None
    voted: bool
    can_vote: bool
    my_choices: list[int]
    results: PollResults | None
    participant_id: int | None
    settings: PollSettings


def view_poll(
    session: Session, *, slug: str, activity_id: int, device_id: str, now: datetime
) -> PollView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.POLL
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    ballots = (
        ballots_of(session, activity_id=row.id, participant_id=participant.id)
        if participant
        else []
    )
    voted = bool(ballots)
    my_choices = choices_of(session, ballot_id=ballots[-1].id) if ballots else []
    reason = activities.closed_reason(public.campaign)
    today = activities.local_day(public.campaign, now)
    settings = settings_of(row)
    can_vote = reason is None and (
        not voted
        or (settings.daily and len([b for b in ballots if b.day == today]) < settings.allowance)
    )
    visible = results_visible(settings, campaign=public.campaign, voted=voted)
    return PollView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        options=[(o.id, o.label, o.image_url) for o in options_of(session, activity_id=row.id)],
        open=reason is None,
        closed_reason=reason,
        voted=voted,
        can_vote=can_vote,
        my_choices=my_choices,
        results=results(session, activity=row) if visible else None,
        participant_id=participant.id if participant else None,
        settings=settings,
    )

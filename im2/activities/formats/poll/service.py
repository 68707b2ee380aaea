"""Poll / vote: single or multiple choice, text and image options, one ballot per participant
(or N a day), results live, after voting, or only after the end.

"One ballot per participant" is a unique index, not only a check: two racing requests from one
person cannot both land. Option counters are updated in the ballot's transaction, so results
are read without scanning ballots.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.poll.models import PollBallot, PollChoice, PollOption
from im2.activities.formats.poll.schemas import (
    OptionResult,
    PollCreate,
    PollOptionIn,
    PollResults,
    PollUpdate,
    ResultsVisibility,
    VoteLimit,
    VoteReceipt,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.models import Campaign
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.db import Base
from im2.errors import Conflict, IM2Error, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _, use_locale
from im2.participation import service as participation
from im2.participation.schemas import ParticipantRead, Risk, Visitor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

ONCE = "once"


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
            # Counters move with Core UPDATEs: never trust a copy loaded earlier in the session.
            .execution_options(populate_existing=True)
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
    limit = choice_limit(settings)
    if len(chosen) > limit:
        raise InvalidInput(_("Choose at most {n} options.").format(n=limit), field="options")

    daily = settings.get("vote_limit") == VoteLimit.DAILY.value
    allowed = int(settings.get("votes_per_day", 1)) if daily else 1
    day = local_day if daily else ONCE
    used_up = (
        Conflict(
            _("You have used all {n} votes for today; come back tomorrow.").format(n=allowed),
            field="options",
        )
        if daily
        else Conflict(_("You have already voted in this poll."), field="options")
    )
    # The unique (poll, person, day, seq) row settles concurrent votes of one person: a ballot
    # that loses the race for a seq counts again what committed first and takes the next one
    # while the day's allowance lasts (each retry follows a committed ballot, so it ends).
    for _attempt in range(allowed + 1):
        used = sum(
            1
            for b in ballots_of(session, activity_id=activity.id, participant_id=participant_id)
            if b.day == day
        )
        if used >= allowed:
            raise used_up
        ballot = PollBallot(
            activity_id=activity.id,
            participant_id=participant_id,
            day=day,
            seq=used + 1,
            created_at=now,
            held=held,
            risk_reasons="; ".join(risk_reasons)[:500] or None,
        )
        try:
            with session.begin_nested():
                session.add(ballot)
                session.flush()
            break
        except IntegrityError:
            continue
    else:
        raise used_up
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
        held_only = session.scalar(
            select(func.count()).where(
                PollBallot.activity_id == activity_id, PollBallot.held.is_(True)
            )
        )
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


def choice_limit(settings: dict[str, Any]) -> int:
    """How many options one ballot may hold."""
    return int(settings.get("max_choices", 1)) if settings.get("multiple") else 1


def results(session: Session, *, activity: Activity) -> PollResults:
    options = options_of(session, activity_id=activity.id)
    total = sum(o.vote_count for o in options)
    ballots, voters, held = ballot_counts(
        session,
        activity_id=activity.id,
        daily=activity.settings.get("vote_limit") == VoteLimit.DAILY.value,
        counted_choices=total if choice_limit(activity.settings) == 1 else None,
    )
    return PollResults(
        activity_id=activity.id,
        title=activity.title,
        ballots=int(ballots or 0),
        voters=int(voters or 0),
        held=int(held or 0),
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


def results_channel(activity_id: int) -> str:
    return f"activity:{activity_id}:results"


# --- console ----------------------------------------------------------------------------------


def do_create_poll(
    session: Session, *, actor: Actor, campaign_id: int, data: PollCreate, now: datetime
) -> ActivityRead:
    settings = settings_from(data)
    row = activities.create_activity_row(
        session,
        actor=actor,
        campaign_id=campaign_id,
        kind=ActivityKind.POLL,
        title=data.title,
        description=data.description,
        settings=settings,
        now=now,
    )
    add_options(session, activity_id=row.id, options=data.options)
    session.flush()
    return activities.to_read(row)


def do_update_poll(
    session: Session, *, actor: Actor, activity_id: int, data: PollUpdate, now: datetime
) -> ActivityRead:
    return activities.do_update_activity(
        session,
        actor=actor,
        activity_id=activity_id,
        kind=ActivityKind.POLL,
        title=data.title,
        description=data.description,
        settings={"results": data.results.value} if data.results is not None else None,
        now=now,
    )


def poll_results(session: Session, *, actor: Actor, activity_id: int) -> PollResults:
    require(actor, Permission.READ_CAMPAIGNS)
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL
    )
    return results(session, activity=row)


def load_results(session: Session, *, activity_id: int) -> PollResults:
    """Results for the live channel (who may see them is decided where they are shown)."""
    row = session.get(Activity, activity_id)
    if row is None or row.kind != ActivityKind.POLL:
        raise NotFound(_("Activity {id} not found.").format(id=activity_id))
    return results(session, activity=row)


@dataclass(frozen=True, slots=True)
class HeldBallot:
    id: int
    participant_id: int
    created_at: datetime
    options: list[str]
    reasons: str


def list_held(session: Session, *, actor: Actor, activity_id: int) -> list[HeldBallot]:
    require(actor, Permission.READ_CAMPAIGNS)
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL
    )
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


def do_review_ballot(
    session: Session,
    *,
    actor: Actor,
    activity_id: int,
    ballot_id: int,
    approve: bool,
    now: datetime,
) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL
    )
    ballot = session.get(PollBallot, ballot_id)
    if ballot is None or ballot.activity_id != row.id or not ballot.held:
        raise NotFound(_("No such vote waiting for review."))
    release_ballot(session, ballot=ballot, approve=approve)
    record_audit(
        session,
        actor=actor,
        workspace_id=row.workspace_id,
        action="vote.approve" if approve else "vote.reject",
        target_type="ballot",
        target_id=ballot_id,
        summary=row.title,
        before={"held": True},
        after={"held": False} if approve else None,
        now=now,
    )


def export_poll(session: Session, *, actor: Actor, activity_id: int) -> list[dict[str, Any]]:
    require(actor, Permission.READ_CAMPAIGNS)
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.POLL
    )
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


def results_visible(settings: dict[str, Any], *, campaign: CampaignRead, voted: bool) -> bool:
    visibility = settings.get("results", ResultsVisibility.AFTER_VOTE.value)
    if visibility == ResultsVisibility.LIVE.value:
        return True
    if visibility == ResultsVisibility.AFTER_VOTE.value:
        return voted or campaign.status is CampaignStatus.ENDED
    return campaign.status is CampaignStatus.ENDED


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
    can_vote = reason is None and (
        not voted
        or (
            row.settings.get("vote_limit") == VoteLimit.DAILY.value
            and len([b for b in ballots if b.day == today])
            < int(row.settings.get("votes_per_day", 1))
        )
    )
    visible = results_visible(row.settings, campaign=public.campaign, voted=voted)
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
    )


def do_vote(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    option_ids: list[int],
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> VoteReceipt:
    """Cast a ballot: the campaign must be live, the options this poll's, the person new to
    it (or within the day's allowance); suspicious ballots are kept but held from results."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.POLL
    )
    activities.require_open(public)
    if not option_ids:
        raise InvalidInput(_("Choose an option first."), field="options")
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
    ballot = cast_ballot(
        session,
        activity=row,
        participant_id=acting.participant.id,
        option_ids=option_ids,
        local_day=activities.local_day(public.campaign, now),
        held=acting.held,
        risk_reasons=acting.risk.reasons,
        now=now,
    )
    record_event(
        session,
        kind=EventKind.VOTE_CAST,
        occurred_at=now,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        activity_id=row.id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=acting.participant.id,
        channel=visitor.channel,
        referrer=visitor.referrer,
        properties={
            "options": sorted(set(option_ids)),
            "held": acting.held,
            "risk": acting.risk.score,
        },
    )
    visible = results_visible(row.settings, campaign=public.campaign, voted=True)
    session.flush()
    return VoteReceipt(
        ballot_id=ballot.id,
        activity_id=row.id,
        options=sorted(set(option_ids)),
        held_for_review=acting.held,
        results=results(session, activity=row) if visible else None,
    )


# --- the batched vote (group commit) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """One participant's vote as the request brought it, queued for the group commit."""

    slug: str
    activity_id: int
    visitor: Visitor
    option_ids: list[int]
    consented: bool
    seconds_on_page: float | None
    risk_threshold: float
    identities_per_ip_hour: int
    now: datetime
    locale: str


@dataclass(frozen=True, slots=True)
class VoteBatch:
    outcomes: list[VoteReceipt | IM2Error]
    # Results of every poll that got a ballot, as of the end of the batch (for the live hub).
    results: dict[int, PollResults]


@dataclass(frozen=True, slots=True)
class _OpenPoll:
    public: activities.PublicCampaign
    activity_id: int
    title: str
    options: frozenset[int]
    limit: int
    daily: bool
    per_day: int
    visible: bool
    fingerprint: tuple[Any, ...]


# Polls as the last batch saw them, per engine: reused only when the fingerprint read inside
# the current transaction (statuses, edit times, options) still matches, so a poll closed or
# edited a moment ago is judged as it is now.
_POLLS: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], _OpenPoll]] = (
    weakref.WeakKeyDictionary()
)
_POLLS_LOCK = threading.Lock()


def _fingerprint(session: Session, slug: str, activity_id: int) -> tuple[Any, ...] | None:
    campaign, activity, option = (
        cast_table(Campaign),
        cast_table(Activity),
        cast_table(PollOption),
    )
    of_poll = option.c.activity_id == activity.c.id
    row = session.execute(
        select(
            # Everything the cached poll is made of: what a vote is judged by.
            campaign.c.id,
            campaign.c.workspace_id,
            campaign.c.status,
            campaign.c.timezone,
            campaign.c.updated_at,
            campaign.c.status_changed_at,
            activity.c.kind,
            activity.c.title,
            activity.c.settings,
            activity.c.updated_at,
            select(func.count()).where(of_poll).scalar_subquery(),
            select(func.min(option.c.id)).where(of_poll).scalar_subquery(),
            select(func.max(option.c.id)).where(of_poll).scalar_subquery(),
        )
        .select_from(campaign.join(activity, activity.c.campaign_id == campaign.c.id))
        .where(campaign.c.slug == slug, activity.c.id == activity_id)
    ).first()
    return (
        None
        if row is None
        else tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in row)
    )


def _open_poll(session: Session, slug: str, activity_id: int) -> _OpenPoll | IM2Error:
    engine = session.get_bind().engine
    fingerprint = _fingerprint(session, slug, activity_id)
    with _POLLS_LOCK:
        known = _POLLS.setdefault(engine, {}).get((slug, activity_id))
    if known is not None and fingerprint is not None and known.fingerprint == fingerprint:
        return known
    try:
        public, row = activities.public_activity(
            session, slug=slug, activity_id=activity_id, kind=ActivityKind.POLL
        )
        activities.require_open(public)
    except IM2Error as exc:
        return exc
    settings = row.settings
    options = session.scalars(select(PollOption.id).where(PollOption.activity_id == row.id))
    poll = _OpenPoll(
        public=public,
        activity_id=row.id,
        title=row.title,
        options=frozenset(options),
        limit=choice_limit(settings),
        daily=settings.get("vote_limit") == VoteLimit.DAILY.value,
        per_day=int(settings.get("votes_per_day", 1)),
        visible=results_visible(settings, campaign=public.campaign, voted=True),
        fingerprint=fingerprint or (),
    )
    if fingerprint is not None:
        with _POLLS_LOCK:
            _POLLS.setdefault(engine, {})[(slug, activity_id)] = poll
    return poll


def _results_now(
    session: Session, *, activity_id: int, title: str, daily: bool, single: bool
) -> PollResults:
    """`results` in two plain queries (the batch's own counter updates included)."""
    option = cast_table(PollOption)
    options = session.execute(
        select(option.c.id, option.c.label, option.c.image_url, option.c.vote_count)
        .where(option.c.activity_id == activity_id)
        .order_by(option.c.position)
    ).all()
    total = sum(o.vote_count for o in options)
    ballots, voters, held = ballot_counts(
        session, activity_id=activity_id, daily=daily, counted_choices=total if single else None
    )
    return PollResults(
        activity_id=activity_id,
        title=title,
        ballots=int(ballots or 0),
        voters=int(voters or 0),
        held=int(held or 0),
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


def cast_votes(session: Session, votes: Sequence[VoteRequest]) -> VoteBatch:
    """`do_vote` for every vote of a batch, with the same rules and messages, in a handful of
    statements for the whole batch: each poll and its campaign are read once (inside the
    transaction, so a poll closed a moment ago refuses), participants are looked up and
    joined together, and ballots, choices, counters and events are multi-row writes.

    A vote that breaks a rule gets its error as its outcome and writes nothing; the votes are
    judged in order, so two votes of one device in the same batch behave as they would one
    after the other. The unique index on ballots still has the last word: should another
    transaction win a race (PostgreSQL), the insert fails and the caller retries each vote
    alone (`Database.group_commit`), where the loser gets its 409.
    """
    n = len(votes)
    outcomes: list[VoteReceipt | IM2Error | None] = [None] * n
    polls: dict[tuple[str, int, str], _OpenPoll | IM2Error] = {}
    chosen: list[list[int]] = [[] for _ in votes]
    for i, v in enumerate(votes):
        key = (v.slug, v.activity_id, v.locale)
        if key not in polls:
            with use_locale(v.locale):
                polls[key] = _open_poll(session, v.slug, v.activity_id)
        poll = polls[key]
        if isinstance(poll, IM2Error):
            outcomes[i] = poll
        elif not v.option_ids:
            with use_locale(v.locale):
                outcomes[i] = InvalidInput(_("Choose an option first."), field="options")

    def poll_of(i: int) -> _OpenPoll:
        v = votes[i]
        poll = polls[(v.slug, v.activity_id, v.locale)]
        assert not isinstance(poll, IM2Error)
        return poll

    # Participants: who exists, who joins now (first action, with consent), in vote order.
    by_workspace: dict[int, list[int]] = {}
    for i in range(n):
        if outcomes[i] is None:
            by_workspace.setdefault(poll_of(i).public.workspace_id, []).append(i)
    acting: list[tuple[ParticipantRead, Risk] | None] = [None] * n
    for workspace_id, indexes in by_workspace.items():
        devices = sorted({votes[i].visitor.device_id for i in indexes})
        known = participation.find_participants(
            session, workspace_id=workspace_id, device_ids=devices
        )
        joining: dict[str, int] = {}  # device -> the vote that creates its participant
        accepted: list[int] = []
        for i in indexes:
            v, poll = votes[i], poll_of(i)
            device = v.visitor.device_id
            picked = list(dict.fromkeys(v.option_ids))  # the same option twice counts once
            with use_locale(v.locale):
                if device not in known and device not in joining and not v.consented:
                    outcomes[i] = InvalidInput(
                        _("Please agree to how your data is used before taking part."),
                        field="consent",
                    )
                elif not poll.options.issuperset(picked):
                    outcomes[i] = InvalidInput(
                        _("That is not an option of this poll."), field="options"
                    )
                elif len(picked) > poll.limit:
                    outcomes[i] = InvalidInput(
                        _("Choose at most {n} options.").format(n=poll.limit), field="options"
                    )
            if outcomes[i] is not None:
                continue
            chosen[i] = picked
            if device not in known and device not in joining:
                joining[device] = i
            accepted.append(i)
        # Risk counts new identities per IP as they stood before this batch, then adds the
        # batch's own joins in order, as one vote after the other would have seen them.
        ips = sorted({ip for i in accepted if (ip := votes[i].visitor.ip)})
        since = min((votes[i].now for i in accepted), default=None)
        counts = (
            participation.identities_from_ips(
                session,
                workspace_id=workspace_id,
                ips=ips,
                since=since - participation.RISK_IP_WINDOW,
            )
            if ips and since is not None
            else {}
        )
        joined = participation.do_join_many(
            session,
            workspace_id=workspace_id,
            joins=[
                participation.NewJoin(
                    visitor=votes[i].visitor,
                    campaign_id=poll_of(i).public.campaign.id,
                    now=votes[i].now,
                )
                for i in joining.values()
            ],
        )
        for i in accepted:
            v = votes[i]
            device = v.visitor.device_id
            creator = joining.get(device) == i and joined[device].is_new
            participant = known.get(device) or joined[device]
            if not creator and participant.is_new:
                participant = dataclasses.replace(participant, is_new=False)
            recent = None
            if v.visitor.ip:
                if creator:
                    counts[v.visitor.ip] = counts.get(v.visitor.ip, 0) + 1
                recent = counts.get(v.visitor.ip, 0)
            risk = participation.score_risk(
                identities_from_ip=recent,
                is_new=creator,
                seconds_on_page=v.seconds_on_page,
                identities_per_ip_hour=v.identities_per_ip_hour,
            )
            acting[i] = (participant, risk)

    # Ballots: the one-per-person (or N a day) rule against what is stored and what this
    # batch already cast.
    days = [""] * n
    usage: dict[tuple[int, int, str], tuple[int, int]] = {}
    per_poll: dict[int, list[int]] = {}
    for i in range(n):
        if outcomes[i] is None:
            poll = poll_of(i)
            days[i] = (
                activities.local_day(poll.public.campaign, votes[i].now) if poll.daily else ONCE
            )
            per_poll.setdefault(poll.activity_id, []).append(i)
    for activity_id, indexes in per_poll.items():
        participants = sorted({acting[i][0].id for i in indexes if acting[i]})  # type: ignore[index]
        rows = session.execute(
            select(
                PollBallot.participant_id, PollBallot.day, func.count(), func.max(PollBallot.seq)
            )
            .where(
                PollBallot.activity_id == activity_id,
                PollBallot.participant_id.in_(participants),
                PollBallot.day.in_(sorted({days[i] for i in indexes})),
            )
            .group_by(PollBallot.participant_id, PollBallot.day)
        ).all()
        for pid, day, count, top in rows:
            usage[(activity_id, int(pid), str(day))] = (int(count), int(top or 0))
    ballots: list[dict[str, Any]] = []
    casting: list[int] = []
    for i in range(n):
        if outcomes[i] is not None:
            continue
        v, poll = votes[i], poll_of(i)
        participant, risk = acting[i]  # type: ignore[misc]
        slot = (poll.activity_id, participant.id, days[i])
        used, top = usage.get(slot, (0, 0))
        with use_locale(v.locale):
            if poll.daily and used >= poll.per_day:
                outcomes[i] = Conflict(
                    _("You have used all {n} votes for today; come back tomorrow.").format(
                        n=poll.per_day
                    ),
                    field="options",
                )
            elif not poll.daily and used >= 1:
                outcomes[i] = Conflict(_("You have already voted in this poll."), field="options")
        if outcomes[i] is not None:
            continue
        usage[slot] = (used + 1, top + 1)
        ballots.append(
            {
                "activity_id": poll.activity_id,
                "participant_id": participant.id,
                "day": days[i],
                "seq": top + 1 if poll.daily else 1,
                "created_at": v.now,
                "held": risk.held(v.risk_threshold),
                "risk_reasons": "; ".join(risk.reasons)[:500] or None,
            }
        )
        casting.append(i)
    if not casting:
        return VoteBatch(outcomes=_settled(outcomes), results={})

    connection = session.connection()
    ballot_table = cast_table(PollBallot)
    try:
        ids = list(
            connection.scalars(
                ballot_table.insert().returning(ballot_table.c.id, sort_by_parameter_order=True),
                ballots,
            )
        )
    except IntegrityError:
        if n == 1:
            with use_locale(votes[0].locale):
                raise Conflict(_("You have already voted in this poll."), field="options") from None
        raise
    choices: list[dict[str, int]] = []
    deltas: dict[int, int] = {}
    events: list[dict[str, object]] = []
    for ballot_id, ballot, i in zip(ids, ballots, casting, strict=True):
        v, poll = votes[i], poll_of(i)
        participant, risk = acting[i]  # type: ignore[misc]
        for option_id in chosen[i]:
            choices.append({"ballot_id": ballot_id, "option_id": option_id})
            if not ballot["held"]:
                deltas[option_id] = deltas.get(option_id, 0) + 1
        events.append(
            participation.event_row(
                kind=EventKind.VOTE_CAST,
                occurred_at=v.now,
                workspace_id=poll.public.workspace_id,
                campaign_id=poll.public.campaign.id,
                activity_id=poll.activity_id,
                actor_id=participant.id,
                channel=v.visitor.channel,
                referrer=v.visitor.referrer,
                properties={
                    "options": sorted(set(v.option_ids)),
                    "held": ballot["held"],
                    "risk": risk.score,
                },
            )
        )
    connection.execute(cast_table(PollChoice).insert(), choices)
    if deltas:
        option_table = cast_table(PollOption)
        connection.execute(
            option_table.update()
            .where(option_table.c.id == bindparam("option"))
            .values(vote_count=option_table.c.vote_count + bindparam("delta")),
            [{"option": o, "delta": d} for o, d in sorted(deltas.items())],
        )
    participation.insert_event_rows(session, events)

    touched: dict[int, PollResults] = {}
    for i in casting:
        poll = poll_of(i)
        if poll.activity_id not in touched:
            touched[poll.activity_id] = _results_now(
                session,
                activity_id=poll.activity_id,
                title=poll.title,
                daily=poll.daily,
                single=poll.limit == 1,
            )
    for ballot_id, ballot, i in zip(ids, ballots, casting, strict=True):
        poll = poll_of(i)
        outcomes[i] = VoteReceipt(
            ballot_id=ballot_id,
            activity_id=poll.activity_id,
            options=sorted(set(votes[i].option_ids)),
            held_for_review=bool(ballot["held"]),
            results=touched[poll.activity_id] if poll.visible else None,
        )
    return VoteBatch(outcomes=_settled(outcomes), results=touched)


def _settled(outcomes: list[VoteReceipt | IM2Error | None]) -> list[VoteReceipt | IM2Error]:
    settled = [o for o in outcomes if o is not None]
    if len(settled) != len(outcomes):
        raise RuntimeError("a vote of the batch was left without an outcome")
    return settled


def cast_table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)

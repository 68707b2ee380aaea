"""The one vote rule: a ballot needs a live campaign, this poll's options (at most its choice
limit), a participant who consented on their first action, and a person new to the poll (or
within the day's allowance); suspicious ballots are kept but held from results.

Every vote goes through `cast_votes`: the public page and the JSON API through the database's
group commit (`live.submit_vote`), the demo directly. A batch is judged in a handful of
statements: each poll and its campaign are read once (inside the transaction, so a poll closed a
moment ago refuses), participants are looked up and joined together, and ballots, choices,
counters and events are multi-row writes. The unique (poll, person, day, seq) index on ballots
has the last word: two racing requests from one person cannot both land.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Select, Table, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.poll.models import PollBallot, PollChoice, PollOption
from im2.activities.formats.poll.results import read_results, results_visible
from im2.activities.formats.poll.schemas import PollResults, PollSettings, VoteReceipt
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind
from im2.campaigns import service as campaigns
from im2.db import Base, insert_ids
from im2.errors import Conflict, IM2Error, InvalidInput, NotFound
from im2.events import service as events_service
from im2.events.schemas import EventKind
from im2.i18n import _, use_locale
from im2.participation import service as participation
from im2.participation.schemas import ParticipantRead, Risk, Visitor

ONCE = "once"  # the `day` of every ballot of a one-ballot poll


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
    settings: PollSettings
    visible: bool
    fingerprint: tuple[Any, ...]


# Polls as the last batch saw them, per engine: reused only when the fingerprint read inside
# the current transaction (statuses, edit times, options) still matches, so a poll closed or
# edited a moment ago is judged as it is now.
_POLLS: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], _OpenPoll]] = (
    weakref.WeakKeyDictionary()
)
_POLLS_LOCK = threading.Lock()


def cast_table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _poll_row_query() -> Select[Any]:
    activity, option = cast_table(Activity), cast_table(PollOption)
    of_poll = option.c.activity_id == activity.c.id
    return select(
        activity.c.kind,
        activity.c.title,
        activity.c.settings,
        activity.c.updated_at,
        select(func.count()).where(of_poll).scalar_subquery(),
        select(func.min(option.c.id)).where(of_poll).scalar_subquery(),
        select(func.max(option.c.id)).where(of_poll).scalar_subquery(),
    ).where(
        activity.c.id == bindparam("activity_id"),
        activity.c.campaign_id == bindparam("campaign_id"),
    )


# Built once: every batch reads it, and building the statement cost more than running it.
_POLL_ROW = _poll_row_query()


def _fingerprint(session: Session, slug: str, activity_id: int) -> tuple[Any, ...] | None:
    """Everything the cached poll is made of, what a vote is judged by: the campaign's stamp
    (read first, through campaigns), then the poll's row and its options in one query."""
    stamp = campaigns.get_public_campaign_stamp(session, slug=slug)
    if stamp is None:
        return None
    row = (
        session.connection()
        .execute(_POLL_ROW, {"activity_id": activity_id, "campaign_id": stamp.id})
        .first()
    )
    return (
        None
        if row is None
        else (
            *stamp,
            *(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in row),
        )
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
    settings = PollSettings.model_validate(row.settings)
    options = session.scalars(select(PollOption.id).where(PollOption.activity_id == row.id))
    poll = _OpenPoll(
        public=public,
        activity_id=row.id,
        title=row.title,
        options=frozenset(options),
        settings=settings,
        visible=results_visible(settings, campaign=public.campaign, voted=True),
        fingerprint=fingerprint or (),
    )
    if fingerprint is not None:
        with _POLLS_LOCK:
            _POLLS.setdefault(engine, {})[(slug, activity_id)] = poll
    return poll


def _usage_query() -> Select[Any]:
    ballot = cast_table(PollBallot)
    return (
        select(ballot.c.participant_id, ballot.c.day, func.count(), func.max(ballot.c.seq))
        .where(
            ballot.c.activity_id == bindparam("activity_id"),
            ballot.c.participant_id.in_(bindparam("participants", expanding=True)),
            ballot.c.day.in_(bindparam("days", expanding=True)),
        )
        .group_by(ballot.c.participant_id, ballot.c.day)
    )


# Built once, as _POLL_ROW: each batch's ballots so far, its choices, its counters.
_USAGE = _usage_query()
_INSERT_CHOICE = cast_table(PollChoice).insert()
_OPTION = cast_table(PollOption)
_COUNT_UP = (
    _OPTION.update()
    .where(_OPTION.c.id == bindparam("option"))
    .values(vote_count=_OPTION.c.vote_count + bindparam("delta"))
)


@dataclass(slots=True)
class _Batch:
    """A batch being judged: each vote's outcome (None while it may still land), and what the
    phases found out about it."""

    votes: Sequence[VoteRequest]
    outcomes: list[VoteReceipt | IM2Error | None]
    polls: dict[tuple[str, int, str], _OpenPoll | IM2Error] = field(default_factory=dict)
    chosen: list[list[int]] = field(default_factory=list)
    acting: list[tuple[ParticipantRead, Risk] | None] = field(default_factory=list)
    days: list[str] = field(default_factory=list)

    def pending(self) -> list[int]:
        return [i for i, outcome in enumerate(self.outcomes) if outcome is None]

    def poll_of(self, i: int) -> _OpenPoll:
        v = self.votes[i]
        poll = self.polls[(v.slug, v.activity_id, v.locale)]
        assert not isinstance(poll, IM2Error)
        return poll

    def who(self, i: int) -> tuple[ParticipantRead, Risk]:
        acting = self.acting[i]
        assert acting is not None
        return acting


def cast_votes(session: Session, votes: Sequence[VoteRequest]) -> VoteBatch:
    """Judge and write a batch of votes; each outcome is a receipt or the error of the rule
    the vote broke (it then writes nothing). Votes are judged in order, so two votes of one
    device in a batch behave as they would one after the other. Should another transaction
    win a race for a ballot (PostgreSQL), the insert fails and the caller retries each vote
    alone (`Database.group_commit`), where the loser gets its 409."""
    n = len(votes)
    batch = _Batch(votes=votes, outcomes=[None] * n, chosen=[[] for _ in votes])
    batch.acting = [None] * n
    batch.days = [""] * n
    _open_polls(session, batch)
    for workspace_id, indexes in _by_workspace(batch).items():
        _join(session, batch, workspace_id=workspace_id, indexes=indexes)
    ballots, casting = _ballots(session, batch)
    if not casting:
        return VoteBatch(outcomes=_settled(batch.outcomes), results={})
    ids = _insert_ballots(session, batch, ballots)
    _write_choices_and_events(session, batch, ids=ids, ballots=ballots, casting=casting)
    touched: dict[int, PollResults] = {}
    for i in casting:
        poll = batch.poll_of(i)
        if poll.activity_id not in touched:
            touched[poll.activity_id] = read_results(
                session, activity_id=poll.activity_id, title=poll.title, settings=poll.settings
            )
    for ballot_id, ballot, i in zip(ids, ballots, casting, strict=True):
        poll = batch.poll_of(i)
        batch.outcomes[i] = VoteReceipt(
            ballot_id=ballot_id,
            activity_id=poll.activity_id,
            options=sorted(set(votes[i].option_ids)),
            held_for_review=bool(ballot["held"]),
            results=touched[poll.activity_id] if poll.visible else None,
        )
    return VoteBatch(outcomes=_settled(batch.outcomes), results=touched)


def _open_polls(session: Session, batch: _Batch) -> None:
    """Each poll of the batch, read once: closed, unknown or empty-handed votes fail here."""
    for i, v in enumerate(batch.votes):
        key = (v.slug, v.activity_id, v.locale)
        if key not in batch.polls:
            with use_locale(v.locale):
                batch.polls[key] = _open_poll(session, v.slug, v.activity_id)
        poll = batch.polls[key]
        if isinstance(poll, IM2Error):
            batch.outcomes[i] = poll
        elif not v.option_ids:
            with use_locale(v.locale):
                batch.outcomes[i] = InvalidInput(_("Choose an option first."), field="options")


def _by_workspace(batch: _Batch) -> dict[int, list[int]]:
    by_workspace: dict[int, list[int]] = {}
    for i in batch.pending():
        by_workspace.setdefault(batch.poll_of(i).public.workspace_id, []).append(i)
    return by_workspace


def _check_choice(batch: _Batch, i: int, *, known: bool, picked: list[int]) -> IM2Error | None:
    """The consent a first action needs, and the options this poll offers and allows."""
    poll = batch.poll_of(i)
    with use_locale(batch.votes[i].locale):
        if not known and not batch.votes[i].consented:
            return InvalidInput(
                _("Please agree to how your data is used before taking part."), field="consent"
            )
        if not known and poll.public.campaign.minors_gate:  # the age is asked on 我的 first
            return InvalidInput(_(participation.AGE_FIRST), field="age")
        if not poll.options.issuperset(picked):
            return InvalidInput(_("That is not an option of this poll."), field="options")
        if len(picked) > poll.settings.choice_limit:
            return InvalidInput(
                _("Choose at most {n} options.").format(n=poll.settings.choice_limit),
                field="options",
            )
    return None


def _join(session: Session, batch: _Batch, *, workspace_id: int, indexes: list[int]) -> None:
    """Participants of one workspace's votes: who exists, who joins now (first action, with
    consent), in vote order, and the risk of each vote."""
    votes = batch.votes
    devices = sorted({votes[i].visitor.device_id for i in indexes})
    known = participation.find_participants(session, workspace_id=workspace_id, device_ids=devices)
    joining: dict[str, int] = {}  # device -> the vote that creates its participant
    accepted: list[int] = []
    for i in indexes:
        device = votes[i].visitor.device_id
        picked = list(dict.fromkeys(votes[i].option_ids))  # the same option twice counts once
        error = _check_choice(batch, i, known=device in known or device in joining, picked=picked)
        if error is None and batch.poll_of(i).public.campaign.eligible_segment_id is not None:
            error = participation.eligibility_error(
                session,
                workspace_id=workspace_id,
                campaign=batch.poll_of(i).public.campaign,
                participant_id=known[device].id if device in known else None,
                device_id=device,
                now=votes[i].now,
            )
        if error is not None:
            batch.outcomes[i] = error
            continue
        batch.chosen[i] = picked
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
            # Over the limit is all the score asks; the batch's own joins only add to it.
            at_most=max(votes[i].identities_per_ip_hour for i in accepted) + 1,
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
                campaign_id=batch.poll_of(i).public.campaign.id,
                now=votes[i].now,
                language=votes[i].locale,
                default_language=batch.poll_of(i).public.campaign.default_language.value,
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
        batch.acting[i] = (participant, risk)


def _usage(session: Session, batch: _Batch) -> dict[tuple[int, int, str], tuple[int, int]]:
    """(ballots, highest seq) already stored per (poll, participant, day) of the batch."""
    per_poll: dict[int, list[int]] = {}
    for i in batch.pending():
        poll = batch.poll_of(i)
        batch.days[i] = (
            activities.local_day(poll.public.campaign, batch.votes[i].now)
            if poll.settings.daily
            else ONCE
        )
        per_poll.setdefault(poll.activity_id, []).append(i)
    usage: dict[tuple[int, int, str], tuple[int, int]] = {}
    for activity_id, indexes in per_poll.items():
        participants = sorted({batch.who(i)[0].id for i in indexes})
        days = sorted({batch.days[i] for i in indexes})
        rows = session.execute(
            _USAGE, {"activity_id": activity_id, "participants": participants, "days": days}
        ).all()
        for pid, day, count, top in rows:
            usage[(activity_id, int(pid), str(day))] = (int(count), int(top or 0))
    return usage


def _used_up(poll: _OpenPoll) -> Conflict:
    if poll.settings.daily:
        return Conflict(
            _("You have used all {n} votes for today; come back tomorrow.").format(
                n=poll.settings.votes_per_day
            ),
            field="options",
        )
    return Conflict(_("You have already voted in this poll."), field="options")


def _ballots(session: Session, batch: _Batch) -> tuple[list[dict[str, Any]], list[int]]:
    """The ballot rows to write, and the votes they belong to: the one-per-person (or N a day)
    rule against what is stored and what this batch already cast."""
    usage = _usage(session, batch)
    ballots: list[dict[str, Any]] = []
    casting: list[int] = []
    for i in batch.pending():
        v, poll = batch.votes[i], batch.poll_of(i)
        participant, risk = batch.who(i)
        slot = (poll.activity_id, participant.id, batch.days[i])
        used, top = usage.get(slot, (0, 0))
        if used >= poll.settings.allowance:
            with use_locale(v.locale):
                batch.outcomes[i] = _used_up(poll)
            continue
        usage[slot] = (used + 1, top + 1)
        ballots.append(
            {
                "activity_id": poll.activity_id,
                "participant_id": participant.id,
                "day": batch.days[i],
                "seq": top + 1 if poll.settings.daily else 1,
                "created_at": v.now,
                "held": risk.held(v.risk_threshold),
                "risk_reasons": "; ".join(risk.reasons)[:500] or None,
            }
        )
        casting.append(i)
    return ballots, casting


def _insert_ballots(session: Session, batch: _Batch, ballots: list[dict[str, Any]]) -> list[int]:
    table = cast_table(PollBallot)
    try:
        return insert_ids(session, table, ballots)
    except IntegrityError as exc:
        if len(batch.votes) == 1:
            with use_locale(batch.votes[0].locale):
                if _foreign_key_failed(exc):  # the poll was deleted while this vote was judged
                    raise NotFound(_("There is no such activity in this campaign.")) from None
                raise Conflict(_("You have already voted in this poll."), field="options") from None
        raise


def _foreign_key_failed(exc: IntegrityError) -> bool:
    """A foreign key (not the one-ballot unique index) refused the insert: PostgreSQL's SQLSTATE
    23503, SQLite's message."""
    return getattr(exc.orig, "sqlstate", None) == "23503" or "FOREIGN KEY" in str(exc.orig)


def _write_choices_and_events(
    session: Session,
    batch: _Batch,
    *,
    ids: list[int],
    ballots: list[dict[str, Any]],
    casting: list[int],
) -> None:
    """Each ballot's choices, the option counters of the ballots not held, and one
    `vote.cast` event per ballot."""
    choices: list[dict[str, int]] = []
    deltas: dict[int, int] = {}
    events: list[dict[str, object]] = []
    for ballot_id, ballot, i in zip(ids, ballots, casting, strict=True):
        v, poll = batch.votes[i], batch.poll_of(i)
        participant, risk = batch.who(i)
        for option_id in batch.chosen[i]:
            choices.append({"ballot_id": ballot_id, "option_id": option_id})
            if not ballot["held"]:
                deltas[option_id] = deltas.get(option_id, 0) + 1
        events.append(
            events_service.event_row(
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
    connection = session.connection()
    connection.execute(_INSERT_CHOICE, choices)
    if deltas:
        # One atomic UPDATE per option: concurrent ballots never lose an increment.
        connection.execute(
            _COUNT_UP, [{"option": o, "delta": d} for o, d in sorted(deltas.items())]
        )
    events_service.record_events(session, events)


def _settled(outcomes: list[VoteReceipt | IM2Error | None]) -> list[VoteReceipt | IM2Error]:
    settled = [o for o in outcomes if o is not None]
    if len(settled) != len(outcomes):
        raise RuntimeError("a vote of the batch was left without an outcome")
    return settled

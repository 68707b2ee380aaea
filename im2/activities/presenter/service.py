"""Presenter mode: join codes and what each format's big screen shows.

A join code is six digits, one per activity, made the first time someone opens its presenter.
Codes are unique in the table; a code whose campaign is archived, or ended more than
`REUSE_AFTER` ago, may be handed to a new activity when the draw lands on it (the space of
900,000 codes never runs out, and a code never points at two live activities).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.draw import reads as draw_reads
from im2.activities.formats.draw.schemas import DrawResults
from im2.activities.formats.poll import service as poll
from im2.activities.formats.poll.schemas import PollResults
from im2.activities.formats.qa import service as qa
from im2.activities.formats.qa.schemas import QuestionRead
from im2.activities.formats.quiz import reports as quiz
from im2.activities.formats.quiz.schemas import LeaderRow, QuizResults
from im2.activities.formats.ugc import service as ugc
from im2.activities.formats.ugc.schemas import EntryRead, EntryStatus
from im2.activities.models import Activity
from im2.activities.presenter.models import JoinCode
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead, CampaignStatus
from im2.errors import Conflict, NotFound
from im2.i18n import _
from im2.masking import mask_all, masked_for, shown_name
from im2.participation import service as participation
from im2.workspaces.schemas import Actor

CODE_DIGITS = 6
REUSE_AFTER = timedelta(days=30)
PRESENTABLE = (
    ActivityKind.POLL,
    ActivityKind.QUIZ,
    ActivityKind.QA,
    ActivityKind.UGC,
    ActivityKind.DRAW,
)
# What a screen shows at most: a wall readable from the back of the room.
TOP_QUESTIONS = 12
TOP_PLAYERS = 10
WALL_ENTRIES = 24
SHOWN_WINNERS = 12  # two columns of six fit a 16:9 and a 4:3 screen


def random_code() -> str:
    """Six digits, never starting with 0 (people drop a leading zero when they type)."""
    low = 10 ** (CODE_DIGITS - 1)
    return str(low + secrets.randbelow(9 * low))


# --- join codes --------------------------------------------------------------------------------


def get_join_code(session: Session, *, activity_id: int) -> str | None:
    return session.scalar(select(JoinCode.code).where(JoinCode.activity_id == activity_id))


def _reusable(session: Session, holder: JoinCode, now: datetime) -> bool:
    row = session.get(Activity, holder.activity_id)
    found = row and campaigns.get_public_campaign_by_id(session, campaign_id=row.campaign_id)
    if not found:
        return True
    campaign = found.campaign
    if campaign.status is CampaignStatus.ARCHIVED:
        return True
    return campaign.status is CampaignStatus.ENDED and (
        campaign.ends_at is None or campaign.ends_at + REUSE_AFTER <= now
    )


def do_join_code(
    session: Session,
    *,
    activity: ActivityRead,
    workspace_id: int,
    now: datetime,
    draw: Callable[[], str] = random_code,
) -> str:
    """The activity's join code, made if it has none. Idempotent, and safe when two requests
    make it at once: the unique keys decide, and the loser reads the winner's code."""
    existing = get_join_code(session, activity_id=activity.id)
    if existing is not None:
        return existing
    for _attempt in range(20):
        code = draw()
        holder = session.scalar(select(JoinCode).where(JoinCode.code == code))
        if holder is not None:
            if not _reusable(session, holder, now):
                continue
            session.delete(holder)
            session.flush()
        try:
            with session.begin_nested():
                session.add(
                    JoinCode(
                        code=code,
                        workspace_id=workspace_id,
                        activity_id=activity.id,
                        created_at=now,
                    )
                )
        except IntegrityError:
            # Another request gave this activity its code, or took this code, meanwhile.
            existing = get_join_code(session, activity_id=activity.id)
            if existing is not None:
                return existing
            continue
        return code
    raise Conflict(_("No free join code was found; please try again."))


@dataclass(frozen=True, slots=True)
class JoinTarget:
    slug: str
    kind: ActivityKind
    activity_id: int


def find_join_target(session: Session, *, code: str) -> JoinTarget:
    """Where `/j/<code>` leads: the activity's public page, if the public may see it."""
    found = session.scalar(select(JoinCode).where(JoinCode.code == code.strip()))
    row = found and session.get(Activity, found.activity_id)
    if not row:
        raise NotFound(_("There is no activity with this code."))
    ref = campaigns.get_public_campaign_by_id(session, campaign_id=row.campaign_id)
    if ref is None or ref.campaign.status not in activities.PUBLIC_STATUSES:
        raise NotFound(_("There is no activity with this code."))
    return JoinTarget(slug=ref.campaign.slug, kind=ActivityKind(row.kind), activity_id=row.id)


# --- what each screen shows --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollStage:
    results: PollResults


@dataclass(frozen=True, slots=True)
class QuizStage:
    results: QuizResults
    leaders: list[LeaderRow]
    seconds: int  # the countdown shown with each question


@dataclass(frozen=True, slots=True)
class QaStage:
    questions: list[QuestionRead]
    total: int


@dataclass(frozen=True, slots=True)
class UgcStage:
    entries: list[EntryRead]
    total: int


@dataclass(frozen=True, slots=True)
class Winner:
    name: str
    prize: str


@dataclass(frozen=True, slots=True)
class DrawStage:
    results: DrawResults
    winners: list[Winner]  # the first SHOWN_WINNERS, in the order they won
    more: int  # winners not shown


@dataclass(frozen=True, slots=True)
class Stage:
    activity: ActivityRead
    campaign: CampaignRead
    show: PollStage | QuizStage | QaStage | UgcStage | DrawStage


def load_presentable(session: Session, *, actor: Actor, activity_id: int) -> ActivityRead:
    activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
    if activity.kind not in PRESENTABLE:
        raise NotFound(_("This activity has no presenter mode."))
    return activity


def stage(session: Session, *, actor: Actor, activity_id: int) -> Stage:
    """What the big screen of an activity shows now (for console users who may read it)."""
    activity = load_presentable(session, actor=actor, activity_id=activity_id)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    row = activities.load_activity(session, actor=actor, activity_id=activity_id)
    # Participants' names on the screen are masked for console users without people:read.
    masked = masked_for(actor)
    show: PollStage | QuizStage | QaStage | UgcStage | DrawStage
    if activity.kind is ActivityKind.POLL:
        show = PollStage(results=poll.load_results(session, activity_id=row.id))
    elif activity.kind is ActivityKind.QUIZ:
        settings = activity.settings
        show = QuizStage(
            results=quiz.results(session, activity=row),
            leaders=mask_all(
                quiz.leaderboard(session, activity=row, limit=TOP_PLAYERS).rows,
                masked=masked,
                names=("name",),
            ),
            seconds=int(settings.get("bonus_seconds", 20)) if settings.get("time_bonus") else 20,
        )
    elif activity.kind is ActivityKind.QA:
        board = qa.load_board(session, activity_id=row.id, moderator=False)
        show = QaStage(
            questions=mask_all(board.questions[:TOP_QUESTIONS], masked=masked),
            total=len(board.questions),
        )
    elif activity.kind is ActivityKind.UGC:
        approved = [
            ugc.entry_read(e)
            for e in ugc.entries_of(session, activity_id=row.id, statuses=(EntryStatus.APPROVED,))
        ]
        approved.sort(key=lambda e: (-e.votes, e.id))
        show = UgcStage(
            entries=mask_all(approved[:WALL_ENTRIES], masked=masked), total=len(approved)
        )
    else:
        results = draw_reads.draw_results(session, actor=actor, activity_id=row.id)
        winners = [
            Winner(
                name=shown_name(
                    participation.get_profile(session, participant_id=w.participant_id).nickname,
                    masked=masked,
                )
                or _("Lucky number {n}").format(n=w.entry_id),
                prize=w.prize,
            )
            for w in results.winners[:SHOWN_WINNERS]
        ]
        more = len(results.winners) - len(winners)
        show = DrawStage(results=results, winners=winners, more=more)
    return Stage(activity=activity, campaign=campaign, show=show)

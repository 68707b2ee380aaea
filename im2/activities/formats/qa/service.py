"""Live Q&A: participants ask (text, optional nickname) and upvote; the brand approves, hides,
pins and marks questions answered; with pre-moderation a question is shown only once approved.

"One upvote per person per question" is a unique index, so two racing requests from one person
cannot both land; the question's counter moves in the upvote's own transaction. A risky action
(see `join_and_assess`) is kept but held: a held question waits in the moderation queue, a held
upvote is left out of the count until a moderator counts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import (
    acting_event,
    console_activity,
    create_with,
    update_texts,
)
from im2.activities.formats.qa.models import QaQuestion, QaUpvote
from im2.activities.formats.qa.schemas import (
    AskReceipt,
    Moderation,
    QuestionBoard,
    QuestionRead,
    QuestionSort,
    QuestionStatus,
    UpvoteReceipt,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.i18n import _
from im2.masking import mask_all, masked_for
from im2.participation.schemas import Visitor
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


def questions_channel(activity_id: int) -> str:
    """What the audience sees (approved questions): public pages and the presenter view."""
    return f"activity:{activity_id}:questions"


def queue_channel(activity_id: int) -> str:
    """What moderators see (every question, pending ones included)."""
    return f"activity:{activity_id}:qa-queue"


def _read(row: QaQuestion) -> QuestionRead:
    return QuestionRead.model_validate(row)


def _ordered(rows: list[QaQuestion], sort: QuestionSort) -> list[QaQuestion]:
    if sort is QuestionSort.TIME:
        key = sorted(rows, key=lambda q: (q.created_at, q.id), reverse=True)
    else:
        key = sorted(rows, key=lambda q: (-q.upvotes, q.created_at, q.id))
    # Pinned questions lead whatever the sort: the presenter is answering them now.
    return [q for q in key if q.pinned] + [q for q in key if not q.pinned]


def questions_of(
    session: Session, *, activity_id: int, statuses: tuple[QuestionStatus, ...]
) -> list[QaQuestion]:
    return list(
        session.scalars(
            select(QaQuestion).where(
                QaQuestion.activity_id == activity_id,
                QaQuestion.status.in_([s.value for s in statuses]),
            )
        )
    )


def board(
    session: Session, *, activity: Activity, sort: QuestionSort, moderator: bool
) -> QuestionBoard:
    statuses = (
        (QuestionStatus.PENDING, QuestionStatus.APPROVED, QuestionStatus.HIDDEN)
        if moderator
        else (QuestionStatus.APPROVED,)
    )
    rows = questions_of(session, activity_id=activity.id, statuses=statuses)
    pending = (
        sum(1 for q in rows if q.status == QuestionStatus.PENDING.value) if moderator else None
    )
    return QuestionBoard(
        activity_id=activity.id,
        title=activity.title,
        sort=sort,
        questions=[_read(q) for q in _ordered(rows, sort)],
        pending=pending,
    )


def load_board(session: Session, *, activity_id: int, moderator: bool) -> QuestionBoard:
    """A board for the live channels (who may see it is decided where it is shown)."""
    row = activities.load_any_activity(session, activity_id=activity_id, kind=ActivityKind.QA)
    return board(session, activity=row, sort=QuestionSort.VOTES, moderator=moderator)


def held_upvotes(session: Session, *, activity_id: int) -> dict[int, int]:
    rows = session.execute(
        select(QaUpvote.question_id, func.count())
        .join(QaQuestion, QaQuestion.id == QaUpvote.question_id)
        .where(QaQuestion.activity_id == activity_id, QaUpvote.held.is_(True))
        .group_by(QaUpvote.question_id)
    )
    return {int(qid): int(n) for qid, n in rows}


# --- console ----------------------------------------------------------------------------------


do_create_qa = create_with(ActivityKind.QA, lambda data: {"premoderation": data.premoderation})


do_update_qa = update_texts(
    ActivityKind.QA,
    lambda data: {"premoderation": data.premoderation} if data.premoderation is not None else None,
)


def moderation_board(
    session: Session, *, actor: Actor, activity_id: int, sort: QuestionSort
) -> QuestionBoard:
    row = console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.QA)
    found = board(session, activity=row, sort=sort, moderator=True)
    # Askers' nicknames are masked for roles without people:read (the questions stay whole).
    masked = masked_for(actor)
    return found.model_copy(update={"questions": mask_all(found.questions, masked=masked)})


def do_moderate(
    session: Session,
    *,
    actor: Actor,
    activity_id: int,
    question_id: int,
    action: Moderation,
    now: datetime,
) -> QuestionRead:
    """Approve, hide, pin or mark answered; pinning shows the question (it is being answered)."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.QA
    )
    question = session.get(QaQuestion, question_id)
    if question is None or question.activity_id != row.id:
        raise NotFound(_("There is no such question in this Q&A."))
    before = {"status": question.status, "pinned": question.pinned, "answered": question.answered}
    if action is Moderation.APPROVE:
        question.status = QuestionStatus.APPROVED.value
        _release_held_upvotes(session, question=question)
    elif action is Moderation.HIDE:
        question.status = QuestionStatus.HIDDEN.value
        question.pinned = False
    elif action is Moderation.PIN:
        question.status = QuestionStatus.APPROVED.value
        question.pinned = True
    elif action is Moderation.UNPIN:
        question.pinned = False
    elif action is Moderation.ANSWERED:
        question.answered = True
        question.pinned = False
    else:
        question.answered = False
    question.moderated_at = now
    after = {"status": question.status, "pinned": question.pinned, "answered": question.answered}
    record_audit(
        session,
        actor,
        f"question.{action.value}",
        ("question", question.id),
        question.text[:120],
        now=now,
        before=before,
        after=after,
        workspace_id=row.workspace_id,
    )
    session.flush()
    return _read(question)


def _release_held_upvotes(session: Session, *, question: QaQuestion) -> None:
    held = list(
        session.scalars(
            select(QaUpvote).where(QaUpvote.question_id == question.id, QaUpvote.held.is_(True))
        )
    )
    for upvote in held:
        upvote.held = False
    if held:
        session.execute(
            update(QaQuestion)
            .where(QaQuestion.id == question.id)
            .values(upvotes=QaQuestion.upvotes + len(held))
        )
        session.refresh(question)


def export_rows(session: Session, *, actor: Actor, activity_id: int) -> Iterator[dict[str, Any]]:
    row = console_activity(session, actor=actor, activity_id=activity_id, kind=ActivityKind.QA)
    held = held_upvotes(session, activity_id=row.id)
    questions = session.scalars(
        select(QaQuestion).where(QaQuestion.activity_id == row.id).order_by(QaQuestion.id)
    )
    for q in questions:
        yield {
            "question_id": q.id,
            "asked_at": q.created_at.isoformat(),
            "participant_id": q.participant_id,
            "nickname": q.nickname or "",
            "question": q.text,
            "status": q.status,
            "pinned": q.pinned,
            "answered": q.answered,
            "upvotes": q.upvotes,
            "held_upvotes": held.get(q.id, 0),
            "risk_reasons": q.risk_reasons or "",
        }


EXPORT_COLUMNS = [
    "question_id",
    "asked_at",
    "participant_id",
    "nickname",
    "question",
    "status",
    "pinned",
    "answered",
    "upvotes",
    "held_upvotes",
    "risk_reasons",
]


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QaView:
    """What one visitor sees of a Q&A."""

    campaign: CampaignRead
    activity: ActivityRead
    board: QuestionBoard
    open: bool
    closed_reason: str | None
    participant_id: int | None
    my_upvotes: frozenset[int]
    my_waiting: list[QuestionRead]  # my own questions a moderator has not approved yet


def view_qa(
    session: Session, *, slug: str, activity_id: int, device_id: str, sort: QuestionSort
) -> QaView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.QA
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    mine: frozenset[int] = frozenset()
    waiting: list[QuestionRead] = []
    if participant is not None:
        mine = frozenset(
            session.scalars(
                select(QaUpvote.question_id)
                .join(QaQuestion, QaQuestion.id == QaUpvote.question_id)
                .where(QaQuestion.activity_id == row.id, QaUpvote.participant_id == participant.id)
            )
        )
        waiting = [
            _read(q)
            for q in session.scalars(
                select(QaQuestion)
                .where(
                    QaQuestion.activity_id == row.id,
                    QaQuestion.participant_id == participant.id,
                    QaQuestion.status == QuestionStatus.PENDING.value,
                )
                .order_by(QaQuestion.id)
            )
        ]
    reason = activities.closed_reason(public.campaign)
    return QaView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        board=board(session, activity=row, sort=sort, moderator=False),
        open=reason is None,
        closed_reason=reason,
        participant_id=participant.id if participant else None,
        my_upvotes=mine,
        my_waiting=waiting,
    )


def presenter_board(session: Session, *, slug: str, activity_id: int) -> QaView:
    return view_qa(
        session, slug=slug, activity_id=activity_id, device_id="", sort=QuestionSort.VOTES
    )


def do_ask(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    text: str,
    nickname: str,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> AskReceipt:
    """Ask a question while the campaign is live; with pre-moderation (or a risky action) it
    waits for a moderator before anyone else sees it."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.QA
    )
    activities.require_open(public)
    text = " ".join(text.split())
    if len(text) < 2:
        raise InvalidInput(_("Write your question first."), field="text")
    if len(text) > 500:
        raise InvalidInput(_("At most {n} characters.").format(n=500), field="text")
    nickname = " ".join(nickname.split())[:40]
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
    waits = bool(row.settings.get("premoderation")) or acting.held
    question = QaQuestion(
        activity_id=row.id,
        participant_id=acting.participant.id,
        nickname=nickname or None,
        text=text,
        status=(QuestionStatus.PENDING if waits else QuestionStatus.APPROVED).value,
        created_at=now,
        risk_reasons="; ".join(acting.risk.reasons)[:500] or None,
    )
    session.add(question)
    session.flush()
    acting_event(
        session,
        EventKind.QUESTION_ASKED,
        activity=row,
        acting=acting,
        now=now,
        visitor=visitor,
        question_id=question.id,
    )
    return AskReceipt(question=_read(question), visible=not waits)


def do_upvote(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    question_id: int,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> UpvoteReceipt:
    """Upvote a shown question once; a second upvote by the same person is refused (409)."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.QA
    )
    activities.require_open(public)
    question = session.get(QaQuestion, question_id)
    if (
        question is None
        or question.activity_id != row.id
        or question.status != QuestionStatus.APPROVED.value
    ):
        raise NotFound(_("There is no such question in this Q&A."))
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
    try:
        with session.begin_nested():
            session.add(
                QaUpvote(
                    question_id=question.id,
                    participant_id=acting.participant.id,
                    created_at=now,
                    held=acting.held,
                )
            )
            session.flush()
    except IntegrityError:
        raise Conflict(_("You have already upvoted this question."), field="question") from None
    if not acting.held:
        session.execute(
            update(QaQuestion)
            .where(QaQuestion.id == question.id)
            .values(upvotes=QaQuestion.upvotes + 1)
        )
    acting_event(
        session,
        EventKind.QUESTION_UPVOTED,
        activity=row,
        acting=acting,
        now=now,
        visitor=visitor,
        question_id=question.id,
    )
    session.flush()
    session.refresh(question)
    return UpvoteReceipt(
        question_id=question.id, upvotes=question.upvotes, held_for_review=acting.held
    )

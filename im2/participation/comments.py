"""Comments and likes, with moderation: links and blocked words wait for the brand's review.

Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import N_, _
from im2.masking import masked_for, shown_name
from im2.participation.models import Comment, Like, Participant
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

MAX_LENGTH = 500
# Words that hold a comment for review rather than publish it (the brand decides).
BLOCKED_WORDS = ("加微信", "加v", "代购", "刷单", "赌博", "色情", "fuck", "shit")
LINK_RE = re.compile(r"(https?://|www\.|\.com\b|\.cn\b)", re.IGNORECASE)


class CommentStatus(StrEnum):
    VISIBLE = "visible"
    PENDING = "pending"
    HIDDEN = "hidden"


STATUS_LABELS = {
    CommentStatus.VISIBLE: N_("Visible"),
    CommentStatus.PENDING: N_("Waiting for review"),
    CommentStatus.HIDDEN: N_("Hidden"),
}
TARGETS = ("campaign", "activity", "ugc")


@dataclass(frozen=True, slots=True)
class CommentRead:
    id: int
    campaign_id: int
    target_type: str
    target_id: int
    participant_id: int
    author: str
    text: str
    status: CommentStatus
    flag_reason: str | None
    created_at: datetime
    likes: int


def _read(row: Comment, nickname: str | None) -> CommentRead:
    return CommentRead(
        id=row.id,
        campaign_id=row.campaign_id,
        target_type=row.target_type,
        target_id=row.target_id,
        participant_id=row.participant_id,
        author=nickname or f"#{row.participant_id}",
        text=row.text,
        status=CommentStatus(row.status),
        flag_reason=row.flag_reason,
        created_at=row.created_at,
        likes=row.likes,
    )


def flag_for(text: str) -> str | None:
    lowered = text.lower()
    if LINK_RE.search(lowered):
        return "link"
    for word in BLOCKED_WORDS:
        if word in lowered:
            return f"word: {word}"
    return None


def do_comment(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    target_type: str,
    target_id: int,
    participant_id: int,
    text: str,
    now: datetime,
) -> CommentRead:
    if target_type not in TARGETS:
        raise InvalidInput(_("Choose one of the options."), field="target")
    body = text.strip()
    if not body:
        raise InvalidInput(_("Write your comment first."), field="text")
    if len(body) > MAX_LENGTH:
        raise InvalidInput(_("At most {n} characters.").format(n=MAX_LENGTH), field="text")
    reason = flag_for(body)
    row = Comment(
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        target_type=target_type,
        target_id=target_id,
        participant_id=participant_id,
        text=body,
        status=(CommentStatus.PENDING if reason else CommentStatus.VISIBLE).value,
        flag_reason=reason,
        created_at=now,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        kind=EventKind.COMMENT_POSTED,
        occurred_at=now,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=participant_id,
        properties={"target_type": target_type, "target_id": target_id, "held": bool(reason)},
    )
    nickname = session.scalar(select(Participant.nickname).where(Participant.id == participant_id))
    return _read(row, nickname)


def list_comments(
    session: Session, *, target_type: str, target_id: int, limit: int = 50
) -> list[CommentRead]:
    """Visible comments, newest first (what participants see)."""
    rows = session.execute(
        select(Comment, Participant.nickname)
        .join(Participant, Participant.id == Comment.participant_id)
        .where(
            Comment.target_type == target_type,
            Comment.target_id == target_id,
            Comment.status == CommentStatus.VISIBLE.value,
        )
        .order_by(Comment.id.desc())
        .limit(limit)
    ).all()
    return [_read(c, n) for c, n in rows]


def do_like(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    target_type: str,
    target_id: int,
    participant_id: int,
    now: datetime,
) -> None:
    """Like once; a second like is a clear 409, not a second count."""
    if target_type == "comment":
        comment = session.get(Comment, target_id)
        if comment is None or comment.status != CommentStatus.VISIBLE.value:
            raise NotFound(_("Not found."))
    try:
        with session.begin_nested():
            session.add(
                Like(
                    participant_id=participant_id,
                    target_type=target_type,
                    target_id=target_id,
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        raise Conflict(_("You already like this.")) from None
    if target_type == "comment":
        session.execute(
            update(Comment).where(Comment.id == target_id).values(likes=Comment.likes + 1)
        )
    record_event(
        session,
        kind=EventKind.LIKE_GIVEN,
        occurred_at=now,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=participant_id,
        properties={"target_type": target_type, "target_id": target_id},
    )


def moderation_queue(
    session: Session, *, actor: Actor, campaign_id: int, status: CommentStatus | None
) -> list[CommentRead]:
    require(actor, Permission.READ_CAMPAIGNS)
    query = (
        select(Comment, Participant.nickname)
        .join(Participant, Participant.id == Comment.participant_id)
        .where(Comment.workspace_id == actor.workspace_id, Comment.campaign_id == campaign_id)
    )
    if status is not None:
        query = query.where(Comment.status == status.value)
    rows = session.execute(query.order_by(Comment.id.desc()).limit(200)).all()
    masked = masked_for(actor)  # authors' nicknames masked without people:read
    return [_read(c, shown_name(n, masked=masked)) for c, n in rows]


def do_moderate(
    session: Session, *, actor: Actor, comment_id: int, status: CommentStatus, now: datetime
) -> None:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = session.get(Comment, comment_id)
    if row is None or row.workspace_id != actor.workspace_id:
        raise NotFound(_("Not found."))
    before = row.status
    row.status = status.value
    record_audit(
        session,
        actor,
        "comment.moderate",
        ("comment", row.id),
        row.text[:80],
        now=now,
        before={"status": before},
        after={"status": status.value},
        workspace_id=row.workspace_id,
    )

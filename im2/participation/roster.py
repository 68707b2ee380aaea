"""Reads over a campaign's or workspace's participants: who joined through a campaign, how
many, the signals abuse checks compare, and the participants behind many devices at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from im2.participation.models import Participant
from im2.participation.schemas import ParticipantRead


@dataclass(frozen=True, slots=True)
class Join:
    participant_id: int
    referred_by: str | None  # the share code that brought them, if any
    channel: str | None
    joined_at: datetime


def list_joins(session: Session, *, workspace_id: int, campaign_id: int) -> list[Join]:
    """Everyone who first joined through this campaign, in join order."""
    rows = session.execute(
        select(
            Participant.id,
            Participant.referred_by,
            Participant.first_channel,
            Participant.created_at,
        )
        .where(
            Participant.workspace_id == workspace_id,
            Participant.first_campaign_id == campaign_id,
        )
        .order_by(Participant.id)
    ).all()
    return [Join(participant_id=r[0], referred_by=r[1], channel=r[2], joined_at=r[3]) for r in rows]


def count_participants(session: Session, *, workspace_id: int, campaign_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Participant)
            .where(
                Participant.workspace_id == workspace_id,
                Participant.first_campaign_id == campaign_id,
            )
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class Signals:
    """What abuse checks compare between two participants (e.g. an inviter and an invitee)."""

    participant_id: int
    device_id: str
    nickname: str | None
    first_ip: str | None
    user_agent: str | None
    referred_by: str | None
    first_campaign_id: int | None
    verified_email: str | None
    verified_phone: str | None
    created_at: datetime


def get_signals(
    session: Session, *, workspace_id: int, participant_ids: list[int]
) -> dict[int, Signals]:
    """The stored signals of these participants of one workspace, by id (missing ids left out)."""
    if not participant_ids:
        return {}
    rows = session.scalars(
        select(Participant).where(
            Participant.workspace_id == workspace_id,
            Participant.id.in_(sorted(set(participant_ids))),
        )
    )
    return {
        r.id: Signals(
            participant_id=r.id,
            device_id=r.device_id,
            nickname=r.nickname,
            first_ip=r.first_ip,
            user_agent=r.user_agent,
            referred_by=r.referred_by,
            first_campaign_id=r.first_campaign_id,
            verified_email=r.verified_email,
            verified_phone=r.verified_phone,
            created_at=r.created_at,
        )
        for r in rows
    }


_PARTICIPANT = cast(Table, Participant.__table__)
# Built once (a Core statement): every vote batch runs it, and building it cost more than
# running it.
_BY_DEVICES = select(
    _PARTICIPANT.c.id, _PARTICIPANT.c.device_id, _PARTICIPANT.c.nickname, _PARTICIPANT.c.created_at
).where(
    _PARTICIPANT.c.workspace_id == bindparam("workspace_id"),
    _PARTICIPANT.c.device_id.in_(bindparam("device_ids", expanding=True)),
)


def find_participants(
    session: Session, *, workspace_id: int, device_ids: list[str]
) -> dict[str, ParticipantRead]:
    """The existing participants behind these devices, in one query."""
    rows = session.execute(
        _BY_DEVICES, {"workspace_id": workspace_id, "device_ids": device_ids}
    ).all()
    return {
        device: ParticipantRead(
            id=pid,
            workspace_id=workspace_id,
            device_id=device,
            nickname=nickname,
            created_at=created_at,
            is_new=False,
        )
        for pid, device, nickname, created_at in rows
    }

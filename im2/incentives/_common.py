"""Checks every part of the incentives domain makes: the campaign and the participant belong to
the workspace in hand.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.db import Base
from im2.errors import NotFound
from im2.i18n import _
from im2.workspaces.schemas import Actor


def check_participant(session: Session, *, workspace_id: int, participant_id: int) -> None:
    """404 unless the participant exists in this workspace."""
    participants = Base.metadata.tables["participants"]
    found = session.scalar(
        select(participants.c.id).where(
            participants.c.id == participant_id, participants.c.workspace_id == workspace_id
        )
    )
    if found is None:
        raise NotFound(_("Participant not found."), field="participant_id")


def check_own_campaign(session: Session, *, actor: Actor, campaign_id: int) -> None:
    campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)  # 404 if not theirs


def campaign_is_theirs(session: Session, *, actor: Actor, campaign_id: int) -> bool:
    try:
        check_own_campaign(session, actor=actor, campaign_id=campaign_id)
    except NotFound:
        return False
    return True

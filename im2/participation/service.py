"""Finding or creating the participant behind a device, with consent; risk signals."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import InvalidInput
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.participation.models import Participant
from im2.participation.schemas import CONSENT_VERSION, ParticipantRead, Risk, Visitor

MIN_SECONDS_TO_ACT = 1.5


def _read(row: Participant, *, is_new: bool) -> ParticipantRead:
    return ParticipantRead(
        id=row.id,
        workspace_id=row.workspace_id,
        device_id=row.device_id,
        nickname=row.nickname,
        created_at=row.created_at,
        is_new=is_new,
    )


def get_participant(
    session: Session, *, workspace_id: int, device_id: str
) -> ParticipantRead | None:
    row = session.scalar(
        select(Participant).where(
            Participant.workspace_id == workspace_id, Participant.device_id == device_id
        )
    )
    return None if row is None else _read(row, is_new=False)


def do_join(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    visitor: Visitor,
    consented: bool,
    now: datetime,
) -> ParticipantRead:
    """The participant for this device, created on their first action (which needs consent)."""
    existing = get_participant(session, workspace_id=workspace_id, device_id=visitor.device_id)
    if existing is not None:
        return existing
    if not consented:
        raise InvalidInput(
            _("Please agree to how your data is used before taking part."), field="consent"
        )
    row = Participant(
        workspace_id=workspace_id,
        device_id=visitor.device_id,
        consent_version=CONSENT_VERSION,
        consent_at=now,
        created_at=now,
        first_ip=visitor.ip,
        user_agent=(visitor.user_agent or "")[:255] or None,
        first_campaign_id=campaign_id,
        first_channel=visitor.channel,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # The same device joined in a concurrent request: use that row.
        found = get_participant(session, workspace_id=workspace_id, device_id=visitor.device_id)
        assert found is not None
        return found
    record_event(
        session,
        kind=EventKind.PARTICIPANT_JOINED,
        occurred_at=now,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=row.id,
        channel=visitor.channel,
        referrer=visitor.referrer,
        properties={"consent_version": CONSENT_VERSION},
    )
    return _read(row, is_new=True)


def assess_risk(
    session: Session,
    *,
    workspace_id: int,
    participant: ParticipantRead,
    visitor: Visitor,
    seconds_on_page: float | None,
    identities_per_ip_hour: int,
    now: datetime,
) -> Risk:
    """Simple, explainable signals: many new identities from one IP, faster-than-human form
    submission, a new device acting without having seen the page. Each adds to a score capped
    at 1; no single signal reaches the default hold threshold (0.8), because one IP is often a
    whole venue or a carrier's NAT, and a fast thumb is not a crime."""
    score = 0.0
    reasons: list[str] = []
    if visitor.ip:
        recent = int(
            session.scalar(
                select(func.count())
                .select_from(Participant)
                .where(
                    Participant.workspace_id == workspace_id,
                    Participant.first_ip == visitor.ip,
                    Participant.created_at >= now - timedelta(hours=1),
                )
            )
            or 0
        )
        if recent > identities_per_ip_hour:
            score += 0.4
            reasons.append(f"{recent} new identities from this IP in the last hour")
    if seconds_on_page is not None and seconds_on_page < MIN_SECONDS_TO_ACT:
        score += 0.5
        reasons.append(f"form sent {seconds_on_page:.1f} s after the page was shown")
    if participant.is_new and seconds_on_page is None:
        score += 0.2
        reasons.append("new device acting without having seen the page")
    return Risk(score=min(score, 1.0), reasons=tuple(reasons))

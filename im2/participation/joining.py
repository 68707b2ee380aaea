"""Joining: finding or creating the participant behind a device on their first action, with
consent per purpose (and a guardian's for a child where the campaign asks the age), within the
campaign's eligible segment; one by one, or many at once for batched writes (the vote's group
commit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import Forbidden, InvalidInput
from im2.events.schemas import ActorType, EventKind
from im2.events.service import event_row, record_event, record_events
from im2.i18n import N_, _, get_locale, use_locale
from im2.participation.models import Participant
from im2.participation.roster import find_participants
from im2.participation.schemas import (
    CONSENT_VERSION,
    ParticipantRead,
    Visitor,
)
from im2.people import service as people
from im2.people.consent import service as consents
from im2.people.consent.schemas import ConsentChannel, ConsentTextRead, GivenBy, Purpose
from im2.people.schemas import IdentityKind
from im2.people.segments import service as segments


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


AGE_FIRST = N_(
    "This campaign asks your age before you take part: please join on your page (我的) first."
)


@dataclass(frozen=True, slots=True)
class JoinConsent:
    """What the join form of the participant's page collected besides "taking part": the
    optional purposes ticked, the versions of the texts shown, and, where the campaign has the
    minors gate, the age answer and the guardian's confirmation."""

    language: str
    versions: dict[Purpose, str]
    optional: frozenset[Purpose] = frozenset()
    # The campaign's default language: the texts shown when the brand wrote none in `language`.
    fallback_language: str | None = None
    under_14: bool | None = None  # None: the question was not answered
    guardian: bool = False


NOT_ELIGIBLE = N_(
    "This campaign is open to a selected group of people only, and you are not in it. Thank "
    "you for your interest!"
)


def eligibility_error(
    session: Session,
    *,
    workspace_id: int,
    campaign: CampaignRead,
    participant_id: int | None,
    device_id: str,
    now: datetime,
) -> Forbidden | None:
    """Why this visitor may not take part in the campaign (only its eligible segment's people
    may), or None. Their person is their participant's, else their device's (a device imported
    or seen before); a visitor nobody knows is in no segment."""
    if campaign.eligible_segment_id is None:
        return None
    person_id = (
        people.person_of_participant(
            session, workspace_id=workspace_id, participant_id=participant_id
        )
        if participant_id is not None
        else people.find_person(
            session, workspace_id=workspace_id, kind=IdentityKind.DEVICE, value=device_id
        )
    )
    member = segments.is_member(
        session,
        workspace_id=workspace_id,
        segment_id=campaign.eligible_segment_id,
        version=campaign.eligible_segment_version,
        person_id=person_id,
        now=now,
    )
    return None if member else Forbidden(_(NOT_ELIGIBLE))


def _check_eligible(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    participant_id: int | None,
    device_id: str,
    now: datetime,
) -> None:
    found = campaigns.get_public_campaign_by_id(session, campaign_id=campaign_id)
    if found is None or found.campaign.eligible_segment_id is None:
        return
    refused = eligibility_error(
        session,
        workspace_id=workspace_id,
        campaign=found.campaign,
        participant_id=participant_id,
        device_id=device_id,
        now=now,
    )
    if refused is not None:
        raise refused


def minors_gate(session: Session, *, campaign_id: int) -> bool:
    found = campaigns.get_public_campaign_by_id(session, campaign_id=campaign_id)
    return found is not None and found.campaign.minors_gate


def _check_minors(session: Session, *, campaign_id: int, consent: JoinConsent | None) -> bool:
    """Whether the participant is a child under 14 joining with a guardian's consent; raises
    (nothing is written yet) when the campaign asks the age and it was not answered, or a child
    has no guardian's confirmation (PIPL Art. 31)."""
    if not minors_gate(session, campaign_id=campaign_id):
        return False
    if consent is None or consent.under_14 is None:
        raise InvalidInput(_(AGE_FIRST), field="age")
    if consent.under_14 and not consent.guardian:
        raise InvalidInput(
            _("A child under 14 takes part only with a parent's or guardian's consent."),
            field="guardian",
        )
    return consent.under_14


def _box_text(
    session: Session, *, workspace_id: int, campaign_id: int, default_language: str | None = None
) -> ConsentTextRead:
    """The "taking part" text an activity's consent box shows on a page in this language
    (`consents.taking_part_text`, with the campaign's default language as the fallback)."""
    if default_language is None:
        found = campaigns.get_public_campaign_by_id(session, campaign_id=campaign_id)
        default_language = None if found is None else found.campaign.default_language.value
    return consents.taking_part_text(
        session, workspace_id=workspace_id, default_language=default_language
    )


def _shown(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    purpose: Purpose,
    consent: JoinConsent | None,
) -> ConsentTextRead:
    """The text the participant agreed to: the version the page showed, or (an activity's
    consent box) the workspace's current "taking part" text, as the box showed it."""
    if consent is None:
        return _box_text(session, workspace_id=workspace_id, campaign_id=campaign_id)
    version = consent.versions.get(purpose)
    found = (
        None
        if version is None
        else consents.find_text(
            session,
            workspace_id=workspace_id,
            purpose=purpose,
            language=consent.language,
            version=version,
            fallback=consent.fallback_language,
        )
    )
    if found is None:
        raise InvalidInput(
            _("The text you agreed to has changed; please read it again."), field=purpose.value
        )
    return found


def do_join(
    session: Session,
    *,
    workspace_id: int,
    campaign_id: int,
    visitor: Visitor,
    consented: bool,
    now: datetime,
    consent: JoinConsent | None = None,
) -> ParticipantRead:
    """The participant for this device, created on their first action (which needs consent to
    take part; `consent` adds what the participant's page asked besides). The consents are
    recorded per purpose with the text versions shown. Where the campaign has the minors gate,
    nothing is stored without the age answer, nor for a child without a guardian's consent."""
    existing = get_participant(session, workspace_id=workspace_id, device_id=visitor.device_id)
    _check_eligible(
        session,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        participant_id=None if existing is None else existing.id,
        device_id=visitor.device_id,
        now=now,
    )
    if existing is not None:
        return existing
    if not consented:
        raise InvalidInput(
            _("Please agree to how your data is used before taking part."), field="consent"
        )
    under_14 = _check_minors(session, campaign_id=campaign_id, consent=consent)
    texts = {
        p: _shown(
            session,
            workspace_id=workspace_id,
            campaign_id=campaign_id,
            purpose=p,
            consent=consent,
        )
        for p in (Purpose.TAKING_PART, *sorted(consent.optional if consent else ()))
    }
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
        referred_by=visitor.referrer,
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
    person_id = people.do_attach_participant(
        session, workspace_id=workspace_id, participant_id=row.id, device_id=row.device_id, now=now
    )
    channel = ConsentChannel.ACTION if consent is None else ConsentChannel.MY_PAGE
    for purpose, text in texts.items():
        consents.do_grant(
            session,
            workspace_id=workspace_id,
            person_id=person_id,
            participant_id=row.id,
            purpose=purpose,
            text=text,
            channel=channel,
            given_by=GivenBy.GUARDIAN if under_14 else GivenBy.SELF,
            under_14=under_14,
            now=now,
        )
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


@dataclass(frozen=True, slots=True)
class NewJoin:
    visitor: Visitor
    campaign_id: int
    now: datetime
    # The language of the page the consent box was read on (None: the current locale); a
    # group commit joins the votes of pages in several languages at once.
    language: str | None = None
    # The campaign's default language as it stores it (the texts' fallback); None: looked up.
    default_language: str | None = None


def _join_statement(insert: Callable[[Table], Any]) -> Any:
    table = cast(Table, Participant.__table__)
    # The new rows come back with their device, so their order does not matter: without
    # `sort_by_parameter_order` SQLite gets one multi-row INSERT (with it, one per row).
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["workspace_id", "device_id"])
        .returning(table.c.id, table.c.device_id)
    )


# Built once per dialect (SQLite's, PostgreSQL's): every vote batch runs one.
_JOIN = (_join_statement(sqlite_insert), _join_statement(pg_insert))


def do_join_many(
    session: Session, *, workspace_id: int, joins: list[NewJoin]
) -> dict[str, ParticipantRead]:
    """`do_join` for many new devices at once (each has consented): one multi-row insert and
    one for their `participant.joined` events. A device that another transaction joined in
    the meantime is returned as that participant (is_new=False) and gets no event."""
    if not joins:
        return {}
    statement = _JOIN[session.get_bind().dialect.name == "postgresql"]
    rows = [
        {
            "workspace_id": workspace_id,
            "device_id": j.visitor.device_id,
            "nickname": None,
            "consent_version": CONSENT_VERSION,
            "consent_at": j.now,
            "created_at": j.now,
            "first_ip": j.visitor.ip,
            "user_agent": (j.visitor.user_agent or "")[:255] or None,
            "first_campaign_id": j.campaign_id,
            "first_channel": j.visitor.channel,
            "referred_by": j.visitor.referrer,
        }
        for j in joins
    ]
    connection = session.connection()
    created = {str(device): int(pid) for pid, device in connection.execute(statement, rows)}
    joined: dict[str, ParticipantRead] = {}
    events = []
    for j in joins:
        device = j.visitor.device_id
        pid = created.get(device)
        if pid is None:
            continue
        joined[device] = ParticipantRead(
            id=pid,
            workspace_id=workspace_id,
            device_id=device,
            nickname=None,
            created_at=j.now,
            is_new=True,
        )
        events.append(
            event_row(
                kind=EventKind.PARTICIPANT_JOINED,
                occurred_at=j.now,
                workspace_id=workspace_id,
                campaign_id=j.campaign_id,
                activity_id=None,
                actor_id=pid,
                channel=j.visitor.channel,
                referrer=j.visitor.referrer,
                properties={"consent_version": CONSENT_VERSION},
            )
        )
    record_events(session, events)
    persons = people.do_attach_participants(
        session,
        workspace_id=workspace_id,
        joined=[(p.id, device) for device, p in joined.items()],
        now=max(j.now for j in joins),
    )
    # Each agreed to the "taking part" text the activity's consent box showed: one read per
    # campaign and page language of the batch (usually one), not per join.
    page_of = {j.visitor.device_id: (j.campaign_id, j.language or get_locale()) for j in joins}
    defaults = {j.campaign_id: j.default_language for j in joins}
    for campaign_id, language in sorted({page_of[d] for d in joined}):
        with use_locale(language):
            text = _box_text(
                session,
                workspace_id=workspace_id,
                campaign_id=campaign_id,
                default_language=defaults[campaign_id],
            )
        consents.do_grant_many(
            session,
            workspace_id=workspace_id,
            grants=[
                (persons[p.id], p.id, p.created_at)
                for d, p in joined.items()
                if p.id in persons and page_of[d] == (campaign_id, language)
            ],
            purpose=Purpose.TAKING_PART,
            text=text,
            channel=ConsentChannel.ACTION,
        )
    raced = [j.visitor.device_id for j in joins if j.visitor.device_id not in created]
    if raced:
        joined.update(find_participants(session, workspace_id=workspace_id, device_ids=raced))
    return joined

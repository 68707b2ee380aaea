"""Finding or creating the participant behind a device, with consent; risk signals."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.crypto import ip_hashes
from im2.errors import Forbidden, InvalidInput, NotFound, TooManyAttempts
from im2.events.schemas import ActorType, EventKind
from im2.events.service import event_row, record_event, record_events
from im2.i18n import N_, _, get_locale
from im2.participation.models import Participant, VerificationCode
from im2.participation.schemas import (
    CONSENT_VERSION,
    ParticipantProfile,
    ParticipantRead,
    Risk,
    Visitor,
)
from im2.people import service as people
from im2.people.consent import service as consents
from im2.people.consent.schemas import ConsentChannel, ConsentTextRead, GivenBy, Purpose
from im2.people.schemas import IdentityKind
from im2.people.segments import service as segments

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


def _shown(
    session: Session, *, workspace_id: int, purpose: Purpose, consent: JoinConsent | None
) -> ConsentTextRead:
    """The text the participant agreed to: the version the page showed, or (an activity's
    consent box) IM2's own "taking part" text in the page's language."""
    if consent is None:
        return consents.shipped_text(purpose, get_locale())
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
        p: _shown(session, workspace_id=workspace_id, purpose=p, consent=consent)
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
    recent = None
    if visitor.ip:
        recent = identities_from_ips(
            session, workspace_id=workspace_id, ips=[visitor.ip], since=now - RISK_IP_WINDOW
        ).get(visitor.ip, 0)
    return score_risk(
        identities_from_ip=recent,
        is_new=participant.is_new,
        seconds_on_page=seconds_on_page,
        identities_per_ip_hour=identities_per_ip_hour,
    )


RISK_IP_WINDOW = timedelta(hours=1)


def identities_from_ips(
    session: Session, *, workspace_id: int, ips: list[str], since: datetime
) -> dict[str, int]:
    """How many participants first came from each of these IPs since `since` (one query, by
    the IPs' keyed hashes: the IPs themselves are encrypted)."""
    by_hash = {h: ip for ip in ips for h in ip_hashes(ip)}
    rows = session.execute(
        select(Participant.first_ip_hash, func.count())
        .where(
            Participant.workspace_id == workspace_id,
            Participant.first_ip_hash.in_(by_hash),
            Participant.created_at >= since,
        )
        .group_by(Participant.first_ip_hash)
    ).all()
    counts: dict[str, int] = {}
    for found, n in rows:
        ip = by_hash[str(found)]
        counts[ip] = counts.get(ip, 0) + int(n)
    return counts


def score_risk(
    *,
    identities_from_ip: int | None,
    is_new: bool,
    seconds_on_page: float | None,
    identities_per_ip_hour: int,
) -> Risk:
    """The score of `assess_risk` from its signals (`identities_from_ip`: new identities from
    the visitor's IP in the last hour, None without an IP), for callers that count in bulk."""
    score = 0.0
    reasons: list[str] = []
    if identities_from_ip is not None and identities_from_ip > identities_per_ip_hour:
        score += 0.4
        reasons.append(f"{identities_from_ip} new identities from this IP in the last hour")
    if seconds_on_page is not None and seconds_on_page < MIN_SECONDS_TO_ACT:
        score += 0.5
        reasons.append(f"form sent {seconds_on_page:.1f} s after the page was shown")
    if is_new and seconds_on_page is None:
        score += 0.2
        reasons.append("new device acting without having seen the page")
    return Risk(score=min(score, 1.0), reasons=tuple(reasons))


# --- profile and verified identity -------------------------------------------------------------

CODE_LIFETIME = timedelta(minutes=10)
CODE_ATTEMPTS = 5
CODES_PER_WINDOW = 3
CODE_WINDOW = timedelta(minutes=10)
PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|\+[1-9]\d{7,14})$")
NICKNAME_MAX = 20


def _row(session: Session, participant_id: int) -> Participant:
    row = session.get(Participant, participant_id)
    if row is None:
        raise NotFound(_("Participant not found."))
    return row


def get_profile(session: Session, *, participant_id: int) -> ParticipantProfile:
    row = _row(session, participant_id)
    return ParticipantProfile(
        id=row.id,
        nickname=row.nickname,
        verified_email=row.verified_email,
        verified_phone=row.verified_phone,
    )


def do_set_nickname(session: Session, *, participant_id: int, nickname: str) -> None:
    name = " ".join(nickname.split())
    if not name:
        raise InvalidInput(_("This field is required."), field="nickname")
    if len(name) > NICKNAME_MAX:
        raise InvalidInput(_("At most {n} characters.").format(n=NICKNAME_MAX), field="nickname")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(_("The format is not valid."), field="nickname")
    _row(session, participant_id).nickname = name


def _normalise_destination(channel: str, destination: str) -> str:
    if channel == "email":
        try:
            return validate_email(destination, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            raise InvalidInput(_("Enter a valid e-mail address."), field="destination") from None
    if channel == "phone":
        phone = re.sub(r"[\s-]", "", destination)
        if not PHONE_RE.match(phone):
            raise InvalidInput(
                _("Enter a mobile number such as 13800138000 or +8613800138000."),
                field="destination",
            )
        return phone
    raise InvalidInput(_("Choose one of the options."), field="channel")


def _code_hash(secret: str, participant_id: int, code: str) -> str:
    return hmac.new(
        secret.encode(), f"{participant_id}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def do_request_code(
    session: Session,
    *,
    participant_id: int,
    channel: str,
    destination: str,
    secret: str,
    now: datetime,
) -> tuple[str, str]:
    """A new six-digit code for this participant; returns (destination, code) for the caller
    to send once the transaction has committed. At most three codes per ten minutes."""
    _row(session, participant_id)
    normalised = _normalise_destination(channel, destination)
    recent = int(
        session.scalar(
            select(func.count())
            .select_from(VerificationCode)
            .where(
                VerificationCode.participant_id == participant_id,
                VerificationCode.created_at > now - CODE_WINDOW,
            )
        )
        or 0
    )
    if recent >= CODES_PER_WINDOW:
        raise TooManyAttempts(_("Too many codes requested; wait ten minutes and try again."))
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        VerificationCode(
            participant_id=participant_id,
            channel=channel,
            destination=normalised,
            code_hash=_code_hash(secret, participant_id, code),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    return normalised, code


@dataclass(frozen=True, slots=True)
class CodeCheck:
    ok: bool
    error: str | None


def do_confirm_code(
    session: Session,
    *,
    participant_id: int,
    workspace_id: int,
    campaign_id: int,
    channel: str,
    code: str,
    secret: str,
    now: datetime,
) -> CodeCheck:
    """Check a code against the newest one sent on this channel. Failed attempts are counted
    (the caller commits them even though the check fails); five wrong codes spend it."""
    pending = session.scalar(
        select(VerificationCode)
        .where(
            VerificationCode.participant_id == participant_id,
            VerificationCode.channel == channel,
            VerificationCode.consumed_at.is_(None),
        )
        .order_by(VerificationCode.id.desc())
        .limit(1)
    )
    if pending is None:
        return CodeCheck(False, _("Request a code first."))
    if pending.expires_at <= now:
        return CodeCheck(False, _("The code has expired; request a new one."))
    if pending.attempts >= CODE_ATTEMPTS:
        return CodeCheck(False, _("Too many wrong codes; request a new one."))
    expected = pending.code_hash
    if not hmac.compare_digest(expected, _code_hash(secret, participant_id, code.strip())):
        pending.attempts += 1
        return CodeCheck(False, _("That code is not right; check it and try again."))
    pending.consumed_at = now
    row = _row(session, participant_id)
    if channel == "email":
        row.verified_email = pending.destination
    else:
        row.verified_phone = pending.destination
    row.verified_at = now
    # The same phone or e-mail verified on another device: one person (docs/people.md).
    people.do_verify_identity(
        session,
        workspace_id=workspace_id,
        participant_id=participant_id,
        kind=IdentityKind(channel),
        value=pending.destination,
        secret=secret,
        device_id=row.device_id,
        now=now,
    )
    record_event(
        session,
        kind=EventKind.PARTICIPANT_VERIFIED,
        occurred_at=now,
        workspace_id=workspace_id,
        campaign_id=campaign_id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=participant_id,
        properties={"channel": channel},
    )
    return CodeCheck(True, None)


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


# --- bulk joining for batched writes (the vote's group commit) ---------------------------------


def find_participants(
    session: Session, *, workspace_id: int, device_ids: list[str]
) -> dict[str, ParticipantRead]:
    """The existing participants behind these devices, in one query."""
    rows = session.execute(
        select(
            Participant.id, Participant.device_id, Participant.nickname, Participant.created_at
        ).where(Participant.workspace_id == workspace_id, Participant.device_id.in_(device_ids))
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


@dataclass(frozen=True, slots=True)
class NewJoin:
    visitor: Visitor
    campaign_id: int
    now: datetime


def do_join_many(
    session: Session, *, workspace_id: int, joins: list[NewJoin]
) -> dict[str, ParticipantRead]:
    """`do_join` for many new devices at once (each has consented): one multi-row insert and
    one for their `participant.joined` events. A device that another transaction joined in
    the meantime is returned as that participant (is_new=False) and gets no event."""
    if not joins:
        return {}
    table = cast(Table, Participant.__table__)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["workspace_id", "device_id"])
        .returning(table.c.id, table.c.device_id, sort_by_parameter_order=True)
    )
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
    # Each agreed to IM2's "taking part" text in the activity's consent box.
    consents.do_grant_many(
        session,
        workspace_id=workspace_id,
        grants=[(persons[p.id], p.id, p.created_at) for p in joined.values() if p.id in persons],
        purpose=Purpose.TAKING_PART,
        text=consents.shipped_text(Purpose.TAKING_PART, get_locale()),
        channel=ConsentChannel.ACTION,
    )
    raced = [j.visitor.device_id for j in joins if j.visitor.device_id not in created]
    if raced:
        joined.update(find_participants(session, workspace_id=workspace_id, device_ids=raced))
    return joined

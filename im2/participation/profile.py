"""A participant's profile (nickname) and verified phone or e-mail: codes sent, checked, and
the identity they prove handed to people."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound, TooManyAttempts
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.participation.models import Participant, VerificationCode
from im2.participation.schemas import ParticipantProfile
from im2.people import service as people
from im2.people.schemas import IdentityKind

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


def check_nickname(nickname: str) -> str:
    """The nickname as stored (spaces squeezed); raises `InvalidInput` on "nickname". A plain
    function, so that a form can run it with its other checks before any write."""
    name = " ".join(nickname.split())
    if not name:
        raise InvalidInput(_("This field is required."), field="nickname")
    if len(name) > NICKNAME_MAX:
        raise InvalidInput(_("At most {n} characters.").format(n=NICKNAME_MAX), field="nickname")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput(_("The format is not valid."), field="nickname")
    return name


def do_set_nickname(session: Session, *, participant_id: int, nickname: str) -> None:
    _row(session, participant_id).nickname = check_nickname(nickname)


def check_destination(channel: str, destination: str) -> str:
    """Where a code goes, normalised (an e-mail address in lower case, a mobile number without
    spaces or dashes); raises `InvalidInput` on "destination" (or "channel"). A plain function,
    so that a form can run it with its other checks before any write."""
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
    normalised = check_destination(channel, destination)
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

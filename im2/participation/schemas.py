"""What other domains know of a participant and of the request they act in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from im2.i18n import N_
from im2.types import PeopleData

CONSENT_VERSION = "2026-03"
CONSENT_TEXT = N_(
    "To take part we store a random device identifier in a cookie, your answers and votes, "
    "the time, and your IP address (to stop cheating). The brand running this campaign sees "
    "your answers; nothing is sold or shared. You can ask the brand to delete them at any time."
)


# The anonymous identity of a browser in the event log (views, share clicks): its device id,
# prefixed so that it can never be mistaken for a participant id ("129") or a synthetic one.
VISITOR_ACTOR_PREFIX = "d:"


def visitor_actor(device_id: str) -> str:
    """The `actor_id` of a visitor's events: one per device, so reloads and later visits of
    the same browser are one viewer."""
    return VISITOR_ACTOR_PREFIX + device_id


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person behind a public request, before we know whether they are a participant."""

    device_id: str
    ip: str | None
    user_agent: str | None
    channel: str | None = None
    referrer: str | None = None


@dataclass(frozen=True, slots=True)
class ParticipantRead:
    id: int
    workspace_id: int
    device_id: str
    nickname: str | None
    created_at: datetime
    is_new: bool


@dataclass(frozen=True, slots=True)
class Risk:
    """A score in [0, 1] from simple signals; actions at or above the threshold are held."""

    score: float
    reasons: tuple[str, ...]

    def held(self, threshold: float) -> bool:
        return self.score >= threshold


@dataclass(frozen=True, slots=True)
class ParticipantProfile:
    id: int
    nickname: str | None
    verified_email: str | None
    verified_phone: str | None

    @property
    def display_name(self) -> str:
        return self.nickname or f"#{self.id}"


# What this domain holds about people (im2.types.PeopleData, walked by im2.privacy.inventory).
# `participants` is the root of a person's rows: erasure moves everything that refers to it
# to a fresh anonymous stand-in and deletes it.
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(
        table="participants",
        participant_columns=("id",),
        device_columns=("device_id",),
        code_columns=("referred_by",),
        personal_columns=(
            "nickname",
            "first_ip",
            "first_ip_hash",
            "user_agent",
            "verified_email",
            "verified_phone",
        ),
    ),
    PeopleData(
        table="participant_codes",
        participant_columns=("participant_id",),
        personal_columns=("destination",),
        on_erase="delete",
    ),
    PeopleData(
        table="comments",
        participant_columns=("participant_id",),
        personal_columns=("text", "flag_reason"),
        on_erase="delete",
    ),
    PeopleData(table="likes", participant_columns=("participant_id",)),
)

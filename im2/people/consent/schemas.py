"""Purposes of processing, the texts shown for them, and what a person granted or withdrew."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from im2.i18n import N_


class Purpose(StrEnum):
    """What personal data is processed for. Each is granted and withdrawn on its own."""

    TAKING_PART = "taking_part"  # 参与活动: needed to take part, asked at the first action
    MARKETING = "marketing"  # 营销联系: the brand may contact the person about offers
    THIRD_PARTY = "third_party"  # 向第三方提供: events may go to receivers outside the brand
    PROFILING = "profiling"  # 个性化与画像: segments, scores and targeting


# Only taking part is needed to take part (PIPL Art. 16): the others are offered, never required.
REQUIRED = frozenset({Purpose.TAKING_PART})
OPTIONAL = (Purpose.MARKETING, Purpose.THIRD_PARTY, Purpose.PROFILING)

PURPOSE_NAMES = {
    Purpose.TAKING_PART: N_("Taking part"),
    Purpose.MARKETING: N_("Marketing contact"),
    Purpose.THIRD_PARTY: N_("Sharing with third parties"),
    Purpose.PROFILING: N_("Profiling and personalisation"),
}


class ConsentChannel(StrEnum):
    """Where a consent was given or withdrawn."""

    ACTION = "action"  # the consent box of an activity's first action
    MY_PAGE = "my_page"  # the participant's 我的 page
    API = "api"  # the brand, through the API (e.g. a consent collected at its own counter)
    MIGRATION = "migration"  # recorded before purposes existed (`participants.consent_version`)
    MERGE = "merge"  # withdrawn by an identity merge: the other person's later withdrawal won


class GivenBy(StrEnum):
    SELF = "self"
    GUARDIAN = "guardian"  # a parent or guardian, for a child under 14 (PIPL Art. 31)


# The texts IM2 ships, per purpose: (version, English message id; Chinese in the catalog).
# A shipped text never changes under its version: a new wording gets a new version. Taking
# part keeps the text every activity's consent box shows (`participation.schemas`).
SHIPPED_TEXTS: dict[Purpose, tuple[str, str]] = {
    Purpose.TAKING_PART: (
        "2026-03",
        N_(
            "To take part we store a random device identifier in a cookie, your answers and "
            "votes, the time, and your IP address (to stop cheating). The brand running this "
            "campaign sees your answers; nothing is sold or shared. You can ask the brand to "
            "delete them at any time."
        ),
    ),
    Purpose.MARKETING: (
        "2026-12",
        N_(
            "The brand may contact you about its offers and campaigns through the phone number "
            "or e-mail address you verified here. You can withdraw this at any time on this page."
        ),
    ),
    Purpose.THIRD_PARTY: (
        "2026-12",
        N_(
            "What you do in this campaign (votes, answers, entries, with your participant number "
            "and the time) may be sent to systems of companies the brand works with, which it "
            "connects by webhook. Without this consent nothing about you is sent to them. You can "
            "withdraw this at any time on this page."
        ),
    ),
    Purpose.PROFILING: (
        "2026-12",
        N_(
            "The brand may group you with people who acted alike (segments), score how engaged "
            "you are, and choose what to show or offer you from that. Without this consent you "
            "are left out of such groups and targeting. You can withdraw this at any time on "
            "this page."
        ),
    ),
}

TEXT_MAX = 4000
TextBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX)
]


class ConsentTextRead(BaseModel):
    purpose: Purpose
    language: str
    version: str
    text: str
    # SHA-256 of the text as shown: a consent record keeps it, so what was shown can be proved.
    sha256: str
    shipped: bool  # IM2's own text (no version of the workspace's yet)
    created_at: datetime | None
    created_by: str | None


class ConsentTextVersion(ConsentTextRead):
    """A version as the console's editor lists it: is it the one shown now, and how many
    people's standing grants are of this version (people who agreed to an older version keep
    it until they agree again)."""

    current: bool
    agreed: int


class ConsentTextCreate(BaseModel):
    """A new version of a purpose's text in one language; it is shown from now on."""

    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    language: str = Field(description="zh_CN or en")
    text: TextBody


class ConsentRecordRead(BaseModel):
    id: int
    person_id: int
    participant_id: int | None
    purpose: Purpose
    version: str
    language: str | None
    text_sha256: str | None
    channel: ConsentChannel
    given_by: GivenBy
    under_14: bool
    granted_at: datetime
    withdrawn_at: datetime | None
    withdrawn_channel: ConsentChannel | None


class ConsentState(BaseModel):
    """Where a person stands on one purpose now."""

    purpose: Purpose
    granted: bool
    # The version and time of the standing grant, or of the last withdrawal.
    version: str | None
    granted_at: datetime | None
    withdrawn_at: datetime | None
    # For a standing grant: whether its version is the text shown now in its language (False:
    # the person agreed to an older version). None without a standing grant.
    current_version: bool | None = None


class ConsentChange(BaseModel):
    """The brand records a grant or withdrawal it received itself (channel `api`)."""

    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    granted: bool
    language: str = "zh_CN"
    version: str | None = Field(
        default=None, description="The text version shown; the current one when left out."
    )

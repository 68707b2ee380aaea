"""What other domains and the API know of people: identity kinds, merges, read shapes, and the
declaration of the tables that hold personal data (walked by the privacy work)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from im2.types import DbId, PeopleData


class IdentityKind(StrEnum):
    """How a person can be recognised. Open for new kinds (a channel adds its own)."""

    DEVICE = "device"  # the device cookie (also the visitor's `actor_id`, "d:<device>")
    PARTICIPANT = "participant"  # a participant row (their events' `actor_id`)
    PHONE = "phone"  # verified by one-time code; stored as a keyed hash
    EMAIL = "email"  # verified by one-time code; stored as a keyed hash
    SHARE_CODE = "share_code"  # a share link the person owns
    CRM = "crm"  # an id from the brand's CRM
    WECHAT_OPENID = "wechat_openid"  # from WeChat web OAuth (the workspace's official account)
    WECHAT_UNIONID = "wechat_unionid"  # the same person across the brand's WeChat apps
    # Social accounts, by the handle their posts carry (a listening mention's `author` on the
    # platform of the same name matches them; see `normalise_handle`).
    WEIBO = "weibo"
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"


# Kinds whose value is personal contact data: only their keyed hash is stored here.
HASHED_KINDS = frozenset({IdentityKind.PHONE, IdentityKind.EMAIL})
# Kinds that appear as an event's `actor_id` (analytics maps them to persons).
ACTOR_KINDS = frozenset({IdentityKind.DEVICE, IdentityKind.PARTICIPANT})
# Social accounts: the identity kind is the listening platform's name (`Mention.platform`).
SOCIAL_KINDS = frozenset({IdentityKind.WEIBO, IdentityKind.DOUYIN, IdentityKind.XIAOHONGSHU})
# Platforms whose handles ignore letter case, so a handle is stored case-folded: a Douyin id
# (抖音号) and a Xiaohongshu id (小红书号) are one account whatever case is typed. A Weibo
# handle is its screen name (昵称), kept as written: matching merges people, and a wrong merge
# costs more than a missed match.
CASE_FOLDED_KINDS = frozenset({IdentityKind.DOUYIN, IdentityKind.XIAOHONGSHU})
HANDLE_MAX = 128


def normalise_handle(kind: IdentityKind, value: str) -> str | None:
    """A social account's handle as stored and matched: stripped, one leading @ (half or
    full width) removed, case-folded on case-insensitive platforms; None when empty, longer
    than `HANDLE_MAX` or holding control characters or spaces inside."""
    handle = value.strip()
    if handle[:1] in ("@", "＠"):
        handle = handle[1:].strip()
    if kind in CASE_FOLDED_KINDS:
        handle = handle.casefold()
    if not handle or len(handle) > HANDLE_MAX:
        return None
    if any(ord(c) < 32 or ord(c) == 0x7F or c.isspace() for c in handle):
        return None
    return handle


class MergeReason(StrEnum):
    VERIFIED_PHONE = "verified_phone"  # the same phone verified by two people's devices
    VERIFIED_EMAIL = "verified_email"
    SHARED_IDENTITY = "shared_identity"  # a CRM id, OpenID … already on another person
    MANUAL = "manual"  # the brand merged them


# The one declaration of personal data (im2.types.PeopleData); `person_columns` refer to
# `people.id`. The privacy work walks `PEOPLE_DATA`.
PersonalTable = PeopleData

PEOPLE_DATA: tuple[PersonalTable, ...] = (
    PersonalTable(table="people", person_columns=("id", "merged_into_id")),
    PersonalTable(
        table="person_identities",
        person_columns=("person_id",),
        identity_columns=("value",),
        personal_columns=("hint",),
    ),
    PersonalTable(
        table="person_merges",
        person_columns=("kept_id", "merged_id"),
        identity_columns=("moved_identity_ids", "moved_participant_ids"),
        personal_columns=("identity_hint",),
    ),
    PersonalTable(table="person_tags", person_columns=("person_id",)),
    PersonalTable(
        table="person_attributes", person_columns=("person_id",), personal_columns=("value",)
    ),
    # The closeness ladder (im2.people.ladder): a subject is "p:<person id>" or a device's
    # actor id; the rows are recomputed from the log, so erasure deletes them.
    *(
        PersonalTable(
            table=table,
            person_columns=("person_id",),
            identity_columns=("subject",),
            on_erase="delete",
        )
        for table in ("ladder_states", "ladder_changes")
    ),
    # Consent by purpose (im2.people.consent): the person's grants and withdrawals, with the
    # text version shown; exported with the person, deleted with them.
    PersonalTable(
        table="consent_records",
        person_columns=("person_id",),
        participant_columns=("participant_id",),
        on_erase="delete",
    ),
)


class IdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    # The identifier itself; None for phones and e-mails, which are kept only as a keyed hash
    # here (`hint` shows them masked, e.g. 138****8000).
    value: str | None
    hint: str | None
    created_at: datetime


class MergeRead(BaseModel):
    id: int
    kept_id: int
    merged_id: int
    reason: MergeReason
    identity_kind: str | None
    identity_hint: str | None
    moved_identity_ids: list[int]
    moved_participant_ids: list[int]
    actor: str
    created_at: datetime
    undone_at: datetime | None
    undone_by: str | None


class PeopleSort(StrEnum):
    """How the people list is ordered: always highest first, people without a value last."""

    LAST_SEEN = "last_seen"
    POINTS = "points"
    STAGE = "stage"  # advocate, spreader, participant, bystander
    SCORE = "score"


# The closeness stages, highest first (the ladder writes them on `people.stage`).
STAGE_ORDER: tuple[str, ...] = ("advocate", "spreader", "participant", "bystander")


class PeopleFilter(BaseModel):
    """What the people list is narrowed to. `q` finds a person by a phone number or e-mail
    address typed in full (through its keyed hash), a CRM id, a nickname or a person id."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(default=None, max_length=200)
    stage: str | None = Field(default=None, max_length=16)
    tag: str | None = Field(default=None, max_length=32)
    # "key=value": people whose attribute `key` is `value`.
    attribute: str | None = Field(default=None, max_length=233)
    verified: bool | None = None
    campaign_id: DbId | None = None
    seen_from: datetime | None = None
    seen_until: datetime | None = None
    sort: PeopleSort = PeopleSort.LAST_SEEN


class PersonSummary(BaseModel):
    id: int
    created_at: datetime
    # How many identities of each kind the person has, e.g. {"device": 2, "phone": 1}.
    identities: dict[str, int]
    verified: bool
    last_seen_at: datetime | None = None
    stage: str | None = None
    score: float | None = None
    # Points held across their participants; None when the points source is not assembled.
    points: int | None = None
    # Processing restricted (PIPL Art. 44): kept, but out of segments, exports and marketing.
    restricted: bool = False
    tags: list[str] = []
    nickname: str | None = None


class PersonPage(BaseModel):
    items: list[PersonSummary]
    next_cursor: str | None


class TagRead(BaseModel):
    tag: str
    source: str
    created_at: datetime


class PersonRead(BaseModel):
    id: int
    created_at: datetime
    # Set when this person was merged into another (their identities are there now).
    merged_into_id: int | None
    merged_at: datetime | None
    identities: list[IdentityRead]
    merges: list[MergeRead]
    last_seen_at: datetime | None = None
    stage: str | None = None
    score: float | None = None
    points: int | None = None
    restricted_at: datetime | None = None
    tags: list[TagRead] = []
    attributes: dict[str, str] = {}
    nickname: str | None = None


class AccountCreate(BaseModel):
    """A social account the brand gives a person by hand."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["weibo", "douyin", "xiaohongshu"]
    value: str = Field(min_length=1, max_length=200, description="The handle, e.g. @LiLei")


class TagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str = Field(min_length=1, max_length=32)


class TimelineItem(BaseModel):
    """One thing a person did (or was given), from the event log, or a post of theirs that
    social listening collected (a mention matched to one of their social accounts)."""

    # The event's id; None for a mention (`mention_id` is set instead).
    event_id: int | None
    occurred_at: datetime
    kind: str
    # What happened, in the reader's language ("投了票", "分享了活动").
    label: str
    campaign_id: int | None
    campaign_name: str | None
    activity_id: int | None
    channel: str | None
    # A short detail: points, the prize, who they brought ("带来了用户 #12").
    detail: str | None = None
    # The person a share brought (a friend who joined through their link).
    brought_person_id: int | None = None
    # A matched mention (kind "mention"): its id, platform, link to the post, and sentiment
    # (positive, neutral or negative) with its label in the reader's language.
    mention_id: int | None = None
    platform: str | None = None
    url: str | None = None
    sentiment: str | None = None
    sentiment_label: str | None = None


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None


class PersonMergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: DbId = Field(description="The person to keep; this one's identities move there.")


class ImportTarget(StrEnum):
    """What a column of an imported file is."""

    IGNORE = ""
    CRM = "crm"  # the brand's CRM id: becomes a `crm` identity
    PHONE = "phone"  # a phone number: its keyed hash becomes an identity
    EMAIL = "email"
    WEIBO = "weibo"  # a social account's handle: becomes an identity of that kind
    DOUYIN = "douyin"
    XIAOHONGSHU = "xiaohongshu"
    TAGS = "tags"  # tags, separated by commas, semicolons or 、
    ATTRIBUTE = "attribute"  # an attribute named after the column


class ImportRowError(BaseModel):
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str | None
    message: str


class ImportReport(BaseModel):
    """A checked (and, when `applied`, written) import. Nothing is written when any row has an
    error: the file is imported whole or not at all."""

    filename: str
    sha256: str
    columns: list[str]
    mapping: dict[str, ImportTarget]
    preview: list[list[str]]  # the first rows, as read
    rows: int
    applied: bool
    people_created: int = 0
    people_updated: int = 0
    people_unchanged: int = 0
    merges: int = 0
    errors: list[ImportRowError] = []
    errors_left_out: int = 0

"""The rule language of segments, as pydantic models, and the shapes of the segments API.

A rule is a group: `{"match": "all" | "any", "conditions": [...]}`, where each condition is
one of the kinds below (told apart by `field`) or another group (groups nest up to
`MAX_DEPTH`). Every field is checked when the rule is parsed, so an unknown field, operator or
value is a 422 that names it (`rule.conditions.0.value`, …)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from im2.i18n import _
from im2.types import DbId, PeopleData

MAX_DEPTH = 3
MAX_CONDITIONS = 50


class Stage(StrEnum):
    """The closeness ladder's stages (亲密度阶梯), as the ladder job writes `people.stage`."""

    BYSTANDER = "bystander"
    PARTICIPANT = "participant"
    SPREADER = "spreader"
    ADVOCATE = "advocate"


class ActivityKind(StrEnum):
    """The kinds of activity a person can take part in (the activity formats)."""

    POLL = "poll"
    QUIZ = "quiz"
    SURVEY = "survey"
    QA = "qa"
    UGC = "ugc"
    DRAW = "draw"
    CHECKIN = "checkin"
    GROUPBUY = "groupbuy"
    REFERRAL = "referral"
    CARDS = "cards"


# Control characters (NUL above all, which PostgreSQL text refuses) match nothing a person
# typed: a rule holding one is refused with the field named, never a 500 on PostgreSQL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(_("Remove the control characters (such as NUL) from this text."))
    return value


Printable = AfterValidator(_printable)
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Printable
]
Values = Annotated[list[Text], Field(min_length=1, max_length=200)]
_Strict = ConfigDict(extra="forbid")


class StageCondition(BaseModel):
    """Their closeness stage is (not) one of `values`."""

    model_config = _Strict
    field: Literal["stage"]
    op: Literal["in", "not_in"] = "in"
    values: Annotated[list[Stage], Field(min_length=1)]


class _Range(BaseModel):
    model_config = _Strict
    op: Literal["gte", "lte", "between"]
    value: float
    to: float | None = Field(default=None, description="The upper bound, with `between`.")

    @model_validator(mode="after")
    def _bounds(self) -> _Range:
        if self.op == "between" and (self.to is None or self.to < self.value):
            raise ValueError(_("Between needs an upper bound (to) at least the lower one."))
        return self


class ScoreCondition(_Range):
    """Their engagement score (0–100)."""

    field: Literal["score"]


class PointsCondition(_Range):
    """Their points balance (earned minus spent and expired)."""

    field: Literal["points"]


class CampaignCondition(BaseModel):
    """They took part (acted, not only looked) in any of the campaigns, or in none of them."""

    model_config = _Strict
    field: Literal["campaign"]
    op: Literal["in", "not_in"] = "in"
    values: Annotated[list[DbId], Field(min_length=1, max_length=200)]


class ActivityKindCondition(BaseModel):
    """They took part in an activity of any of these kinds (or of none of them)."""

    model_config = _Strict
    field: Literal["activity_kind"]
    op: Literal["in", "not_in"] = "in"
    values: Annotated[list[ActivityKind], Field(min_length=1)]


class ChannelCondition(BaseModel):
    """Their first touch came through one of these channels (wechat, weibo, qr …)."""

    model_config = _Strict
    field: Literal["channel"]
    op: Literal["in", "not_in"] = "in"
    values: Values


class SourceCondition(BaseModel):
    """Their first touch came through one of these share codes or referrers (`in`), or through
    anyone's link (`any`)."""

    model_config = _Strict
    field: Literal["source"]
    op: Literal["in", "any"] = "in"
    values: list[Text] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _values(self) -> SourceCondition:
        if self.op == "in" and not self.values:
            raise ValueError(_("Give at least one value."))
        return self


class TagCondition(BaseModel):
    """They have any of these tags (`has`), or none of them (`has_not`)."""

    model_config = _Strict
    field: Literal["tag"]
    op: Literal["has", "has_not"] = "has"
    values: Annotated[list[Annotated[Text, StringConstraints(max_length=32)]], Field(min_length=1)]


class AttributeCondition(BaseModel):
    """Their attribute `key` is (not) one of `values`, or is set at all (`exists`)."""

    model_config = _Strict
    field: Literal["attribute"]
    key: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), Printable
    ]
    op: Literal["in", "not_in", "exists"] = "in"
    values: list[Annotated[str, StringConstraints(max_length=200), Printable]] = Field(
        default_factory=list, max_length=200
    )

    @model_validator(mode="after")
    def _values(self) -> AttributeCondition:
        if self.op != "exists" and not self.values:
            raise ValueError(_("Give at least one value."))
        return self


class CityCondition(BaseModel):
    """Their city (the attribute `city`, when given) is (not) one of `values`."""

    model_config = _Strict
    field: Literal["city"]
    op: Literal["in", "not_in"] = "in"
    values: Values


class LastSeenCondition(BaseModel):
    """They were last seen within the last `days` days, or not (`before`: longer ago, or never)."""

    model_config = _Strict
    field: Literal["last_seen"]
    op: Literal["within", "before"] = "within"
    days: Annotated[int, Field(ge=0, le=3650)]


class VerifiedCondition(BaseModel):
    """They have (or have not) verified a phone or e-mail (`kind` narrows it to one)."""

    model_config = _Strict
    field: Literal["verified"]
    value: bool = True
    kind: Literal["any", "phone", "email"] = "any"


class ConsentCondition(BaseModel):
    """They have (or have not) given a purpose's consent and not withdrawn it: marketing
    contact (营销联系) or sharing with third parties (向第三方提供)."""

    model_config = _Strict
    field: Literal["consent"]
    purpose: Literal["marketing", "third_party"] = "marketing"
    value: bool = True


CONDITION_FIELDS = (
    "stage",
    "score",
    "campaign",
    "activity_kind",
    "channel",
    "source",
    "points",
    "tag",
    "attribute",
    "city",
    "last_seen",
    "verified",
    "consent",
)


def _node_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        if "conditions" in value or "match" in value:
            return "group"
        field = value.get("field")
        return field if isinstance(field, str) else None
    if isinstance(value, SegmentRule):
        return "group"
    return getattr(value, "field", None)


Node = Annotated[
    Annotated[StageCondition, Tag("stage")]
    | Annotated[ScoreCondition, Tag("score")]
    | Annotated[CampaignCondition, Tag("campaign")]
    | Annotated[ActivityKindCondition, Tag("activity_kind")]
    | Annotated[ChannelCondition, Tag("channel")]
    | Annotated[SourceCondition, Tag("source")]
    | Annotated[PointsCondition, Tag("points")]
    | Annotated[TagCondition, Tag("tag")]
    | Annotated[AttributeCondition, Tag("attribute")]
    | Annotated[CityCondition, Tag("city")]
    | Annotated[LastSeenCondition, Tag("last_seen")]
    | Annotated[VerifiedCondition, Tag("verified")]
    | Annotated[ConsentCondition, Tag("consent")]
    | Annotated["SegmentRule", Tag("group")],
    Discriminator(
        _node_tag,
        custom_error_type="unknown_field",
        custom_error_message=(
            "Unknown condition field; known fields: " + ", ".join(CONDITION_FIELDS) + ", or a "
            "group with match and conditions"
        ),
    ),
]


class SegmentRule(BaseModel):
    """A group of conditions: everyone matching all of them (`all`) or any of them (`any`)."""

    model_config = _Strict
    match: Literal["all", "any"] = "all"
    conditions: Annotated[list[Node], Field(max_length=MAX_CONDITIONS)] = Field(
        default_factory=list
    )

    @field_validator("conditions", mode="before")
    @classmethod
    def _known_fields(cls, value: Any) -> Any:
        # Name the unknown field in the message (the union's own error cannot quote it).
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict) and "conditions" not in item and "match" not in item:
                    name = item.get("field")
                    if name not in CONDITION_FIELDS:
                        raise ValueError(
                            _(
                                "conditions.{index}.field: unknown field {name}; known fields: "
                                "{known}"
                            ).format(
                                index=index, name=repr(name), known=", ".join(CONDITION_FIELDS)
                            )
                        )
        return value

    @model_validator(mode="after")
    def _limits(self) -> SegmentRule:
        if _depth(self) > MAX_DEPTH:
            raise ValueError(_("Groups nest at most {n} deep.").format(n=MAX_DEPTH))
        if _count(self) > MAX_CONDITIONS:
            raise ValueError(_("A rule has at most {n} conditions.").format(n=MAX_CONDITIONS))
        return self


SegmentRule.model_rebuild()


def _depth(rule: SegmentRule) -> int:
    inner = [_depth(c) for c in rule.conditions if isinstance(c, SegmentRule)]
    return 1 + max(inner, default=0)


def _count(rule: SegmentRule) -> int:
    return sum(_count(c) if isinstance(c, SegmentRule) else 1 for c in rule.conditions)


Condition = (
    StageCondition
    | ScoreCondition
    | CampaignCondition
    | ActivityKindCondition
    | ChannelCondition
    | SourceCondition
    | PointsCondition
    | TagCondition
    | AttributeCondition
    | CityCondition
    | LastSeenCondition
    | VerifiedCondition
    | ConsentCondition
)

SegmentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), Printable
]


class SegmentPreview(BaseModel):
    model_config = _Strict
    rule: SegmentRule


class SegmentCount(BaseModel):
    count: int


class SegmentCreate(BaseModel):
    model_config = _Strict
    name: SegmentName
    rule: SegmentRule


class SegmentUpdate(BaseModel):
    """A new version: the name, the rule, or both (what is left out stays as it was)."""

    model_config = _Strict
    name: SegmentName | None = None
    rule: SegmentRule | None = None


class SegmentVersionRead(BaseModel):
    version: int
    name: str
    rule: SegmentRule
    created_at: datetime
    created_by: str


class SegmentRead(BaseModel):
    id: int
    name: str
    version: int
    rule: SegmentRule
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class SegmentPage(BaseModel):
    items: list[SegmentRead]


class SegmentRef(BaseModel):
    """A use of a segment: which one, and the version it was when used."""

    segment_id: int
    version: int
    name: str


# What segments hold about people (walked by the privacy work): members, and the facts kept
# per actor identity (device or participant id, first referrer's share code).
PEOPLE_DATA: tuple[PeopleData, ...] = (
    PeopleData(table="segment_members", person_columns=("person_id",), on_erase="delete"),
    PeopleData(
        table="segment_actor_facts",
        identity_columns=("identity_value",),
        code_columns=("first_source",),
        on_erase="delete",
    ),
    PeopleData(
        table="segment_actor_campaigns", identity_columns=("identity_value",), on_erase="delete"
    ),
    PeopleData(
        table="segment_person_facts",
        person_columns=("person_id",),
        code_columns=("first_source",),
        on_erase="delete",
    ),
    PeopleData(table="segment_person_campaigns", person_columns=("person_id",), on_erase="delete"),
)

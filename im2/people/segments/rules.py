"""A segment's rule compiled to one SQL condition over `people`.

Every condition becomes a predicate on the person row: columns of `people` directly (stage,
score, last seen), and `people.id IN (…)` over one indexed table for the rest (tags,
attributes, identities, and the facts the event log gave each actor identity). The whole rule
is then one `SELECT count(*) FROM people WHERE …`, which the database plans as a whole.

Never members, whatever the rule: people merged into another, people whose processing is
restricted (`restricted_at`), and people who withdrew the profiling purpose (PIPL Art. 24)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select, true

from im2.people.consent.models import ConsentRecord
from im2.people.models import Person, PersonAttribute, PersonIdentity, PersonTag
from im2.people.segments.models import SegmentActorCampaign, SegmentActorFacts
from im2.people.segments.schemas import (
    ActivityKindCondition,
    AttributeCondition,
    CampaignCondition,
    ChannelCondition,
    CityCondition,
    Condition,
    LastSeenCondition,
    PointsCondition,
    ScoreCondition,
    SegmentRule,
    SourceCondition,
    StageCondition,
    TagCondition,
    VerifiedCondition,
)

PROFILING = "profiling"  # im2.people.consent.schemas.Purpose.PROFILING


def members_select(workspace_id: int, rule: SegmentRule, *, now: datetime) -> Select[Any]:
    """The ids of the workspace's people the rule selects (never merged, restricted or
    withdrawn people)."""
    return select(Person.id).where(eligible(workspace_id), rule_clause(workspace_id, rule, now))


def eligible(workspace_id: int) -> ColumnElement[bool]:
    """Who may be in any segment of the workspace."""
    withdrew = (
        select(ConsentRecord.person_id)
        .where(ConsentRecord.workspace_id == workspace_id, ConsentRecord.purpose == PROFILING)
        .group_by(ConsentRecord.person_id)
        # Every profiling grant of theirs is withdrawn (count() skips NULLs).
        .having(func.count(ConsentRecord.withdrawn_at) == func.count())
    )
    return and_(
        Person.workspace_id == workspace_id,
        Person.merged_into_id.is_(None),
        Person.restricted_at.is_(None),
        Person.id.not_in(withdrew),
    )


def rule_clause(workspace_id: int, rule: SegmentRule, now: datetime) -> ColumnElement[bool]:
    parts = [
        rule_clause(workspace_id, c, now)
        if isinstance(c, SegmentRule)
        else condition_clause(workspace_id, c, now)
        for c in rule.conditions
    ]
    if not parts:
        return true()  # an empty rule: everyone
    return and_(*parts) if rule.match == "all" else or_(*parts)


def condition_clause(workspace_id: int, cond: Condition, now: datetime) -> ColumnElement[bool]:
    compile_one = _COMPILERS[type(cond)]
    return compile_one(workspace_id, cond, now)


def _negate(op: str, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    return not_(clause) if op in ("not_in", "has_not") else clause


def _stage(ws: int, cond: StageCondition, now: datetime) -> ColumnElement[bool]:
    values = [v.value for v in cond.values]
    if cond.op == "in":
        return Person.stage.in_(values)
    return or_(Person.stage.is_(None), Person.stage.not_in(values))


def _range(column: Any, cond: ScoreCondition | PointsCondition) -> ColumnElement[bool]:
    low: ColumnElement[bool] = column >= cond.value
    high: ColumnElement[bool] = column <= (cond.value if cond.to is None else cond.to)
    if cond.op == "gte":
        return low
    if cond.op == "lte":
        return high
    return and_(low, high)


def _holds(cond: ScoreCondition | PointsCondition, value: float) -> bool:
    if cond.op == "gte":
        return value >= cond.value
    if cond.op == "lte":
        return value <= cond.value
    assert cond.to is not None
    return cond.value <= value <= cond.to


def _score(ws: int, cond: ScoreCondition, now: datetime) -> ColumnElement[bool]:
    return _range(Person.score, cond)


def _identities_with(
    model: type[SegmentActorFacts] | type[SegmentActorCampaign], ws: int
) -> Select[Any]:
    """The persons holding the actor identities of `model`'s rows (join through the identity
    index, so a merge or its undo moves the facts with the identities)."""
    return (
        select(PersonIdentity.person_id)
        .join(
            model,
            and_(
                model.workspace_id == PersonIdentity.workspace_id,
                model.identity_kind == PersonIdentity.kind,
                model.identity_value == PersonIdentity.value,
            ),
        )
        .where(model.workspace_id == ws)
    )


def _campaign(ws: int, cond: CampaignCondition, now: datetime) -> ColumnElement[bool]:
    took_part = _identities_with(SegmentActorCampaign, ws).where(
        SegmentActorCampaign.campaign_id.in_(cond.values)
    )
    return _negate(cond.op, Person.id.in_(took_part))


def _activity_kind(ws: int, cond: ActivityKindCondition, now: datetime) -> ColumnElement[bool]:
    took_part = _identities_with(SegmentActorCampaign, ws).where(
        SegmentActorCampaign.activity_kind.in_([v.value for v in cond.values])
    )
    return _negate(cond.op, Person.id.in_(took_part))


def _first_touch() -> Select[tuple[int, str | None, str | None, int]]:
    """Each person's actor identities' first touches, ranked oldest first (`rank` 1 is the
    person's own first touch)."""
    return select(
        PersonIdentity.person_id,
        SegmentActorFacts.first_channel,
        SegmentActorFacts.first_source,
        func.row_number()
        .over(
            partition_by=PersonIdentity.person_id,
            order_by=(SegmentActorFacts.first_at, SegmentActorFacts.id),
        )
        .label("rank"),
    )


def _first_touch_of(ws: int) -> Select[tuple[int, str | None, str | None, int]]:
    return (
        _first_touch()
        .join(
            SegmentActorFacts,
            and_(
                SegmentActorFacts.workspace_id == PersonIdentity.workspace_id,
                SegmentActorFacts.identity_kind == PersonIdentity.kind,
                SegmentActorFacts.identity_value == PersonIdentity.value,
            ),
        )
        .where(SegmentActorFacts.workspace_id == ws, SegmentActorFacts.first_at.is_not(None))
    )


def _channel(ws: int, cond: ChannelCondition, now: datetime) -> ColumnElement[bool]:
    ranked = _first_touch_of(ws).subquery()
    first = select(ranked.c.person_id).where(
        ranked.c.rank == 1, ranked.c.first_channel.in_(cond.values)
    )
    return _negate(cond.op, Person.id.in_(first))


def _source(ws: int, cond: SourceCondition, now: datetime) -> ColumnElement[bool]:
    ranked = _first_touch_of(ws).subquery()
    wanted = (
        ranked.c.first_source.is_not(None)
        if cond.op == "any"
        else ranked.c.first_source.in_(cond.values)
    )
    return Person.id.in_(select(ranked.c.person_id).where(ranked.c.rank == 1, wanted))


def _points(ws: int, cond: PointsCondition, now: datetime) -> ColumnElement[bool]:
    balances = (
        select(
            PersonIdentity.person_id.label("person_id"),
            func.sum(SegmentActorFacts.points).label("points"),
        )
        .join(
            SegmentActorFacts,
            and_(
                SegmentActorFacts.workspace_id == PersonIdentity.workspace_id,
                SegmentActorFacts.identity_kind == PersonIdentity.kind,
                SegmentActorFacts.identity_value == PersonIdentity.value,
            ),
        )
        .where(SegmentActorFacts.workspace_id == ws, SegmentActorFacts.points != 0)
        .group_by(PersonIdentity.person_id)
        .subquery()
    )
    # People without any points row have 0 points: when 0 satisfies the condition, the members
    # are everyone except those whose balance does not.
    if _holds(cond, 0):
        failing = select(balances.c.person_id).where(not_(_range(balances.c.points, cond)))
        return Person.id.not_in(failing)
    return Person.id.in_(select(balances.c.person_id).where(_range(balances.c.points, cond)))


def _tag(ws: int, cond: TagCondition, now: datetime) -> ColumnElement[bool]:
    tagged = select(PersonTag.person_id).where(
        PersonTag.workspace_id == ws, PersonTag.tag.in_(cond.values)
    )
    return _negate(cond.op, Person.id.in_(tagged))


def _attribute_in(ws: int, key: str, op: str, values: list[str]) -> ColumnElement[bool]:
    having = select(PersonAttribute.person_id).where(
        PersonAttribute.workspace_id == ws, PersonAttribute.key == key
    )
    if op != "exists":
        having = having.where(PersonAttribute.value.in_(values))
    return _negate(op, Person.id.in_(having))


def _attribute(ws: int, cond: AttributeCondition, now: datetime) -> ColumnElement[bool]:
    return _attribute_in(ws, cond.key, cond.op, cond.values)


def _city(ws: int, cond: CityCondition, now: datetime) -> ColumnElement[bool]:
    return _attribute_in(ws, "city", cond.op, cond.values)


def _last_seen(ws: int, cond: LastSeenCondition, now: datetime) -> ColumnElement[bool]:
    since = now - timedelta(days=cond.days)
    if cond.op == "within":
        return Person.last_seen_at >= since
    return or_(Person.last_seen_at.is_(None), Person.last_seen_at < since)


def _verified(ws: int, cond: VerifiedCondition, now: datetime) -> ColumnElement[bool]:
    kinds = ["phone", "email"] if cond.kind == "any" else [cond.kind]
    holders = select(PersonIdentity.person_id).where(
        PersonIdentity.workspace_id == ws, PersonIdentity.kind.in_(kinds)
    )
    verified = Person.id.in_(holders)
    return verified if cond.value else not_(verified)


_COMPILERS: dict[type, Callable[..., ColumnElement[bool]]] = {
    StageCondition: _stage,
    ScoreCondition: _score,
    CampaignCondition: _campaign,
    ActivityKindCondition: _activity_kind,
    ChannelCondition: _channel,
    SourceCondition: _source,
    PointsCondition: _points,
    TagCondition: _tag,
    AttributeCondition: _attribute,
    CityCondition: _city,
    LastSeenCondition: _last_seen,
    VerifiedCondition: _verified,
}

"""A segment's rule compiled to one SQL condition over `people`.

Every condition becomes a predicate on the person row: columns of `people` directly (stage,
score, last seen, activity kinds), and `people.id IN (…)` over one indexed table for the rest
(tags, attributes, identities, and the facts the event log gave each person: `facts.py`). The
whole rule is then one `SELECT count(*) FROM people WHERE …`, which the database plans as a
whole.

A count leaves out the people who withdrew profiling by subtraction (`count_select`): the
people the rule selects, less those of them who withdrew, counted from the few withdrawn
grants with each condition looked up per person. Testing every one of a million people
against the list of withdrawals cost more than the rule itself (SQLite, 1 M people: 1.1 s).

Never members, whatever the rule: people merged into another, people whose processing is
restricted (`restricted_at`), and people who withdrew the profiling purpose (PIPL Art. 24)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    distinct,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from im2.people.consent.models import ConsentRecord
from im2.people.models import Person, PersonAttribute, PersonIdentity, PersonTag
from im2.people.segments.facts import ALL_KINDS, KIND_BITS
from im2.people.segments.models import SegmentPersonCampaign, SegmentPersonFacts
from im2.people.segments.schemas import (
    ActivityKindCondition,
    AttributeCondition,
    CampaignCondition,
    ChannelCondition,
    CityCondition,
    Condition,
    ConsentCondition,
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
# Set while compiling a rule for a few people known in advance (`count_select`): a condition
# over another table is then an EXISTS per person (an index lookup) rather than a list of
# every holder built first.
_PER_PERSON: ContextVar[bool] = ContextVar("segment_rule_per_person", default=False)
# Set while looking for a rule's one list (`_list_of`): each `people.id IN (list)` compiled,
# with its list.
_HELD: ContextVar[list[tuple[Select[Any], ColumnElement[bool]]] | None] = ContextVar(
    "segment_rule_held", default=None
)


class unindexed(FunctionElement[Any]):  # noqa: N801 (reads as a function in the rules)
    """The column as is, but on SQLite written `+column`, which keeps SQLite from using an
    index of that column alone: at a million people, scanning `ix_people_segments` costs a
    tenth of the row lookups the score or last-seen index leads to."""

    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type  # compares and binds as the column does


@compiles(unindexed)
def _unindexed(element: unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def members_select(workspace_id: int, rule: SegmentRule, *, now: datetime) -> Select[Any]:
    """The ids of the workspace's people the rule selects (never merged, restricted or
    withdrawn people)."""
    return select(Person.id).where(eligible(workspace_id), rule_clause(workspace_id, rule, now))


def _withdrew(workspace_id: int) -> Select[Any]:
    """People with a withdrawn profiling grant and no profiling grant still standing. It
    starts from the withdrawn rows (few: ix_consent_records_purpose reads only them), instead
    of grouping every profiling grant of the workspace on each count (2.4 s at 1 M people)."""
    standing = aliased(ConsentRecord)
    return select(ConsentRecord.person_id).where(
        ConsentRecord.workspace_id == workspace_id,
        ConsentRecord.purpose == PROFILING,
        ConsentRecord.withdrawn_at.is_not(None),
        ~exists().where(
            standing.person_id == ConsentRecord.person_id,
            standing.purpose == PROFILING,
            standing.withdrawn_at.is_(None),
        ),
    )


def _present(workspace_id: int, *, indexed: bool = True) -> ColumnElement[bool]:
    """The workspace's people, less those merged into another or restricted (`indexed`
    False: tested on each row found otherwise, never a reason to scan an index)."""
    column: Callable[[Any], Any] = (lambda c: c) if indexed else unindexed
    return and_(
        column(Person.workspace_id) == workspace_id,
        column(Person.merged_into_id).is_(None),
        column(Person.restricted_at).is_(None),
    )


def eligible(workspace_id: int) -> ColumnElement[bool]:
    """Who may be in any segment of the workspace."""
    return and_(_present(workspace_id), Person.id.not_in(_withdrew(workspace_id)))


@contextmanager
def _per_person() -> Iterator[None]:
    token = _PER_PERSON.set(True)
    try:
        yield
    finally:
        _PER_PERSON.reset(token)


# Conditions "not in a list" whose list is one table's rows (`_held`), and their opposite.
_LISTED = (CampaignCondition, ChannelCondition, TagCondition, AttributeCondition, CityCondition)
_POSITIVE = {"not_in": "in", "has_not": "has"}


def _split_negated(rule: SegmentRule) -> tuple[SegmentRule, Condition] | None:
    """For a rule "all of …, and not in a list": (the rest of it, "in that list")."""
    if rule.match != "all":
        return None
    for i, cond in enumerate(rule.conditions):
        if isinstance(cond, _LISTED) and cond.op in _POSITIVE:
            rest = [*rule.conditions[:i], *rule.conditions[i + 1 :]]
            return (
                rule.model_copy(update={"conditions": rest}),
                cond.model_copy(update={"op": _POSITIVE[cond.op]}),
            )
    return None


def _list_of(workspace_id: int, rule: SegmentRule, now: datetime) -> Select[Any] | None:
    """For a rule that is one list alone ("tagged VIP", "points ≥ 40"): the list's query of
    person ids."""
    if len(rule.conditions) != 1 or isinstance(rule.conditions[0], SegmentRule):
        return None
    held: list[tuple[Select[Any], ColumnElement[bool]]] = []
    token = _HELD.set(held)
    try:
        clause = condition_clause(workspace_id, rule.conditions[0], now)
    finally:
        _HELD.reset(token)
    if len(held) == 1 and held[0][1] is clause:  # the condition is that list, not its negation
        return held[0][0]
    return None


def _in_list(workspace_id: int, rule: SegmentRule, ids: Select[Any], now: datetime) -> Any:
    """How many present people one list holds, counted from the list's rows alone, less the
    merged and the restricted people it holds (few, each looked up): looking up each listed
    person's row to see it present cost ten times more (1 M people, 200,000 listed)."""
    listed = ids.with_only_columns(func.count(distinct(ids.selected_columns[0])))
    with _per_person():
        each = rule_clause(workspace_id, rule, now)
    ws = Person.workspace_id == workspace_id
    merged = select(func.count()).where(ws, Person.merged_into_id.is_not(None), each)
    restricted = select(func.count()).where(
        ws, Person.merged_into_id.is_(None), Person.restricted_at.is_not(None), each
    )
    return listed.scalar_subquery() - merged.scalar_subquery() - restricted.scalar_subquery()


def _selected(workspace_id: int, rule: SegmentRule, now: datetime) -> ColumnElement[int]:
    """How many present people the rule selects. "All of …, and not in a list" counts the
    rest less those of them in the list, which starts from the list's rows: testing each
    person the rest selects against the list cost more (1 M people: 333,000 tests). A rule
    that is one list alone is counted from that list's rows (`_in_list`)."""
    ids = _list_of(workspace_id, rule, now)
    if ids is not None:
        return cast(ColumnElement[int], _in_list(workspace_id, rule, ids, now))
    split = _split_negated(rule)
    if split is None:
        where = rule_clause(workspace_id, rule, now)
        return select(func.count()).where(_present(workspace_id), where).scalar_subquery()
    rest, listed = split
    # Those of them in the list: each listed person looked up, the rest tested on their row
    # (left to itself, the planner may read the rest's index ranges and probe the list for
    # each entry instead, which costs more: 333,000 probes against 133,000 look-ups).
    with _per_person():
        each = rule_clause(workspace_id, rest, now)
    in_list = select(func.count()).where(
        condition_clause(workspace_id, listed, now), _present(workspace_id, indexed=False), each
    )
    return _selected(workspace_id, rest, now) - in_list.scalar_subquery()


def count_select(workspace_id: int, rule: SegmentRule, *, now: datetime) -> Select[Any]:
    """How many people `members_select` selects, as one statement: the present people the
    rule selects, less those of them who withdrew profiling."""
    # The second count starts from the withdrawals and looks up each of their people.
    with _per_person():
        withdrew = select(func.count()).where(
            Person.id.in_(_withdrew(workspace_id)),
            _present(workspace_id, indexed=False),
            rule_clause(workspace_id, rule, now),
        )
    return select(_selected(workspace_id, rule, now) - withdrew.scalar_subquery())


def _held(query: Select[Any]) -> ColumnElement[bool]:
    """`people.id IN (query)`, the query selecting person ids; per person, an EXISTS."""
    if _PER_PERSON.get():
        return query.where(query.selected_columns[0] == Person.id).exists()
    clause = Person.id.in_(query)
    held = _HELD.get()
    if held is not None:
        held.append((query, clause))
    return clause


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
    stage = unindexed(Person.stage)
    if cond.op == "in":
        return stage.in_(values)
    return or_(Person.stage.is_(None), stage.not_in(values))


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
    return _range(unindexed(Person.score), cond)


def _campaign(ws: int, cond: CampaignCondition, now: datetime) -> ColumnElement[bool]:
    took_part = select(SegmentPersonCampaign.person_id).where(
        SegmentPersonCampaign.workspace_id == ws, SegmentPersonCampaign.campaign_id.in_(cond.values)
    )
    return _negate(cond.op, _held(took_part))


def _activity_kind(ws: int, cond: ActivityKindCondition, now: datetime) -> ColumnElement[bool]:
    values = [v.value for v in cond.values]
    if all(v in KIND_BITS for v in values):  # the bits on the person row (facts.KIND_BITS)
        mask = sum(KIND_BITS[v] for v in values)
        if _PER_PERSON.get():  # a test on each row found otherwise
            return _negate(cond.op, unindexed(Person.activity_kinds).bitwise_and(mask) != 0)
        # Every value with (or without) the bits: ranges of `ix_people_segments`, where the
        # kinds follow the present people's columns, so "took part in a quiz" reads the
        # quiz takers' entries instead of testing every person's (1 M people: 333,000 of
        # 1,000,000 entries read, SQLite 110 -> 25 ms of CPU).
        wanted = cond.op == "in"
        return Person.activity_kinds.in_(
            [v for v in range(ALL_KINDS + 1) if bool(v & mask) is wanted]
        )
    took_part = select(SegmentPersonCampaign.person_id).where(
        SegmentPersonCampaign.workspace_id == ws,
        SegmentPersonCampaign.activity_kind.in_(values),
    )
    return _negate(cond.op, _held(took_part))


def _with_facts(ws: int, where: ColumnElement[bool]) -> Select[Any]:
    return select(SegmentPersonFacts.person_id).where(SegmentPersonFacts.workspace_id == ws, where)


def _channel(ws: int, cond: ChannelCondition, now: datetime) -> ColumnElement[bool]:
    first = _with_facts(ws, SegmentPersonFacts.first_channel.in_(cond.values))
    return _negate(cond.op, _held(first))


def _source(ws: int, cond: SourceCondition, now: datetime) -> ColumnElement[bool]:
    wanted = (
        SegmentPersonFacts.first_source.is_not(None)
        if cond.op == "any"
        else SegmentPersonFacts.first_source.in_(cond.values)
    )
    return _held(_with_facts(ws, wanted))


def _points(ws: int, cond: PointsCondition, now: datetime) -> ColumnElement[bool]:
    points = SegmentPersonFacts.points
    # People without a facts row have 0 points: when 0 satisfies the condition, the members
    # are everyone except those whose balance does not.
    if _holds(cond, 0):
        return not_(_held(_with_facts(ws, not_(_range(points, cond)))))
    return _held(_with_facts(ws, _range(points, cond)))


def _tag(ws: int, cond: TagCondition, now: datetime) -> ColumnElement[bool]:
    tagged = select(PersonTag.person_id).where(
        PersonTag.workspace_id == ws, PersonTag.tag.in_(cond.values)
    )
    return _negate(cond.op, _held(tagged))


def _attribute_in(ws: int, key: str, op: str, values: list[str]) -> ColumnElement[bool]:
    having = select(PersonAttribute.person_id).where(
        PersonAttribute.workspace_id == ws, PersonAttribute.key == key
    )
    if op != "exists":
        having = having.where(PersonAttribute.value.in_(values))
    return _negate(op, _held(having))


def _attribute(ws: int, cond: AttributeCondition, now: datetime) -> ColumnElement[bool]:
    return _attribute_in(ws, cond.key, cond.op, cond.values)


def _city(ws: int, cond: CityCondition, now: datetime) -> ColumnElement[bool]:
    return _attribute_in(ws, "city", cond.op, cond.values)


def _last_seen(ws: int, cond: LastSeenCondition, now: datetime) -> ColumnElement[bool]:
    since = now - timedelta(days=cond.days)
    seen = unindexed(Person.last_seen_at)
    if cond.op == "within":
        return seen >= since
    return or_(Person.last_seen_at.is_(None), seen < since)


def _verified(ws: int, cond: VerifiedCondition, now: datetime) -> ColumnElement[bool]:
    kinds = ["phone", "email"] if cond.kind == "any" else [cond.kind]
    holders = select(PersonIdentity.person_id).where(
        PersonIdentity.workspace_id == ws, PersonIdentity.kind.in_(kinds)
    )
    verified = _held(holders)
    return verified if cond.value else not_(verified)


def _consent(ws: int, cond: ConsentCondition, now: datetime) -> ColumnElement[bool]:
    holders = select(ConsentRecord.person_id).where(
        ConsentRecord.workspace_id == ws,
        ConsentRecord.purpose == cond.purpose,
        ConsentRecord.withdrawn_at.is_(None),
    )
    consented = _held(holders)
    return consented if cond.value else not_(consented)


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
    ConsentCondition: _consent,
}

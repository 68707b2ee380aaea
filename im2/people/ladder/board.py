"""The closeness ladder's reads: the workspace's rules, the dashboard of the workspace or one
campaign (from the stored states, daily flows and tallies, never the event log) and one
person's stages and history."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.errors import NotFound
from im2.i18n import _
from im2.people.ladder.models import (
    LadderChange,
    LadderCursor,
    LadderFlow,
    LadderRuleSet,
    LadderState,
    LadderTally,
)
from im2.people.ladder.schemas import (
    DEFAULT_RULES,
    RANK,
    STAGE_LABELS,
    STAGES,
    WORKSPACE_SCOPE,
    CampaignMove,
    Flow,
    LadderBoard,
    LadderChangeRead,
    LadderRulesRead,
    PersonLadderRead,
    ScoreDecile,
    Stage,
    StageCount,
    StageSeriesPoint,
)
from im2.people.models import Person
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, require


def get_rules(session: Session, *, workspace_id: int) -> LadderRulesRead:
    row = session.get(LadderRuleSet, workspace_id)
    if row is None:
        return LadderRulesRead(**DEFAULT_RULES.model_dump(), updated_at=None, updated_by=None)
    return LadderRulesRead(
        spreader_min_brought=row.spreader_min_brought,
        advocate_min_campaigns=row.advocate_min_campaigns,
        advocate_min_weeks=row.advocate_min_weeks,
        advocate_min_brought=row.advocate_min_brought,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _scope(campaign_id: int | None) -> int:
    return WORKSPACE_SCOPE if campaign_id is None else campaign_id


def stage_counts(
    session: Session, *, workspace_id: int, campaign_id: int | None = None
) -> dict[Stage, int]:
    """People per stage now (the workspace, or one campaign), from the tallies."""
    counts = dict.fromkeys(STAGES, 0)
    for stage, n in session.execute(
        select(LadderTally.stage, func.sum(LadderTally.people))
        .where(
            LadderTally.workspace_id == workspace_id,
            LadderTally.campaign_id == _scope(campaign_id),
        )
        .group_by(LadderTally.stage)
    ):
        counts[Stage(stage)] = int(n or 0)
    return counts


def _flows(session: Session, *, workspace_id: int, scope: int | None) -> list[Any]:
    query = select(
        LadderFlow.campaign_id,
        LadderFlow.day,
        LadderFlow.from_stage,
        LadderFlow.to_stage,
        LadderFlow.people,
    ).where(LadderFlow.workspace_id == workspace_id)
    if scope is not None:
        query = query.where(LadderFlow.campaign_id == scope)
    return list(session.execute(query.order_by(LadderFlow.day)))


def _series(rows: list[Any]) -> list[StageSeriesPoint]:
    running = dict.fromkeys(STAGES, 0)
    points: list[StageSeriesPoint] = []
    by_day: dict[date, list[Any]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    for day in sorted(by_day):
        for row in by_day[day]:
            if row.from_stage:
                running[Stage(row.from_stage)] -= row.people
            if row.to_stage:
                running[Stage(row.to_stage)] += row.people
        points.append(StageSeriesPoint(day=day, people=dict(running)))
    return points


def _up(row: Any) -> bool:
    return (
        bool(row.from_stage)
        and bool(row.to_stage)
        and (RANK[Stage(row.to_stage)] > RANK[Stage(row.from_stage)])
    )


def score_deciles(
    session: Session, *, workspace_id: int, campaign_id: int | None = None
) -> list[ScoreDecile]:
    """The engagement score's deciles: people ranked by score in ten equal groups, each with
    its lowest and highest score (from the tallies' whole points, so a bound is exact to the
    point; never a sort of everyone)."""
    histogram = [
        (int(b), int(n))
        for b, n in session.execute(
            select(LadderTally.bucket, func.sum(LadderTally.people))
            .where(
                LadderTally.workspace_id == workspace_id,
                LadderTally.campaign_id == _scope(campaign_id),
            )
            .group_by(LadderTally.bucket)
            .order_by(LadderTally.bucket)
        )
        if n
    ]
    total = sum(n for _b, n in histogram)
    if total == 0:
        return []
    deciles: list[ScoreDecile] = []
    seen = 0
    for b, n in histogram:
        first = seen * 10 // total + 1  # deciles this bucket's people fall in (by rank)
        last = (seen + n - 1) * 10 // total + 1
        for d in range(first, last + 1):
            lo_rank = max(seen, -(-(d - 1) * total // 10))
            hi_rank = min(seen + n, -(-d * total // 10))
            people = hi_rank - lo_rank
            if people <= 0:
                continue
            if deciles and deciles[-1].decile == d:
                prev = deciles[-1]
                deciles[-1] = ScoreDecile(
                    decile=d, low=prev.low, high=float(min(b + 1, 100)), people=prev.people + people
                )
            else:
                deciles.append(
                    ScoreDecile(decile=d, low=float(b), high=float(min(b + 1, 100)), people=people)
                )
        seen += n
    return deciles


def get_board(session: Session, *, actor: Actor, campaign_id: int | None = None) -> LadderBoard:
    """The ladder dashboard of the workspace or one campaign: people per stage now and per day,
    the flows between stages, the campaigns that moved people up, the score deciles. Reads
    only the stored states and daily flows (never the event log)."""
    require(actor, Permission.READ_PEOPLE)
    ws = actor.workspace_id
    if campaign_id is not None:
        campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)  # 404 elsewhere
    counts = stage_counts(session, workspace_id=ws, campaign_id=campaign_id)
    scope_rows = _flows(session, workspace_id=ws, scope=_scope(campaign_id))
    flows: dict[tuple[str, str], int] = defaultdict(int)
    for row in scope_rows:
        if _up(row):
            flows[(row.from_stage, row.to_stage)] += row.people
    moves: dict[int, dict[Stage, int]] = defaultdict(lambda: dict.fromkeys(STAGES[1:], 0))
    campaign_rows = (
        [r for r in _flows(session, workspace_id=ws, scope=None) if r.campaign_id]
        if campaign_id is None
        else scope_rows
    )
    for row in campaign_rows:
        if _up(row):
            moves[int(row.campaign_id)][Stage(row.to_stage)] += row.people
    names: dict[int, str] = {}
    for cid in moves:
        try:
            names[cid] = campaigns.get_campaign(session, actor=actor, campaign_id=cid).name
        except NotFound:
            names[cid] = _("Campaign %(id)d") % {"id": cid}
    cursor = session.get(LadderCursor, ws)
    return LadderBoard(
        campaign_id=campaign_id,
        rules=get_rules(session, workspace_id=ws),
        computed_at=cursor.computed_at if cursor else None,
        stages=[StageCount(stage=s, name=_(STAGE_LABELS[s]), people=counts[s]) for s in STAGES],
        series=_series(scope_rows),
        flows=[
            Flow(from_stage=Stage(a), to_stage=Stage(b), people=n)
            for (a, b), n in sorted(flows.items(), key=lambda kv: (RANK[Stage(kv[0][0])], kv[0][1]))
        ],
        campaigns=sorted(
            (
                CampaignMove(
                    campaign_id=cid,
                    campaign=names[cid],
                    moved_up=by_stage,
                    total=sum(by_stage.values()),
                )
                for cid, by_stage in moves.items()
            ),
            key=lambda m: (-m.total, m.campaign_id),
        ),
        deciles=score_deciles(session, workspace_id=ws, campaign_id=campaign_id),
    )


def get_person_ladder(session: Session, *, actor: Actor, person_id: int) -> PersonLadderRead:
    """One person's stage, score, stage per campaign and history of changes."""
    require(actor, Permission.READ_PEOPLE)
    person = owned_row(session, Person, person_id, actor=actor, missing=_("No such person."))
    states = session.execute(
        select(LadderState.campaign_id, LadderState.stage).where(
            LadderState.workspace_id == actor.workspace_id, LadderState.person_id == person_id
        )
    )
    changes = session.scalars(
        select(LadderChange)
        .where(LadderChange.person_id == person_id)
        .order_by(LadderChange.changed_at, LadderChange.id)
    )
    return PersonLadderRead(
        person_id=person_id,
        stage=Stage(person.stage) if person.stage else None,
        score=person.score,
        campaigns={int(c): Stage(s) for c, s in states},
        changes=[
            LadderChangeRead(
                campaign_id=c.campaign_id,
                from_stage=c.from_stage or None,
                to_stage=c.to_stage or None,
                changed_at=c.changed_at,
                cause=c.cause,
                cause_event_id=c.cause_event_id,
            )
            for c in changes
        ],
    )

"""The closeness ladder's rules, the storing of computed stages (with their history and the daily
flows), and the reads of the dashboard and a person's profile.

The computation itself reads the event log and lives in analytics (`im2.analytics.ladder`):
people sits below every domain that writes events, so it hands its results down to
`do_store_results` here, inside the transaction that holds this workspace's cursor
(`lock_cursor`), so two job runs never store the same change twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from im2.campaigns import service as campaigns
from im2.errors import InvalidInput, NotFound
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
    NONE,
    RANK,
    STAGE_LABELS,
    STAGES,
    WORKSPACE_SCOPE,
    CampaignMove,
    Flow,
    LadderBoard,
    LadderChangeRead,
    LadderRules,
    LadderRulesRead,
    PersonLadderRead,
    ScoreDecile,
    Stage,
    StageCount,
    StageSeriesPoint,
    StoreOutcome,
    SubjectResult,
)
from im2.people.models import Person, PersonIdentity, PersonMerge
from im2.people.schemas import IdentityKind
from im2.people.service import PERSON_ACTOR_PREFIX, VISITOR_ACTOR_PREFIX
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import get_workspace_by_id, record_audit, require

_CHUNK = 500  # ids per IN-list


# --- rules ----------------------------------------------------------------------------------


def require_read(actor: Actor) -> None:
    require(actor, Permission.READ_PEOPLE)


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


def check_rules(rules: LadderRules) -> LadderRules:
    """The rules that hold across fields (each field's own range is the model's)."""
    if rules.advocate_min_brought < rules.spreader_min_brought:
        raise InvalidInput(
            _("An advocate must bring at least as many people as a spreader (%(n)d or more).")
            % {"n": rules.spreader_min_brought},
            field="advocate_min_brought",
        )
    return rules


def do_update_rules(
    session: Session, *, actor: Actor, rules: LadderRules, now: datetime
) -> LadderRulesRead:
    """Replace the workspace's thresholds; the next ladder run recomputes everyone with them."""
    require(actor, Permission.WRITE_PEOPLE)
    check_rules(rules)
    before = get_rules(session, workspace_id=actor.workspace_id)
    row = session.get(LadderRuleSet, actor.workspace_id)
    values = rules.model_dump()
    if row is None:
        row = LadderRuleSet(
            workspace_id=actor.workspace_id, updated_at=now, updated_by=actor.label, **values
        )
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        row.updated_by = actor.label
    cursor = _cursor(session, workspace_id=actor.workspace_id, lock=False)
    cursor.full_due = True
    record_audit(
        session,
        actor=actor,
        workspace_id=actor.workspace_id,
        action="ladder.rules_updated",
        target_type="workspace",
        target_id=actor.workspace_id,
        summary=_("Closeness ladder rules changed"),
        before=before.model_dump(include=set(values)),
        after=values,
        now=now,
    )
    session.flush()
    return get_rules(session, workspace_id=actor.workspace_id)


# --- the computation's cursor and inputs ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class CursorState:
    workspace_id: int
    last_event_id: int
    computed_at: datetime | None
    full_at: datetime | None
    full_due: bool
    timezone: str


def _cursor(session: Session, *, workspace_id: int, lock: bool) -> LadderCursor:
    query = select(LadderCursor).where(LadderCursor.workspace_id == workspace_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        row = LadderCursor(
            workspace_id=workspace_id, last_event_id=0, computed_at=None, full_at=None
        )
        row.full_due = True
        session.add(row)
        session.flush()
        if lock:  # a concurrent run may have inserted it: take that row's lock
            row = session.scalars(query).one()
    return row


def lock_cursor(session: Session, *, workspace_id: int) -> CursorState:
    """The workspace's ladder cursor, locked until the transaction ends (PostgreSQL: a row
    lock; SQLite: the one write lock), so one ladder run at a time stores results."""
    row = _cursor(session, workspace_id=workspace_id, lock=True)
    workspace = get_workspace_by_id(session, workspace_id=workspace_id)
    return CursorState(
        workspace_id=workspace_id,
        last_event_id=int(row.last_event_id),
        computed_at=row.computed_at,
        full_at=row.full_at,
        full_due=bool(row.full_due),
        timezone=workspace.timezone,
    )


def actor_subjects(session: Session, *, workspace_id: int) -> list[tuple[str, str, bool]]:
    """(event actor id, subject "p:<person id>", restricted) for every actor identity (device,
    participant) of the workspace's live people: the computation counts people, not devices,
    and leaves restricted people out."""
    rows = session.execute(
        select(PersonIdentity.kind, PersonIdentity.value, Person.id, Person.restricted_at)
        .join(Person, Person.id == PersonIdentity.person_id)
        .where(
            PersonIdentity.workspace_id == workspace_id,
            PersonIdentity.kind.in_([IdentityKind.DEVICE.value, IdentityKind.PARTICIPANT.value]),
            Person.merged_into_id.is_(None),
        )
    )
    return [
        (
            (VISITOR_ACTOR_PREFIX + value) if kind == IdentityKind.DEVICE.value else value,
            f"{PERSON_ACTOR_PREFIX}{person_id}",
            restricted is not None,
        )
        for kind, value, person_id, restricted in rows
    ]


def people_changed_since(
    session: Session, *, workspace_id: int, since: datetime
) -> tuple[set[str], set[str]]:
    """(subjects to recompute, subjects to retire) because of who-is-who changes since the last
    run, which write no event: a merge (the kept person gains events, the merged one leaves),
    an undone merge (both recomputed), a restriction (the person leaves the ladder)."""
    recompute: set[str] = set()
    retire: set[str] = set()
    for kept, merged, undone_at in session.execute(
        select(PersonMerge.kept_id, PersonMerge.merged_id, PersonMerge.undone_at).where(
            PersonMerge.workspace_id == workspace_id,
            (PersonMerge.created_at >= since) | (PersonMerge.undone_at >= since),
        )
    ):
        recompute.add(f"{PERSON_ACTOR_PREFIX}{kept}")
        (recompute if undone_at is not None else retire).add(f"{PERSON_ACTOR_PREFIX}{merged}")
    for (person_id,) in session.execute(
        select(Person.id).where(Person.workspace_id == workspace_id, Person.restricted_at >= since)
    ):
        retire.add(f"{PERSON_ACTOR_PREFIX}{person_id}")
    return recompute - retire, retire


def stored_subjects(session: Session, *, workspace_id: int) -> set[str]:
    """The subjects with a workspace-level stage (what a full recomputation replaces)."""
    return set(
        session.scalars(
            select(LadderState.subject).where(
                LadderState.workspace_id == workspace_id,
                LadderState.campaign_id == WORKSPACE_SCOPE,
            )
        )
    )


# --- storing results ------------------------------------------------------------------------


def _person_id(subject: str) -> int | None:
    if subject.startswith(PERSON_ACTOR_PREFIX):
        return int(subject.removeprefix(PERSON_ACTOR_PREFIX))
    return None


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def do_store_results(
    session: Session,
    *,
    cursor: CursorState,
    results: Sequence[SubjectResult],
    retire: Iterable[str] = (),
    full: bool,
    last_event_id: int,
    now: datetime,
) -> StoreOutcome:
    """Store the recomputed subjects: their stage per scope (inserted or updated), a change row
    for every stage passed (at the time of the event that completed it) or lost (rules
    changed: at `now`), the daily flows, and the workspace-level stage, score and last seen of
    persons. Subjects in `retire` (and, when `full`, every stored subject not in `results`)
    leave the ladder. Moves the cursor to `last_event_id`. The caller holds `lock_cursor`."""
    ws = cursor.workspace_id
    zone = ZoneInfo(cursor.timezone)
    subjects = sorted({r.subject for r in results})
    old: dict[tuple[int, str], tuple[int, str, int | None, float]] = {}
    query = select(
        LadderState.id,
        LadderState.campaign_id,
        LadderState.subject,
        LadderState.stage,
        LadderState.person_id,
        LadderState.score,
    ).where(LadderState.workspace_id == ws)
    if full:
        rows: Iterable[Any] = session.execute(query)
    else:
        wanted = sorted(set(subjects) | set(retire))
        rows = (
            row
            for part in _chunks(wanted)
            for row in session.execute(query.where(LadderState.subject.in_(part)))
        )
    for state_id, campaign_id, subject, stage, person_id, score in rows:
        old[(int(campaign_id), str(subject))] = (int(state_id), str(stage), person_id, score)

    changes: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    persons: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    tally: dict[tuple[int, str, int], int] = defaultdict(int)

    def change(
        campaign_id: int,
        subject: str,
        person_id: int | None,
        before: str,
        after: str,
        at: datetime,
        cause: str,
        event_id: int | None,
    ) -> None:
        changes.append(
            {
                "workspace_id": ws,
                "campaign_id": campaign_id,
                "subject": subject,
                "person_id": person_id,
                "from_stage": before,
                "to_stage": after,
                "changed_at": at,
                "cause": cause[:48],
                "cause_event_id": event_id,
                "recorded_at": now,
            }
        )

    for r in results:
        key = (r.campaign_id, r.subject)
        seen.add(key)
        previous = old.get(key)
        before = previous[1] if previous else NONE
        after = r.stage.value
        if before != after:
            if before == NONE or RANK[Stage(before)] < RANK[r.stage]:
                # Every stage passed, at the time of the event that completed it.
                start = RANK[Stage(before)] + 1 if before != NONE else 0
                prior = before
                for stage, step in r.steps[start:]:
                    change(
                        r.campaign_id,
                        r.subject,
                        r.person_id,
                        prior,
                        stage.value,
                        step.at,
                        step.cause,
                        step.event_id,
                    )
                    prior = stage.value
            else:  # down: only new rules (or an undone merge) take a stage away
                change(r.campaign_id, r.subject, r.person_id, before, after, now, "rules", None)
        values = {
            "stage": after,
            "score": r.score,
            "last_seen_at": r.last_seen_at,
            "brought": r.brought,
            "campaigns": r.campaigns,
            "weeks": r.weeks,
            "active_days": r.active_days,
            "updated_at": now,
        }
        tally[(r.campaign_id, after, _bucket(r.score))] += 1
        if previous is not None and not full:
            tally[(r.campaign_id, previous[1], _bucket(previous[3]))] -= 1
        if previous is None:
            inserts.append(
                {
                    "workspace_id": ws,
                    "campaign_id": r.campaign_id,
                    "subject": r.subject,
                    "person_id": r.person_id,
                    **values,
                }
            )
        else:
            updates.append({"id": previous[0], **values})
        if r.campaign_id == WORKSPACE_SCOPE and r.person_id is not None:
            persons.append(
                {
                    "id": r.person_id,
                    "stage": after,
                    "score": r.score,
                    "last_seen_at": r.last_seen_at,
                }
            )

    retired = set(retire)
    gone = [
        (key, value)
        for key, value in old.items()
        if key not in seen and (full or key[1] in retired)
    ]
    for (campaign_id, subject), (_id, stage, person_id, score) in gone:
        change(campaign_id, subject, person_id, stage, NONE, now, "left", None)
        if not full:
            tally[(campaign_id, stage, _bucket(score))] -= 1
        if campaign_id == WORKSPACE_SCOPE and person_id is not None:
            persons.append({"id": person_id, "stage": None, "score": None})
    if full:
        # Every state is rewritten: one delete and one bulk insert cost less than updating
        # each row by id.
        session.execute(delete(LadderState).where(LadderState.workspace_id == ws))
        by_id = {state_id: key for key, (state_id, _s, _p, _score) in old.items()}
        inserts += [
            {
                "workspace_id": ws,
                "campaign_id": by_id[u["id"]][0],
                "subject": by_id[u["id"]][1],
                "person_id": old[by_id[u["id"]]][2],
                **{k: v for k, v in u.items() if k != "id"},
            }
            for u in updates
        ]
        updates = []
    else:
        for part in _chunks([state_id for _key, (state_id, _s, _p, _score) in gone]):
            session.execute(delete(LadderState).where(LadderState.id.in_(part)))
    _bulk_insert(session, LadderState.__tablename__, inserts)
    if updates:
        session.execute(update(LadderState), updates)
    if persons:
        # Persons of `results` come from the live identities just read; one merged away
        # meanwhile is still a row (merges keep it), so the update always finds it.
        session.execute(update(Person), persons)
    if changes:
        _bulk_insert(session, LadderChange.__tablename__, changes)
        _add_flows(session, workspace_id=ws, changes=changes, zone=zone)
    _add_tallies(session, workspace_id=ws, tally=tally, replace=full)

    row = _cursor(session, workspace_id=ws, lock=False)
    row.last_event_id = max(int(row.last_event_id), last_event_id)
    row.computed_at = now
    if full:
        row.full_at = now
        row.full_due = False
    session.flush()
    return StoreOutcome(subjects=len(results), changes=len(changes), removed=len(gone))


def _bulk_insert(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert many rows straight through the driver, inside the session's transaction: the
    ORM's per-row work cost ten times the database's own at a million states. Times are
    stored as SQLAlchemy stores them (SQLite: UTC text without an offset)."""
    if not rows:
        return
    columns = list(rows[0])
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"

    def value(v: Any) -> Any:
        if sqlite and isinstance(v, datetime):
            if v.utcoffset():
                v = v.astimezone(UTC)
            return v.replace(tzinfo=None).isoformat(" ", "microseconds")
        return v

    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (our own table and columns)
        f"VALUES ({', '.join([mark] * len(columns))})"
    )
    cursor = connection.connection.cursor()
    try:
        for part in range(0, len(rows), 50_000):
            cursor.executemany(
                sql, [tuple(value(r[c]) for c in columns) for r in rows[part : part + 50_000]]
            )
    finally:
        cursor.close()


def _bucket(score: float) -> int:
    return min(max(int(score), 0), 100)


def _add_tallies(
    session: Session, *, workspace_id: int, tally: dict[tuple[int, str, int], int], replace: bool
) -> None:
    """Add the counts (`replace`: they are the whole, the old rows go)."""
    if replace:
        session.execute(delete(LadderTally).where(LadderTally.workspace_id == workspace_id))
        existing: dict[tuple[int, str, int], int] = {}
    else:
        existing = {
            (int(c), str(stage), int(b)): int(i)
            for i, c, stage, b in session.execute(
                select(
                    LadderTally.id, LadderTally.campaign_id, LadderTally.stage, LadderTally.bucket
                ).where(
                    LadderTally.workspace_id == workspace_id,
                    LadderTally.campaign_id.in_(sorted({k[0] for k in tally})),
                )
            )
        }
    news: list[dict[str, Any]] = []
    for (campaign_id, stage, bucket), n in tally.items():
        if n == 0:
            continue
        found = existing.get((campaign_id, stage, bucket))
        if found is None:
            news.append(
                {
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "stage": stage,
                    "bucket": bucket,
                    "people": n,
                }
            )
        else:
            session.execute(
                update(LadderTally)
                .where(LadderTally.id == found)
                .values(people=LadderTally.people + n)
            )
    if news:
        session.execute(insert(LadderTally), news)


def _add_flows(
    session: Session, *, workspace_id: int, changes: list[dict[str, Any]], zone: ZoneInfo
) -> None:
    counts: dict[tuple[int, date, str, str], int] = defaultdict(int)
    for c in changes:
        day = c["changed_at"].astimezone(zone).date()
        counts[(c["campaign_id"], day, c["from_stage"], c["to_stage"])] += 1
    existing: dict[tuple[int, date, str, str], int] = {}
    days = sorted({k[1] for k in counts})
    for part in _chunks(days):
        for flow_id, campaign_id, day, before, after in session.execute(
            select(
                LadderFlow.id,
                LadderFlow.campaign_id,
                LadderFlow.day,
                LadderFlow.from_stage,
                LadderFlow.to_stage,
            ).where(LadderFlow.workspace_id == workspace_id, LadderFlow.day.in_(part))
        ):
            existing[(int(campaign_id), day, before, after)] = int(flow_id)
    news: list[dict[str, Any]] = []
    for key, n in counts.items():
        found = existing.get(key)
        if found is None:
            campaign_id, day, before, after = key
            news.append(
                {
                    "workspace_id": workspace_id,
                    "campaign_id": campaign_id,
                    "day": day,
                    "from_stage": before,
                    "to_stage": after,
                    "people": n,
                }
            )
        else:
            session.execute(
                update(LadderFlow)
                .where(LadderFlow.id == found)
                .values(people=LadderFlow.people + n)
            )
    if news:
        session.execute(insert(LadderFlow), news)


# --- reads ----------------------------------------------------------------------------------


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
    person = session.get(Person, person_id)
    if person is None or person.workspace_id != actor.workspace_id:
        raise NotFound(_("No such person."))
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

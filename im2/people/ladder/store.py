"""Storing the closeness ladder's computed stages: the workspace's cursor (one run at a time),
each subject's stage per scope, a change row for every stage passed or lost, the daily flows
and the score tallies the dashboard reads.

The computation reads the event log in analytics (`im2.analytics.ladder`) and hands its results
down to `do_store_results` inside the transaction that holds the cursor (`lock_cursor`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from im2.people.ladder.models import (
    LadderChange,
    LadderCursor,
    LadderFlow,
    LadderState,
    LadderTally,
)
from im2.people.ladder.schemas import (
    NONE,
    RANK,
    WORKSPACE_SCOPE,
    Stage,
    StoreOutcome,
    SubjectResult,
)
from im2.people.models import Person
from im2.workspaces.service import get_workspace_by_id

_CHUNK = 500  # ids per IN-list

# (campaign id, subject) -> (state id, stage, person id, score)
_States = dict[tuple[int, str], tuple[int, str, int | None, float]]


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


def mark_full_due(session: Session, *, workspace_id: int) -> None:
    """The next ladder run recomputes everyone (the rules changed)."""
    _cursor(session, workspace_id=workspace_id, lock=False).full_due = True


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


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _old_states(session: Session, *, workspace_id: int, wanted: list[str] | None) -> _States:
    """The stored states of the workspace (`wanted`: of those subjects only)."""
    query = select(
        LadderState.id,
        LadderState.campaign_id,
        LadderState.subject,
        LadderState.stage,
        LadderState.person_id,
        LadderState.score,
    ).where(LadderState.workspace_id == workspace_id)
    if wanted is None:
        rows: Iterable[Any] = session.execute(query)
    else:
        rows = (
            row
            for part in _chunks(wanted)
            for row in session.execute(query.where(LadderState.subject.in_(part)))
        )
    return {
        (int(campaign_id), str(subject)): (int(state_id), str(stage), person_id, score)
        for state_id, campaign_id, subject, stage, person_id, score in rows
    }


@dataclass(slots=True)
class _Writes:
    """The rows one store writes, gathered before any is written."""

    workspace_id: int
    now: datetime
    full: bool
    changes: list[dict[str, Any]] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)
    tally: dict[tuple[int, str, int], int] = field(default_factory=lambda: defaultdict(int))

    def change(
        self,
        campaign_id: int,
        subject: str,
        person_id: int | None,
        before: str,
        after: str,
        at: datetime,
        cause: str,
        event_id: int | None,
    ) -> None:
        self.changes.append(
            {
                "workspace_id": self.workspace_id,
                "campaign_id": campaign_id,
                "subject": subject,
                "person_id": person_id,
                "from_stage": before,
                "to_stage": after,
                "changed_at": at,
                "cause": cause[:48],
                "cause_event_id": event_id,
                "recorded_at": self.now,
            }
        )

    def _stage_changes(self, r: SubjectResult, before: str) -> None:
        after = r.stage.value
        if before == after:
            return
        if before == NONE or RANK[Stage(before)] < RANK[r.stage]:
            # Every stage passed, at the time of the event that completed it.
            start = RANK[Stage(before)] + 1 if before != NONE else 0
            prior = before
            for stage, step in r.steps[start:]:
                self.change(
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
            self.change(
                r.campaign_id, r.subject, r.person_id, before, after, self.now, "rules", None
            )

    def add(self, r: SubjectResult, previous: tuple[int, str, int | None, float] | None) -> None:
        """One recomputed subject in one scope (`previous`: its stored state)."""
        after = r.stage.value
        self._stage_changes(r, previous[1] if previous else NONE)
        values = {
            "stage": after,
            "score": r.score,
            "last_seen_at": r.last_seen_at,
            "brought": r.brought,
            "campaigns": r.campaigns,
            "weeks": r.weeks,
            "active_days": r.active_days,
            "updated_at": self.now,
        }
        self.tally[(r.campaign_id, after, _bucket(r.score))] += 1
        if previous is not None and not self.full:
            self.tally[(r.campaign_id, previous[1], _bucket(previous[3]))] -= 1
        if previous is None:
            self.inserts.append(
                {
                    "workspace_id": self.workspace_id,
                    "campaign_id": r.campaign_id,
                    "subject": r.subject,
                    "person_id": r.person_id,
                    **values,
                }
            )
        else:
            self.updates.append({"id": previous[0], **values})
        if r.campaign_id == WORKSPACE_SCOPE and r.person_id is not None:
            self.persons.append(
                {
                    "id": r.person_id,
                    "stage": after,
                    "score": r.score,
                    "last_seen_at": r.last_seen_at,
                }
            )

    def leave(self, gone: list[tuple[tuple[int, str], tuple[int, str, int | None, float]]]) -> None:
        """Stored states that leave the ladder."""
        for (campaign_id, subject), (_id, stage, person_id, score) in gone:
            self.change(campaign_id, subject, person_id, stage, NONE, self.now, "left", None)
            if not self.full:
                self.tally[(campaign_id, stage, _bucket(score))] -= 1
            if campaign_id == WORKSPACE_SCOPE and person_id is not None:
                self.persons.append({"id": person_id, "stage": None, "score": None})


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
    retired = set(retire)
    wanted = None if full else sorted({r.subject for r in results} | retired)
    old = _old_states(session, workspace_id=ws, wanted=wanted)
    writes = _Writes(workspace_id=ws, now=now, full=full)
    seen: set[tuple[int, str]] = set()
    for r in results:
        key = (r.campaign_id, r.subject)
        seen.add(key)
        writes.add(r, old.get(key))
    gone = [
        (key, value)
        for key, value in old.items()
        if key not in seen and (full or key[1] in retired)
    ]
    writes.leave(gone)
    _write(session, writes, old=old, gone=gone, zone=ZoneInfo(cursor.timezone))

    row = _cursor(session, workspace_id=ws, lock=False)
    row.last_event_id = max(int(row.last_event_id), last_event_id)
    row.computed_at = now
    if full:
        row.full_at = now
        row.full_due = False
    session.flush()
    return StoreOutcome(subjects=len(results), changes=len(writes.changes), removed=len(gone))


def _write(
    session: Session,
    writes: _Writes,
    *,
    old: _States,
    gone: list[tuple[tuple[int, str], tuple[int, str, int | None, float]]],
    zone: ZoneInfo,
) -> None:
    ws = writes.workspace_id
    inserts, updates = writes.inserts, writes.updates
    if writes.full:
        # Every state is rewritten: one delete and one bulk insert cost less than updating
        # each row by id.
        session.execute(delete(LadderState).where(LadderState.workspace_id == ws))
        by_id = {state_id: key for key, (state_id, _s, _p, _score) in old.items()}
        inserts = inserts + [
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
    if writes.persons:
        # Persons of `results` come from the live identities just read; one merged away
        # meanwhile is still a row (merges keep it), so the update always finds it.
        session.execute(update(Person), writes.persons)
    if writes.changes:
        _bulk_insert(session, LadderChange.__tablename__, writes.changes)
        _add_flows(session, workspace_id=ws, changes=writes.changes, zone=zone)
    _add_tallies(session, workspace_id=ws, tally=writes.tally, replace=writes.full)


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

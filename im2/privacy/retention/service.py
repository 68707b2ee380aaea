"""Retention: a workspace's policy, and what one run does under it.

A run (`run_retention`) takes three steps, each idempotent (a second run finds nothing to do):
- **IPs**: participants' first IPs and coupon redemptions' IPs older than `ip_days` are cleared
  (the IP and its keyed hash): one UPDATE per table.
- **UGC media**: the media files of entries whose campaign ended `media_days` ago or more are
  deleted and the row's file column cleared (the entry, its caption and votes stay).
- **Inactive people**: people not seen for `inactive_days` (their `last_seen_at`, or when they
  were created if never seen) are anonymised by erasure's anonymiser in batches of `BATCH`
  (`im2.privacy.erasure.erase_people`: one transaction and one set of statements per table
  per batch, the same result as erasing each alone): their rows stay countable under an
  anonymous stand-in, their events are rewritten in the database now and in the lake by the
  erasure's lake job (one pass over the day files for all of them).

Each file is its own item (`im2.isolation`), and so is each person of a batch that failed
(done again one by one): one failure is counted and noted on the run, the others go on. A run
anonymises at most `limit` people and is then "partial"; the job's next tick goes on from
there.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, exists, select, update
from sqlalchemy.orm import Session

from im2 import isolation
from im2.db import Database
from im2.errors import InvalidInput
from im2.i18n import _
from im2.privacy.erasure import STAND_IN_CONSENT, erase_people, inactive_clause
from im2.privacy.inventory import declared_tables, table_of
from im2.privacy.retention.models import RetentionPolicy, RetentionRun
from im2.privacy.retention.schemas import (
    INACTIVE_DAYS,
    IP_DAYS,
    MEDIA_DAYS,
    IpKeep,
    RetentionPolicyRead,
    RetentionPolicyUpdate,
    RetentionRunRead,
    RunStatus,
)
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

log = logging.getLogger("im2.privacy")

JOB = "privacy_retention"
PEOPLE_PER_RUN = 5000
# People per transaction of the anonymisation (`erase_people`).
BATCH = 500
ERRORS_KEPT = 10
# Tables with a raw IP column other than participants' (whose IP is encrypted, with a hash).
PLAIN_IP_COLUMNS = (("coupon_redemptions", "ip", "created_at"),)


# --- the policy ---------------------------------------------------------------------------------


def _policy_read(row: RetentionPolicy | None) -> RetentionPolicyRead:
    if row is None:
        return RetentionPolicyRead(
            inactive_days=None,
            ip_days=None,
            ip_keep=IpKeep.NONE,
            media_days=None,
            updated_at=None,
            updated_by=None,
        )
    return RetentionPolicyRead(
        inactive_days=row.inactive_days,
        ip_days=row.ip_days,
        ip_keep=IpKeep(row.ip_keep),
        media_days=row.media_days,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def get_policy(session: Session, *, actor: Actor) -> RetentionPolicyRead:
    require(actor, Permission.READ_PEOPLE)
    return _policy_read(session.get(RetentionPolicy, actor.workspace_id))


def _check_days(value: int | None, bounds: tuple[int, int], field: str) -> None:
    low, high = bounds
    if value is not None and not low <= value <= high:
        raise InvalidInput(
            _("Enter a number of days from {low} to {high}, or leave it empty.").format(
                low=low, high=high
            ),
            field=field,
        )


def do_set_policy(
    session: Session, *, actor: Actor, data: RetentionPolicyUpdate, now: datetime
) -> RetentionPolicyRead:
    require(actor, Permission.WRITE_PEOPLE)
    _check_days(data.inactive_days, INACTIVE_DAYS, "inactive_days")
    _check_days(data.ip_days, IP_DAYS, "ip_days")
    _check_days(data.media_days, MEDIA_DAYS, "media_days")
    row = session.get(RetentionPolicy, actor.workspace_id, with_for_update=True)
    before = None if row is None else _policy_read(row).model_dump(mode="json")
    if row is None:
        row = RetentionPolicy(workspace_id=actor.workspace_id, updated_at=now, updated_by="")
        session.add(row)
    row.inactive_days = data.inactive_days
    row.ip_days = data.ip_days
    row.ip_keep = data.ip_keep.value
    row.media_days = data.media_days
    row.updated_at = now
    row.updated_by = actor.label
    session.flush()
    record_audit(
        session,
        actor,
        "retention.update",
        ("retention_policy", None),
        "retention policy",
        now=now,
        before=before,
        after=_policy_read(row).model_dump(mode="json"),
    )
    return _policy_read(row)


def _run_read(row: RetentionRun) -> RetentionRunRead:
    return RetentionRunRead(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        people_anonymised=row.people_anonymised,
        ips_truncated=row.ips_truncated,
        media_deleted=row.media_deleted,
        failures=row.failures,
        errors=row.errors,
        status=RunStatus(row.status),
    )


def list_runs(session: Session, *, actor: Actor, limit: int = 10) -> list[RetentionRunRead]:
    require(actor, Permission.READ_PEOPLE)
    rows = session.scalars(
        select(RetentionRun)
        .where(RetentionRun.workspace_id == actor.workspace_id)
        .order_by(RetentionRun.id.desc())
        .limit(limit)
    )
    return [_run_read(r) for r in rows]


# --- the steps ----------------------------------------------------------------------------------


def clear_ips(session: Session, *, workspace_id: int, before: datetime) -> int:
    """Clear the IPs first seen before `before` (and their keyed hashes). Returns how many."""
    participants = table_of("participants")
    done = session.execute(
        update(participants)
        .where(
            participants.c.workspace_id == workspace_id,
            participants.c.created_at < before,
            participants.c.first_ip.is_not(None),
        )
        .values(first_ip=None, first_ip_hash=None)
    )
    count = int(getattr(done, "rowcount", 0) or 0)
    for name, column, when in PLAIN_IP_COLUMNS:
        table = table_of(name)
        done = session.execute(
            update(table)
            .where(
                table.c.workspace_id == workspace_id,
                table.c[when] < before,
                table.c[column].is_not(None),
            )
            .values({column: None})
        )
        count += int(getattr(done, "rowcount", 0) or 0)
    return count


@dataclass(frozen=True, slots=True)
class MediaItem:
    table: str
    pk: Any
    path: Path
    columns: tuple[str, ...]  # the columns the file name is made of (cleared once deleted)


def _fields(template: str) -> tuple[str, ...]:
    return tuple(name for _t, name, _s, _c in string.Formatter().parse(template) if name)


def due_media(
    session: Session, *, workspace_id: int, ended_before: datetime, media_path: Path
) -> list[MediaItem]:
    """Media files of rows whose campaign ended before `ended_before` (rows of a table that
    declares `media` and has an `activity_id` or `campaign_id`)."""
    campaigns = table_of("campaigns")
    activities = table_of("activities")
    found: list[MediaItem] = []
    for name, decls in sorted(declared_tables().items()):
        for data in decls:
            if data.media is None:
                continue
            table = table_of(name)
            fields = _fields(data.media)
            if "activity_id" in table.c:
                join = table.join(activities, activities.c.id == table.c.activity_id).join(
                    campaigns, campaigns.c.id == activities.c.campaign_id
                )
            elif "campaign_id" in table.c:
                join = table.join(campaigns, campaigns.c.id == table.c.campaign_id)
            else:
                continue
            pk = next(iter(table.primary_key.columns))
            rows = session.execute(
                select(table)
                .select_from(join)
                .where(
                    campaigns.c.workspace_id == workspace_id,
                    campaigns.c.ends_at < ended_before,
                    *(table.c[f].is_not(None) for f in fields),
                )
                .order_by(pk)
            ).all()
            for row in rows:
                values = dict(row._mapping)
                found.append(
                    MediaItem(
                        table=name,
                        pk=values[pk.name],
                        path=media_path / data.media.format(**values),
                        columns=tuple(f for f in fields if f in data.personal_columns),
                    )
                )
    return found


def delete_media(session: Session, item: MediaItem) -> bool:
    """Delete the file and clear the row's file name; True when a file was removed."""
    table = table_of(item.table)
    pk = next(iter(table.primary_key.columns))
    if item.columns:
        session.execute(update(table).where(pk == item.pk).values(dict.fromkeys(item.columns)))
    removed = item.path.is_file()
    item.path.unlink(missing_ok=True)
    return removed


def inactive_people(
    session: Session, *, workspace_id: int, before: datetime, limit: int
) -> list[int]:
    """Live people not seen since `before` (or, never seen, created before it), oldest first,
    leaving out the anonymous stand-ins erasure made (already anonymous)."""
    people = table_of("people")
    identities = table_of("person_identities")
    participants = table_of("participants")
    stand_in = exists().where(
        identities.c.person_id == people.c.id,
        identities.c.kind == "participant",
        identities.c.value.in_(
            select(cast(participants.c.id, String)).where(
                participants.c.workspace_id == workspace_id,
                participants.c.consent_version == STAND_IN_CONSENT,
            )
        ),
    )
    rows = session.scalars(
        select(people.c.id)
        .where(
            people.c.workspace_id == workspace_id,
            people.c.merged_into_id.is_(None),
            inactive_clause(people, before),
            ~stand_in,
        )
        .order_by(people.c.id)
        .limit(limit)
    )
    return [int(r) for r in rows]


# --- a run --------------------------------------------------------------------------------------


def anonymise_people(
    db: Database,
    *,
    workspace_id: int,
    person_ids: list[int],
    inactive_since: datetime,
    now: datetime,
    lake_path: Path,
    media_path: Path,
    tally: _Tally,
    batch: int = BATCH,
) -> int:
    """Anonymise these people in batches, each one transaction of set-based statements
    (`erase_people`): a crash loses no half-anonymised person and the next run goes on. Each
    person is re-checked under their locked row (still inactive, no event since): one who
    acted since they were chosen is kept. A batch that fails is done again person by person,
    so one person's bad data is counted and noted and the others are anonymised. Returns how
    many were anonymised."""
    anonymised = 0

    def one(person_id: int) -> bool:
        with db.transaction() as session:
            reports = erase_people(
                session,
                workspace_id=workspace_id,
                person_ids=[person_id],
                now=now,
                lake_path=lake_path,
                media_path=media_path,
                reason="retention",
                inactive_since=inactive_since,
            )
        return any(not r.already_erased for r in reports)

    for start in range(0, len(person_ids), batch):
        chunk = person_ids[start : start + batch]
        try:
            with db.transaction() as session:
                reports = erase_people(
                    session,
                    workspace_id=workspace_id,
                    person_ids=chunk,
                    now=now,
                    lake_path=lake_path,
                    media_path=media_path,
                    reason="retention",
                    inactive_since=inactive_since,
                )
            anonymised += sum(1 for r in reports if not r.already_erased)
        except Exception:
            log.exception(
                "job %s: a batch of %s people of workspace %s failed; one by one",
                JOB,
                len(chunk),
                workspace_id,
            )
            done = isolation.each(
                chunk,
                one,
                job=JOB,
                key=lambda p: f"person {p}",
                failed=lambda p, exc: tally.failed(f"person {p}", exc),
            )
            anonymised += sum(1 for erased in done.results if erased)
    return anonymised


@dataclass
class _Tally:
    failures: int = 0
    errors: list[str] | None = None

    def failed(self, key: str, exc: Exception) -> None:
        self.failures += 1
        if self.errors is None:
            self.errors = []
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(f"{key}: {isolation.describe(exc, 200)}")


def run_retention(
    db: Database,
    *,
    workspace_id: int,
    now: datetime,
    lake_path: Path,
    media_path: Path,
    limit: int = PEOPLE_PER_RUN,
) -> RetentionRunRead | None:
    """One run over one workspace under its policy (None when it has none). Each step and
    each item commits on its own; the run's record says what was done."""
    with db.transaction() as session:
        policy = session.get(RetentionPolicy, workspace_id)
        if policy is None:
            return None
        inactive, ip_days, media_days = policy.inactive_days, policy.ip_days, policy.media_days
        run = RetentionRun(workspace_id=workspace_id, started_at=now, status=RunStatus.RUNNING)
        session.add(run)
        session.flush()
        run_id = run.id
    tally = _Tally()
    ips = media = people = 0
    if ip_days is not None:
        try:
            with db.transaction() as session:
                ips = clear_ips(
                    session, workspace_id=workspace_id, before=now - timedelta(days=ip_days)
                )
        except Exception as exc:
            log.exception("job %s: clearing IPs of workspace %s failed", JOB, workspace_id)
            tally.failed("ips", exc)
    if media_days is not None:
        with db.session() as session:
            items = due_media(
                session,
                workspace_id=workspace_id,
                ended_before=now - timedelta(days=media_days),
                media_path=media_path,
            )

        def drop(item: MediaItem) -> bool:
            with db.transaction() as session:
                return delete_media(session, item)

        outcome = isolation.each(
            items,
            drop,
            job=JOB,
            key=lambda i: f"{i.table} {i.pk}",
            failed=lambda i, exc: tally.failed(f"{i.table} {i.pk}", exc),
        )
        media = sum(1 for removed in outcome.results if removed)
    partial = False
    if inactive is not None:
        with db.session() as session:
            ids = inactive_people(
                session,
                workspace_id=workspace_id,
                before=now - timedelta(days=inactive),
                limit=limit,
            )
        partial = len(ids) >= limit
        people = anonymise_people(
            db,
            workspace_id=workspace_id,
            person_ids=ids,
            inactive_since=now - timedelta(days=inactive),
            now=now,
            lake_path=lake_path,
            media_path=media_path,
            tally=tally,
        )
    with db.transaction() as session:
        row = session.get(RetentionRun, run_id)
        assert row is not None
        row.finished_at = now
        row.ips_truncated = ips
        row.media_deleted = media
        row.people_anonymised = people
        row.failures = tally.failures
        row.errors = "\n".join(tally.errors or [])
        row.status = (RunStatus.PARTIAL if partial else RunStatus.DONE).value
        return _run_read(row)


def due_workspaces(session: Session, *, now: datetime, every: timedelta) -> list[int]:
    """Workspaces with a policy whose last run is older than `every`, or stopped partial."""
    found = []
    for workspace_id in session.scalars(
        select(RetentionPolicy.workspace_id).order_by(RetentionPolicy.workspace_id)
    ):
        previous = session.execute(
            select(RetentionRun.started_at, RetentionRun.status)
            .where(RetentionRun.workspace_id == workspace_id)
            .order_by(RetentionRun.id.desc())
            .limit(1)
        ).first()
        if (
            previous is None
            or previous.status == RunStatus.PARTIAL.value
            or previous.started_at <= now - every
        ):
            found.append(int(workspace_id))
    return found

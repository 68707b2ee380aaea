"""The console's side of a UGC contest: create and edit it, moderate entries, jury scores,
the ranking, winners, and the export. Callers own the transaction; nothing here commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.ugc.models import UgcEntry, UgcScore, UgcVote
from im2.activities.formats.ugc.schemas import (
    EntryRead,
    EntryStatus,
    Ranking,
    UgcCreate,
    UgcSettings,
    UgcUpdate,
)
from im2.activities.formats.ugc.service import (
    describe_flags,
    entries_of,
    entry_read,
    ranking,
    scores_of,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignStatus
from im2.errors import Conflict, Forbidden, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.masking import mask_all, mask_fields, masked_for
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require


def settings_from(data: UgcCreate) -> dict[str, Any]:
    return UgcSettings(
        hashtag=data.hashtag.lstrip("#"),
        allow_images=data.allow_images,
        allow_videos=data.allow_videos,
        entries_per_participant=data.entries_per_participant,
        votes_per_day=data.votes_per_day,
        jury_weight=data.jury_weight,
        keywords=sorted({k.lower() for k in data.keywords}),
        flag_negative=data.flag_negative,
        auto_approve=data.auto_approve,
        winners=data.winners,
    ).model_dump(mode="json")


def _contest(session: Session, *, actor: Actor, activity_id: int) -> Activity:
    return activities.load_activity(
        session, actor=actor, activity_id=activity_id, kind=ActivityKind.UGC
    )


def do_create_ugc(
    session: Session, *, actor: Actor, campaign_id: int, data: UgcCreate, now: datetime
) -> ActivityRead:
    if not data.allow_images and not data.allow_videos:
        raise InvalidInput(_("Allow photos, video links or both."), field="allow_images")
    row = activities.create_activity_row(
        session,
        actor=actor,
        campaign_id=campaign_id,
        kind=ActivityKind.UGC,
        title=data.title,
        description=data.description,
        settings=settings_from(data),
        now=now,
    )
    return activities.to_read(row)


def do_update_ugc(
    session: Session, *, actor: Actor, activity_id: int, data: UgcUpdate, now: datetime
) -> ActivityRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _contest(session, actor=actor, activity_id=activity_id)
    before = {"title": row.title, "description": row.description, **row.settings}
    if data.title is not None:
        row.title = data.title
    if data.description is not None:
        row.description = data.description
    changes: dict[str, Any] = {}
    if data.keywords is not None:
        changes["keywords"] = sorted({k.lower() for k in data.keywords})
    if data.jury_weight is not None:
        if any(
            e.winner_rank
            for e in entries_of(session, activity_id=row.id, statuses=(EntryStatus.APPROVED,))
        ):
            raise Conflict(_("The winners are marked; the ranking rule can no longer change."))
        changes["jury_weight"] = data.jury_weight
    if data.votes_per_day is not None:
        changes["votes_per_day"] = data.votes_per_day
    if data.auto_approve is not None:
        changes["auto_approve"] = data.auto_approve
    row.settings = {**row.settings, **changes}
    row.updated_at = now
    after = {"title": row.title, "description": row.description, **row.settings}
    changed = {k for k in after if after[k] != before.get(k)}
    if changed:
        activities.record_console_write(
            session,
            actor=actor,
            activity=row,
            kind=EventKind.ACTIVITY_UPDATED,
            action="activity.update",
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
            now=now,
        )
    return activities.to_read(row)


def list_entries(
    session: Session, *, actor: Actor, activity_id: int, status: EntryStatus | None
) -> list[EntryRead]:
    """The moderation queue (status=pending) or any other part of the contest's entries."""
    require(actor, Permission.READ_CAMPAIGNS)
    row = _contest(session, actor=actor, activity_id=activity_id)
    statuses = (status,) if status else tuple(EntryStatus)
    rows = entries_of(session, activity_id=row.id, statuses=statuses)
    if status is EntryStatus.PENDING:
        rows.reverse()  # oldest first: the queue is worked through in arrival order
    # Authors' nicknames are masked for roles without people:read (captions stay whole).
    return mask_all([entry_read(e) for e in rows], masked=masked_for(actor))


def get_ranking(session: Session, *, actor: Actor, activity_id: int) -> Ranking:
    require(actor, Permission.READ_CAMPAIGNS)
    found = ranking(session, activity=_contest(session, actor=actor, activity_id=activity_id))
    if not masked_for(actor):
        return found
    entries = [
        r.model_copy(update={"entry": mask_fields(r.entry, masked=True)}) for r in found.entries
    ]
    return found.model_copy(update={"entries": entries})


def my_scores(session: Session, *, actor: Actor, activity_id: int) -> dict[int, int]:
    """The scores this console user gave, by entry."""
    found = scores_of(session, activity_id=activity_id)
    return {
        entry_id: score
        for entry_id, pairs in found.items()
        for juror, score in pairs
        if juror == actor.id
    }


def do_moderate_entry(
    session: Session, *, actor: Actor, activity_id: int, entry_id: int, approve: bool, now: datetime
) -> EntryRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _contest(session, actor=actor, activity_id=activity_id)
    entry = session.get(UgcEntry, entry_id)
    if entry is None or entry.activity_id != row.id:
        raise NotFound(_("There is no such entry in this contest."))
    if entry.winner_rank is not None:
        raise Conflict(_("A winning entry can no longer be moderated."))
    before = entry.status
    entry.status = (EntryStatus.APPROVED if approve else EntryStatus.REJECTED).value
    entry.moderated_at = now
    record_audit(
        session,
        actor,
        "ugc.approve" if approve else "ugc.reject",
        ("ugc_entry", entry.id),
        (entry.caption or row.title)[:120],
        now=now,
        before={"status": before},
        after={"status": entry.status},
        workspace_id=row.workspace_id,
    )
    record_event(
        session,
        kind=EventKind.UGC_MODERATED,
        occurred_at=now,
        workspace_id=row.workspace_id,
        campaign_id=row.campaign_id,
        activity_id=row.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"entry_id": entry.id, "status": entry.status, "flags": entry.flags or ""},
    )
    session.flush()
    return entry_read(entry)


def do_score(
    session: Session, *, actor: Actor, activity_id: int, entry_id: int, score: int, now: datetime
) -> float:
    """A juror's 0–10 score for an entry in the gallery (given again, it replaces the first);
    returns the entry's jury average. Jurors are console users, one score each."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    if actor.type is not ActorType.USER or actor.id is None:
        raise Forbidden(_("Jury scores are given by people signed in to the console."))
    if not 0 <= score <= 10:
        raise InvalidInput(_("A score is a whole number from 0 to 10."), field="score")
    row = _contest(session, actor=actor, activity_id=activity_id)
    entry = session.get(UgcEntry, entry_id)
    if entry is None or entry.activity_id != row.id or entry.status != EntryStatus.APPROVED:
        raise NotFound(_("There is no such entry in this contest."))
    if entry.winner_rank is not None or _winners_marked(session, activity_id=row.id):
        raise Conflict(_("The winners are marked; scores can no longer change."))
    existing = session.scalar(
        select(UgcScore).where(UgcScore.entry_id == entry.id, UgcScore.juror_id == actor.id)
    )
    before = None if existing is None else {"score": existing.score}
    if existing is None:
        session.add(
            UgcScore(
                entry_id=entry.id, juror_id=actor.id, score=score, created_at=now, updated_at=now
            )
        )
    else:
        existing.score = score
        existing.updated_at = now
    record_audit(
        session,
        actor,
        "ugc.score",
        ("ugc_entry", entry.id),
        (entry.caption or row.title)[:120],
        now=now,
        before=before,
        after={"score": score},
        workspace_id=row.workspace_id,
    )
    session.flush()
    average = session.scalar(select(func.avg(UgcScore.score)).where(UgcScore.entry_id == entry.id))
    return float(average or 0)


def held_votes(session: Session, *, activity_id: int) -> dict[int, int]:
    """Votes kept out of the count as risky, by entry, until a moderator counts them."""
    rows = session.execute(
        select(UgcVote.entry_id, func.count())
        .where(UgcVote.activity_id == activity_id, UgcVote.held.is_(True))
        .group_by(UgcVote.entry_id)
    )
    return {int(entry_id): int(n) for entry_id, n in rows}


def do_count_held_votes(
    session: Session, *, actor: Actor, activity_id: int, entry_id: int, now: datetime
) -> EntryRead:
    """A moderator looked at the risky votes for an entry and counts them after all."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _contest(session, actor=actor, activity_id=activity_id)
    entry = session.get(UgcEntry, entry_id)
    if entry is None or entry.activity_id != row.id:
        raise NotFound(_("There is no such entry in this contest."))
    if entry.winner_rank is not None or _winners_marked(session, activity_id=row.id):
        raise Conflict(_("The winners are marked; scores can no longer change."))
    held = list(
        session.scalars(select(UgcVote).where(UgcVote.entry_id == entry.id, UgcVote.held.is_(True)))
    )
    for vote in held:
        vote.held = False
    session.execute(
        update(UgcEntry)
        .where(UgcEntry.id == entry.id)
        .values(vote_count=UgcEntry.vote_count + len(held))
    )
    record_audit(
        session,
        actor,
        "ugc.count_held_votes",
        ("ugc_entry", entry.id),
        (entry.caption or row.title)[:120],
        now=now,
        before={"held": len(held)},
        after={"held": 0},
        workspace_id=row.workspace_id,
    )
    session.flush()
    session.refresh(entry)
    return entry_read(entry)


def _winners_marked(session: Session, *, activity_id: int) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(UgcEntry)
            .where(UgcEntry.activity_id == activity_id, UgcEntry.winner_rank.is_not(None))
        )
        or 0
    ) > 0


def do_mark_winners(
    session: Session, *, actor: Actor, activity_id: int, count: int, now: datetime
) -> Ranking:
    """After the campaign has ended, the top `count` entries of the published rule win."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _contest(session, actor=actor, activity_id=activity_id)
    campaign = campaigns.get_campaign(session, actor=actor, campaign_id=row.campaign_id)
    if campaign.status not in (CampaignStatus.ENDED, CampaignStatus.ARCHIVED):
        raise Conflict(_("Winners are marked after the campaign has ended."))
    if _winners_marked(session, activity_id=row.id):
        raise Conflict(_("The winners are already marked."))
    if not 1 <= count <= 100:
        raise InvalidInput(_("Must be at least {n}.").format(n=1), field="count")
    current = ranking(session, activity=row)
    if not current.entries:
        raise Conflict(_("There are no entries in the gallery to choose winners from."))
    winners = current.entries[:count]
    for ranked in winners:
        entry = session.get(UgcEntry, ranked.entry.id)
        assert entry is not None
        entry.winner_rank = ranked.rank
    activities.record_console_write(
        session,
        actor=actor,
        activity=row,
        kind=EventKind.ACTIVITY_UPDATED,
        action="ugc.winners",
        before=None,
        after={"winners": [w.entry.id for w in winners], "jury_weight": current.jury_weight},
        now=now,
    )
    session.flush()
    return ranking(session, activity=row)


EXPORT_COLUMNS = [
    "entry_id",
    "submitted_at",
    "participant_id",
    "nickname",
    "kind",
    "caption",
    "video_url",
    "status",
    "flags",
    "risk_reasons",
    "votes",
    "jury_average",
    "jurors",
    "total",
    "rank",
    "winner_rank",
]


def export_rows(session: Session, *, actor: Actor, activity_id: int) -> Iterator[dict[str, Any]]:
    require(actor, Permission.READ_CAMPAIGNS)
    row = _contest(session, actor=actor, activity_id=activity_id)
    ranked = {r.entry.id: r for r in ranking(session, activity=row).entries}
    for e in session.scalars(
        select(UgcEntry).where(UgcEntry.activity_id == row.id).order_by(UgcEntry.id)
    ):
        r = ranked.get(e.id)
        yield {
            "entry_id": e.id,
            "submitted_at": e.created_at.isoformat(),
            "participant_id": e.participant_id,
            "nickname": e.nickname or "",
            "kind": entry_read(e).kind.value,
            "caption": e.caption,
            "video_url": e.video_url or "",
            "status": e.status,
            "flags": describe_flags(e.flags) or "",
            "risk_reasons": e.risk_reasons or "",
            "votes": e.vote_count,
            "jury_average": "" if r is None or r.jury_average is None else f"{r.jury_average:.2f}",
            "jurors": "" if r is None else r.jurors,
            "total": "" if r is None else f"{r.total:.4f}",
            "rank": "" if r is None else r.rank,
            "winner_rank": e.winner_rank or "",
        }

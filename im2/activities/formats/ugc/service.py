"""UGC contest: participants submit a photo, a video link or a text; automatic flags (the
activity's keyword list, negative sentiment) point moderators at risky entries; approved
entries form the public gallery, where participants vote within a daily allowance (never for
their own entry); jurors score entries 0–10 in the console; the published ranking rule combines
both (`schemas.apply_rule`), and after the end the brand marks the top entries as winners.

Reads and the participant's actions live here, the console's in `review.py`. Vote limits are
unique indexes (see `models.UgcVote`), not only checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities import service as activities
from im2.activities.formats.common import acting_event
from im2.activities.formats.ugc.media import CleanImage, check_video_url
from im2.activities.formats.ugc.models import UgcEntry, UgcScore, UgcVote
from im2.activities.formats.ugc.schemas import (
    EntryKind,
    EntryRead,
    EntryStatus,
    RankedEntry,
    Ranking,
    RuleInput,
    SubmitReceipt,
    UgcSettings,
    VoteReceipt,
    apply_rule,
)
from im2.activities.models import Activity
from im2.activities.schemas import ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.errors import Conflict, Forbidden, InvalidInput, NotFound
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.i18n import _
from im2.listening import sentiment
from im2.participation.schemas import Visitor

NEGATIVE_CONFIDENCE = 0.8  # below this the shipped model's "negative" is too often a shrug
FLAG_NEGATIVE = "negative"
FLAG_RISKY = "risky"


def gallery_channel(activity_id: int) -> str:
    return f"activity:{activity_id}:gallery"


def queue_channel(activity_id: int) -> str:
    return f"activity:{activity_id}:ugc-queue"


def media_url(activity_id: int, name: str) -> str:
    return f"/media/ugc/{activity_id}/{name}"


def entry_read(row: UgcEntry) -> EntryRead:
    kind = (
        EntryKind.IMAGE if row.image_name else EntryKind.VIDEO if row.video_url else EntryKind.TEXT
    )
    return EntryRead(
        id=row.id,
        nickname=row.nickname,
        caption=row.caption,
        kind=kind,
        image_url=media_url(row.activity_id, row.image_name) if row.image_name else None,
        image_name=row.image_name,
        video_url=row.video_url,
        video_host=row.video_host,
        status=EntryStatus(row.status),
        flags=describe_flags(row.flags),
        votes=row.vote_count,
        winner_rank=row.winner_rank,
        created_at=row.created_at,
    )


def sounds_negative(text: str) -> bool:
    """The sentiment hook: the shipped model's confident "negative". Call it before the write
    transaction where you can (the model's first load takes a moment), and pass the answer in."""
    if not text.strip():
        return False
    result = sentiment.score([text])[0]
    return result.label.value == "negative" and result.confidence >= NEGATIVE_CONFIDENCE


def auto_flags(text: str, *, keywords: list[str], negative: bool) -> list[str]:
    """Why a moderator should look twice at this text, as codes (`keyword=a,b`, `negative`)
    that `describe_flags` words in the reader's language; empty when nothing stands out."""
    flags: list[str] = []
    lowered = text.lower()
    hits = [k for k in keywords if k and k.lower() in lowered]
    if hits:
        flags.append("keyword=" + ",".join(hits[:5]))
    if negative:
        flags.append(FLAG_NEGATIVE)
    return flags


def describe_flags(stored: str | None) -> str | None:
    if not stored:
        return None
    words: list[str] = []
    for flag in stored.split(";"):
        if flag.startswith("keyword="):
            words.append(_("keyword: {words}").format(words=", ".join(flag[8:].split(","))))
        elif flag == FLAG_NEGATIVE:
            words.append(_("negative sentiment"))
        elif flag == FLAG_RISKY:
            words.append(_("risky action"))
    return "; ".join(words) or None


def entries_of(
    session: Session, *, activity_id: int, statuses: tuple[EntryStatus, ...]
) -> list[UgcEntry]:
    return list(
        session.scalars(
            select(UgcEntry)
            .where(
                UgcEntry.activity_id == activity_id,
                UgcEntry.status.in_([s.value for s in statuses]),
            )
            .order_by(UgcEntry.id.desc())
        )
    )


def scores_of(session: Session, *, activity_id: int) -> dict[int, list[tuple[int, int]]]:
    """entry id → [(juror id, score)]"""
    found: dict[int, list[tuple[int, int]]] = {}
    rows = session.execute(
        select(UgcScore.entry_id, UgcScore.juror_id, UgcScore.score)
        .join(UgcEntry, UgcEntry.id == UgcScore.entry_id)
        .where(UgcEntry.activity_id == activity_id)
    )
    for entry_id, juror_id, score in rows:
        found.setdefault(int(entry_id), []).append((int(juror_id), int(score)))
    return found


def settings_of(activity: Activity) -> UgcSettings:
    return UgcSettings.model_validate(activity.settings)


def ranking(session: Session, *, activity: Activity) -> Ranking:
    entries = entries_of(session, activity_id=activity.id, statuses=(EntryStatus.APPROVED,))
    scores = scores_of(session, activity_id=activity.id)
    weight = settings_of(activity).jury_weight
    results = apply_rule(
        [
            RuleInput(
                entry_id=e.id,
                votes=e.vote_count,
                scores=tuple(s for _j, s in scores.get(e.id, [])),
                created_at=e.created_at,
            )
            for e in entries
        ],
        jury_weight=weight,
    )
    by_id = {e.id: e for e in entries}
    return Ranking(
        activity_id=activity.id,
        jury_weight=weight,
        public_weight=round(1 - weight, 6),
        entries=[
            RankedEntry(
                rank=i + 1,
                entry=entry_read(by_id[r.entry_id]),
                jury_average=r.jury_average,
                jurors=len(scores.get(r.entry_id, [])),
                jury_part=r.jury_part,
                public_part=r.public_part,
                total=r.total,
            )
            for i, r in enumerate(results)
        ],
        winners_marked=any(e.winner_rank is not None for e in entries),
    )


def gallery_snapshot(session: Session, *, activity_id: int) -> dict[str, Any]:
    """What the live channels carry: enough for a page to know what changed."""
    rows = session.execute(
        select(UgcEntry.id, UgcEntry.status, UgcEntry.vote_count).where(
            UgcEntry.activity_id == activity_id
        )
    )
    entries = [{"id": i, "status": s, "votes": v} for i, s, v in rows]
    return {
        "activity_id": activity_id,
        "approved": [e for e in entries if e["status"] == EntryStatus.APPROVED.value],
        "pending": sum(1 for e in entries if e["status"] == EntryStatus.PENDING.value),
    }


# --- participants ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GalleryView:
    """What one visitor sees of a contest."""

    campaign: CampaignRead
    activity: ActivityRead
    entries: list[EntryRead]
    ranking: Ranking | None  # shown once the campaign has ended
    open: bool
    closed_reason: str | None
    participant_id: int | None
    my_entries: list[EntryRead]
    voted_today: frozenset[int]
    votes_left_today: int


def view_gallery(
    session: Session, *, slug: str, activity_id: int, device_id: str, sort: str, now: datetime
) -> GalleryView:
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.UGC
    )
    participant = activities.participant_for(session, public=public, device_id=device_id)
    allowance = settings_of(row).votes_per_day
    mine: list[EntryRead] = []
    voted: frozenset[int] = frozenset()
    if participant is not None:
        mine = [
            entry_read(e)
            for e in session.scalars(
                select(UgcEntry)
                .where(UgcEntry.activity_id == row.id, UgcEntry.participant_id == participant.id)
                .order_by(UgcEntry.id)
            )
        ]
        voted = frozenset(
            session.scalars(
                select(UgcVote.entry_id).where(
                    UgcVote.activity_id == row.id,
                    UgcVote.participant_id == participant.id,
                    UgcVote.day == activities.local_day(public.campaign, now),
                )
            )
        )
    approved = [
        entry_read(e)
        for e in entries_of(session, activity_id=row.id, statuses=(EntryStatus.APPROVED,))
    ]
    if sort == "votes":
        approved.sort(key=lambda e: (-e.votes, e.id))
    reason = activities.closed_reason(public.campaign)
    ended = public.campaign.status.value == "ended"
    return GalleryView(
        campaign=public.campaign,
        activity=activities.to_read(row),
        entries=approved,
        ranking=ranking(session, activity=row) if ended else None,
        open=reason is None,
        closed_reason=reason,
        participant_id=participant.id if participant else None,
        my_entries=mine,
        voted_today=voted,
        votes_left_today=max(0, allowance - len(voted)),
    )


def check_entry(
    settings: UgcSettings, *, caption: str, image: CleanImage | None, video_url: str
) -> tuple[str, str]:
    """What an entry may hold under the contest's rules: a photo or a video link (each only
    where allowed, never both) or a few words. Returns the video's (URL, host), ("", "") for
    none."""
    if len(caption) > 1000:
        raise InvalidInput(_("At most {n} characters.").format(n=1000), field="caption")
    video = ("", "")
    if video_url.strip():
        if not settings.allow_videos:
            raise InvalidInput(_("This contest does not take video links."), field="video_url")
        video = check_video_url(video_url)
    if image is not None and not settings.allow_images:
        raise InvalidInput(_("This contest does not take photos."), field="image")
    if image is not None and video[0]:
        raise InvalidInput(_("Send either a photo or a video link, not both."), field="video_url")
    if image is None and not video[0] and len(caption) < 2:
        raise InvalidInput(_("Add a photo, a video link or a few words."), field="caption")
    return video


def do_submit(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    visitor: Visitor,
    caption: str,
    nickname: str,
    image: CleanImage | None,
    video_url: str,
    store: Callable[[CleanImage], str],
    negative: bool | None = None,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> SubmitReceipt:
    """Submit an entry while the campaign is live. `image` is already cleaned
    (`media.clean_image`); `store` writes it and is called only once every check passed; the
    caller deletes the file again if the transaction does not commit (`media.ImageStore`).
    `negative` is `sounds_negative(caption)` when the caller already asked (None: ask here)."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.UGC
    )
    activities.require_open(public)
    settings = settings_of(row)
    caption = caption.strip()
    video = check_entry(settings, caption=caption, image=image, video_url=video_url)
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    limit = settings.entries_per_participant
    full = Conflict(
        _("You have already sent {n} entries to this contest.").format(n=limit), field="caption"
    )
    if _entries_of(session, activity_id=row.id, participant_id=acting.participant.id) >= limit:
        raise full
    if negative is None:
        negative = sounds_negative(caption)
    flags = auto_flags(
        caption,
        keywords=list(settings.keywords),
        negative=negative and settings.flag_negative,
    )
    if acting.held:
        flags.append(FLAG_RISKY)
    approved = settings.auto_approve and not flags
    image_name = store(image) if image is not None else None
    entry = _insert_in_slot(
        session,
        activity_id=row.id,
        participant_id=acting.participant.id,
        full=full,
        limit=limit,
        make=lambda slot: UgcEntry(
            activity_id=row.id,
            participant_id=acting.participant.id,
            nickname=" ".join(nickname.split())[:40] or None,
            caption=caption,
            image_name=image_name,
            image_width=image.width if image is not None else None,
            image_height=image.height if image is not None else None,
            video_url=video[0] or None,
            video_host=video[1] or None,
            status=(EntryStatus.APPROVED if approved else EntryStatus.PENDING).value,
            flags=";".join(flags)[:500] or None,
            risk_reasons="; ".join(acting.risk.reasons)[:500] or None,
            slot=slot,
            created_at=now,
        ),
    )
    record_event(
        session,
        kind=EventKind.UGC_SUBMITTED,
        occurred_at=now,
        workspace_id=public.workspace_id,
        campaign_id=public.campaign.id,
        activity_id=row.id,
        actor_type=ActorType.PARTICIPANT,
        actor_id=acting.participant.id,
        channel=visitor.channel,
        referrer=visitor.referrer,
        properties={
            "entry_id": entry.id,
            "kind": entry_read(entry).kind.value,
            "flagged": bool(flags),
            "risk": acting.risk.score,
        },
    )
    return SubmitReceipt(entry=entry_read(entry), in_gallery=approved)


def _insert_in_slot(
    session: Session,
    *,
    activity_id: int,
    participant_id: int,
    limit: int,
    full: Conflict,
    make: Callable[[int], UgcEntry],
) -> UgcEntry:
    """Add `make(slot)` in the person's next free slot. The unique (contest, person, slot) row
    settles concurrent submissions from one phone: one that loses the race for a slot counts
    again what committed first and takes the next free slot while the limit lasts (each retry
    follows a committed entry, so it ends)."""
    for _attempt in range(limit + 1):
        already = _entries_of(session, activity_id=activity_id, participant_id=participant_id)
        if already >= limit:
            raise full
        entry = make(already + 1)
        try:
            with session.begin_nested():
                session.add(entry)
                session.flush()
            return entry
        except IntegrityError:
            continue
    raise full


def _add_vote(
    session: Session,
    *,
    entry: UgcEntry,
    participant_id: int,
    day: str,
    allowance: int,
    held: bool,
    now: datetime,
) -> int:
    """Write the person's vote for `entry` today; returns their votes of the day, this one
    included. The unique (entry, person, day) and (person, day, seq) rows settle concurrent
    votes of one person: a vote that loses a race looks again at what committed first and takes
    the next seq while the allowance lasts (each retry follows a committed vote, so it ends)."""
    for _attempt in range(allowance + 1):
        mine = list(
            session.scalars(
                select(UgcVote.entry_id).where(
                    UgcVote.activity_id == entry.activity_id,
                    UgcVote.participant_id == participant_id,
                    UgcVote.day == day,
                )
            )
        )
        if entry.id in mine:
            raise Conflict(_("You have already voted for this entry today."), field="entry")
        if len(mine) >= allowance:
            raise Conflict(
                _("You have used all {n} votes for today; come back tomorrow.").format(n=allowance),
                field="entry",
            )
        try:
            with session.begin_nested():
                session.add(
                    UgcVote(
                        activity_id=entry.activity_id,
                        entry_id=entry.id,
                        participant_id=participant_id,
                        day=day,
                        seq=len(mine) + 1,
                        held=held,
                        created_at=now,
                    )
                )
                session.flush()
            return len(mine) + 1
        except IntegrityError:
            continue
    raise Conflict(_("You have already voted for this entry today."), field="entry")


def _entries_of(session: Session, *, activity_id: int, participant_id: int) -> int:
    """How many entries this person has sent to this contest (never deleted one by one, so
    their slots are 1 … this count)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(UgcEntry)
            .where(UgcEntry.activity_id == activity_id, UgcEntry.participant_id == participant_id)
        )
        or 0
    )


def do_vote(
    session: Session,
    *,
    slug: str,
    activity_id: int,
    entry_id: int,
    visitor: Visitor,
    consented: bool,
    seconds_on_page: float | None,
    risk_threshold: float,
    identities_per_ip_hour: int,
    now: datetime,
) -> VoteReceipt:
    """One vote for an entry in the gallery: once per entry a day, within the day's allowance,
    never for one's own entry."""
    public, row = activities.public_activity(
        session, slug=slug, activity_id=activity_id, kind=ActivityKind.UGC
    )
    activities.require_open(public)
    entry = session.get(UgcEntry, entry_id)
    if entry is None or entry.activity_id != row.id or entry.status != EntryStatus.APPROVED:
        raise NotFound(_("There is no such entry in this contest."))
    acting = activities.join_and_assess(
        session,
        public=public,
        visitor=visitor,
        consented=consented,
        seconds_on_page=seconds_on_page,
        risk_threshold=risk_threshold,
        identities_per_ip_hour=identities_per_ip_hour,
        now=now,
    )
    if entry.participant_id == acting.participant.id:
        raise Forbidden(_("You cannot vote for your own entry."), field="entry")
    day = activities.local_day(public.campaign, now)
    allowance = settings_of(row).votes_per_day
    used = _add_vote(
        session,
        entry=entry,
        participant_id=acting.participant.id,
        day=day,
        allowance=allowance,
        held=acting.held,
        now=now,
    )
    if not acting.held:
        session.execute(
            update(UgcEntry)
            .where(UgcEntry.id == entry.id)
            .values(vote_count=UgcEntry.vote_count + 1)
        )
    acting_event(
        session,
        EventKind.UGC_VOTED,
        activity=row,
        acting=acting,
        now=now,
        visitor=visitor,
        entry_id=entry.id,
    )
    session.flush()
    session.refresh(entry)
    return VoteReceipt(
        entry_id=entry.id,
        votes=entry.vote_count,
        votes_left_today=max(0, allowance - used),
        held_for_review=acting.held,
    )


def public_image(session: Session, *, activity_id: int, name: str) -> UgcEntry | None:
    """The approved entry showing this image (None for any other: pending ones stay private)."""
    return session.scalar(
        select(UgcEntry).where(
            UgcEntry.activity_id == activity_id,
            UgcEntry.image_name == name,
            UgcEntry.status == EntryStatus.APPROVED.value,
        )
    )

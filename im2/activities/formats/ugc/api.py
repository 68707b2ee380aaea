"""JSON API of UGC contests: the brand's side (create, moderate, rank, mark winners) and the
participant's (submit with a multipart upload, vote, read the gallery)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from im2.activities.formats.api import add_console_read, add_console_write, add_participant_write
from im2.activities.formats.ugc import review, service
from im2.activities.formats.ugc.live import refresh_on_commit
from im2.activities.formats.ugc.media import ACCEPTED, MAX_UPLOAD_BYTES
from im2.activities.formats.ugc.schemas import (
    EntryRead,
    EntryStatus,
    ModerateIn,
    Ranking,
    SubmitReceipt,
    UgcPublic,
    UgcSettings,
    VoteIn,
    VoteReceipt,
)
from im2.activities.formats.ugc.submit import read_capped, submit_entry
from im2.web.deps import ApiActor, DbDep, HubDep, LimiterDep, NowDep, SettingsDep, VisitorDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["ugc"])


class WinnersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=100)


@router.get(
    "/ugcs/{activity_id}/entries",
    response_model=list[EntryRead],
    summary="Entries by status (pending = the moderation queue, oldest first)",
)
def entries(
    activity_id: Id, actor: ApiActor, db: DbDep, status: EntryStatus | None = None
) -> list[EntryRead]:
    with db.session() as session:
        return review.list_entries(session, actor=actor, activity_id=activity_id, status=status)


add_console_write(
    router,
    "/ugcs/{activity_id}/entries/{entry_id}/moderation",
    review.do_moderate_entry,
    name="moderate",
    body=ModerateIn,
    response_model=EntryRead,
    summary="Approve an entry into the gallery, or reject it",
    fields=lambda body: {"approve": body.approve},
    more={"entry_id": Id},
    refresh=refresh_on_commit,
)


add_console_read(
    router,
    "/ugcs/{activity_id}/ranking",
    review.get_ranking,
    name="ranking",
    response_model=Ranking,
    summary="The gallery ranked by the published rule (jury and public votes combined)",
)


add_console_write(
    router,
    "/ugcs/{activity_id}/winners",
    review.do_mark_winners,
    name="winners",
    body=WinnersIn,
    response_model=Ranking,
    summary="Mark the top entries as winners (after the campaign has ended)",
    fields=lambda body: {"count": body.count},
    refresh=refresh_on_commit,
)


@router.get(
    "/public/campaigns/{slug}/ugcs/{activity_id}/entries",
    response_model=list[EntryRead],
    tags=["participants"],
    summary="The public gallery (approved entries, newest first)",
)
def gallery(
    slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
) -> list[EntryRead]:
    with db.session() as session:
        return service.view_gallery(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=visitor.device_id,
            sort="new",
            now=now,
        ).entries


@router.get(
    "/public/campaigns/{slug}/ugcs/{activity_id}",
    response_model=UgcPublic,
    tags=["participants"],
    summary="The contest as this device sees it: entry rules, gallery, own entries, votes left",
)
def public_ugc(
    slug: str, activity_id: Id, db: DbDep, visitor: VisitorDep, now: NowDep
) -> UgcPublic:
    with db.session() as session:
        view = service.view_gallery(
            session,
            slug=slug,
            activity_id=activity_id,
            device_id=visitor.device_id,
            sort="new",
            now=now,
        )
    rules = UgcSettings.model_validate(view.activity.settings)
    return UgcPublic(
        activity_id=view.activity.id,
        title=view.activity.title,
        open=view.open,
        closed_reason=view.closed_reason,
        hashtag=rules.hashtag,
        allow_images=rules.allow_images,
        allow_videos=rules.allow_videos,
        max_image_bytes=MAX_UPLOAD_BYTES,
        image_types=[media for _fmt, _ext, media in ACCEPTED.values()],
        entries_per_participant=rules.entries_per_participant,
        entries_left=max(0, rules.entries_per_participant - len(view.my_entries)),
        votes_per_day=rules.votes_per_day,
        votes_left_today=view.votes_left_today,
        voted_today=sorted(view.voted_today),
        entries=view.entries,
        my_entries=view.my_entries,
    )


@router.post(
    "/public/campaigns/{slug}/ugcs/{activity_id}/entries",
    response_model=SubmitReceipt,
    status_code=201,
    tags=["participants"],
    summary="Submit an entry (multipart: caption, nickname, video_url, consent, image)",
)
def submit(
    slug: str,
    activity_id: Id,
    visitor: VisitorDep,
    db: DbDep,
    hub: HubDep,
    limiter: LimiterDep,
    settings: SettingsDep,
    now: NowDep,
    caption: Annotated[str, Form(max_length=1000)] = "",
    nickname: Annotated[str, Form(max_length=40)] = "",
    video_url: Annotated[str, Form(max_length=500)] = "",
    consent: Annotated[bool, Form()] = False,
    image: Annotated[UploadFile | None, File()] = None,
) -> SubmitReceipt:
    limiter.hit(device_id=visitor.device_id, ip=visitor.ip)
    return submit_entry(
        db=db,
        hub=hub,
        settings=settings,
        slug=slug,
        activity_id=activity_id,
        visitor=visitor,
        caption=caption,
        nickname=nickname,
        video_url=video_url,
        upload=read_capped(image) if image is not None else None,
        consented=consent,
        seconds_on_page=None,
        now=now,
    )


add_participant_write(
    router,
    "/public/campaigns/{slug}/ugcs/{activity_id}/entries/{entry_id}/votes",
    service.do_vote,
    name="vote",
    body=VoteIn,
    response_model=VoteReceipt,
    summary="Vote for an entry (within the day's allowance, never for your own)",
    more={"entry_id": Id},
    refresh=refresh_on_commit,
)

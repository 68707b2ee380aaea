"""The participant's contest page: the rules and the ranking rule, a submission form that
works without JavaScript (multipart POST, post/redirect/get), the gallery with vote buttons,
winners after the end; approved images; and the live stream of the gallery."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse
from starlette.responses import FileResponse, RedirectResponse, Response

from im2.activities.formats.ugc import service
from im2.activities.formats.ugc.live import refresh_on_commit, snapshot
from im2.activities.formats.ugc.media import MAX_UPLOAD_BYTES, MEDIA_TYPES, image_path
from im2.activities.formats.ugc.schemas import STATUS_LABELS
from im2.activities.formats.ugc.submit import close_uploads, read_capped, submit_entry
from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.live.sse import stream
from im2.web import participant_forms as forms
from im2.web.deps import DbDep, HubDep, NowDep, SettingsDep, remember_channel
from im2.web.params import Id
from im2.web.participant_forms import PageAt, PageAtDep, ParticipantPostDep, form_context
from im2.web.templating import render

router = APIRouter(include_in_schema=False)
NOTICES = {
    "sent": lambda: _("Thank you! Your entry is in the gallery."),
    "review": lambda: _("Thank you! Your entry will appear in the gallery once it is approved."),
    "voted": lambda: _("Your vote is counted."),
}


def ugc_path(slug: str, activity_id: int) -> str:
    return f"/c/{slug}/ugc/{activity_id}"


def _sort(request: Request) -> str:
    return "votes" if request.query_params.get("sort") == "votes" else "new"


PAGE, GALLERY = "activities/ugc/public_ugc.html", "activities/ugc/gallery.html"


def _page(
    at: PageAt,
    *,
    template: str = PAGE,
    values: dict[str, str] | None = None,
    refusal: forms.Refusal = forms.NOTHING_REFUSED,
    consent_for: str | None = None,
    notice: str | None = None,
) -> Response:
    sort = _sort(at.request)
    with at.db.session() as session:
        view = service.view_gallery(session, **at.keywords(), sort=sort, now=at.now)
    return render(
        at.request,
        template,
        {
            "view": view,
            **form_context(at.request, needs_consent=view.participant_id is None),
            **refusal.context(),
            "values": values or {},
            "consent_for": consent_for,
            "notice": notice,
            "base": ugc_path(at.slug, at.activity_id),
            "sort": sort,
            "max_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
            "status_labels": STATUS_LABELS,
            "fragment": template == GALLERY,
        },
        status_code=refusal.status_code,
    )


@router.get("/c/{slug}/ugc/{activity_id}")
def contest_page(at: PageAtDep) -> Response:
    done = NOTICES.get(at.request.query_params.get("done", ""))
    response = _page(at, notice=done() if done else None)
    return remember_channel(at.request, response)


@router.get("/c/{slug}/ugc/{activity_id}/gallery")
def gallery_fragment(at: PageAtDep) -> Response:
    """The gallery alone, fetched again when the live stream says it changed."""
    return _page(at, template=GALLERY)


@router.post("/c/{slug}/ugc/{activity_id}/submit")
def submit(slug: str, activity_id: Id, post: ParticipantPostDep, hub: HubDep) -> Response:
    values = {name: post.text(name, limit=1000) for name in ("caption", "nickname", "video_url")}
    try:
        post.guard(refused=_("Your entry could not be accepted."))
        file = post.form.get("image")
        rules = post.rules()
        receipt = submit_entry(
            db=post.db,
            hub=hub,
            settings=post.settings,
            slug=slug,
            activity_id=activity_id,
            visitor=post.visitor,
            caption=values["caption"],
            nickname=values["nickname"],
            video_url=values["video_url"],
            upload=None if isinstance(file, str) or file is None else read_capped(file),
            consented=rules["consented"],
            seconds_on_page=rules["seconds_on_page"],
            now=post.now,
        )
    except IM2Error as exc:
        again = post.again(exc, slug=slug, values=values)
        return _page(post.at(slug, activity_id), template=GALLERY if post.htmx else PAGE, **again)
    finally:
        close_uploads(post.form)
    done = "sent" if receipt.in_gallery else "review"
    # Post/redirect/get: a reload does not send the entry again.
    return RedirectResponse(f"{ugc_path(slug, activity_id)}?done={done}", status_code=303)


@router.post("/c/{slug}/ugc/{activity_id}/entries/{entry_id}/vote")
def vote(
    slug: str, activity_id: Id, entry_id: Id, post: ParticipantPostDep, hub: HubDep
) -> Response:
    def write(session: Session) -> None:
        service.do_vote(
            session, slug=slug, activity_id=activity_id, entry_id=entry_id, **post.rules()
        )
        refresh_on_commit(session, db=post.db, hub=hub, activity_id=activity_id)

    at = post.at(slug, activity_id)
    try:
        post.run(write, refused=_("Your vote could not be accepted."), activity_id=activity_id)
    except IM2Error as exc:
        consent_for = f"{ugc_path(slug, activity_id)}/entries/{entry_id}/vote"
        again = post.again(exc, slug=slug, consent_for=consent_for)
        return _page(at, template=GALLERY if post.htmx else PAGE, **again)
    if post.htmx:
        return _page(at, template=GALLERY, notice=NOTICES["voted"]())
    if post.form.get("back") == "entry":  # voted on the entry's own (shared) page: stay there
        return RedirectResponse(
            f"{ugc_path(slug, activity_id)}/entries/{entry_id}?done=voted", status_code=303
        )
    return RedirectResponse(
        f"{ugc_path(slug, activity_id)}?done=voted#entry-{entry_id}", status_code=303
    )


@router.get("/c/{slug}/ugc/{activity_id}/entries/{entry_id}")
def entry_page(entry_id: Id, at: PageAtDep) -> Response:
    """One entry on a page of its own: what a participant shares to gather votes (its photo
    is the share preview)."""
    request = at.request
    with at.db.session() as session:
        view = service.view_gallery(session, **at.keywords(), sort="new", now=at.now)
    entry = next((e for e in view.entries if e.id == entry_id), None)
    if entry is None:
        raise NotFound(_("There is no such entry in this contest."))
    done = NOTICES.get(request.query_params.get("done", ""))
    response = render(
        request,
        "activities/ugc/entry.html",
        {
            "view": view,
            "e": entry,
            "notice": done() if done else None,
            **form_context(request, needs_consent=view.participant_id is None),
            "base": ugc_path(at.slug, at.activity_id),
            "mine": entry.id in {m.id for m in view.my_entries},
        },
    )
    return remember_channel(request, response)


@router.get("/media/ugc/{activity_id}/{name}")
def approved_image(activity_id: Id, name: str, db: DbDep, settings: SettingsDep) -> Response:
    """An image of an approved entry; pending and rejected ones are not served to the public."""
    with db.session() as session:
        entry = service.public_image(session, activity_id=activity_id, name=name)
    path = image_path(settings.media_path, activity_id=activity_id, name=name)
    if entry is None or path is None:
        raise NotFound(_("There is no such image."))
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix.lstrip(".")],
        headers={
            "Cache-Control": "public, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/live/c/{slug}/ugc/{activity_id}")
def live_gallery(
    request: Request, slug: str, activity_id: Id, db: DbDep, hub: HubDep, now: NowDep
) -> EventSourceResponse:
    with db.session() as session:  # 404 first
        service.view_gallery(
            session, slug=slug, activity_id=activity_id, device_id="", sort="new", now=now
        )
    channel = service.gallery_channel(activity_id)
    first = hub.latest(channel) or json.dumps(
        snapshot(db, activity_id, moderator=False), ensure_ascii=False
    )
    return EventSourceResponse(stream(request, hub, channel, first, event="gallery"))

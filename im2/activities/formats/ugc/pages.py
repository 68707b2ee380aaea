"""Console pages of UGC contests: add one, work through the moderation queue (it updates
live), score entries as a juror, read the ranking, mark winners after the end, export."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.responses import FileResponse, RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import add_text_editor
from im2.activities.formats.ugc import review, service
from im2.activities.formats.ugc.live import refresh_on_commit, snapshot
from im2.activities.formats.ugc.media import MEDIA_TYPES, image_path
from im2.activities.formats.ugc.schemas import STATUS_LABELS, EntryStatus, UgcCreate, UgcUpdate
from im2.activities.schemas import ENTRIES_HINT, KIND_LABELS, ActivityKind
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error, InvalidInput, NotFound
from im2.i18n import _
from im2.live.sse import stream
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep, SettingsDep
from im2.web.downloads import csv_download
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


def _keywords(raw: str) -> list[str]:
    return [k.strip() for k in re.split(r"[,，、\n]", raw) if k.strip()]


def _form(
    request: Request,
    *,
    campaign: CampaignRead,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "activities/ugc/ugc_form.html",
        {"campaign": campaign, "values": values, "errors": errors, "nav": "campaigns"},
        status_code=status_code,
    )


@router.get("/campaigns/{campaign_id}/ugc/new")
def new_ugc(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    values = {
        "allow_images": "on",
        "allow_videos": "on",
        "flag_negative": "on",
        "entries_per_participant": "3",
        "votes_per_day": "3",
        "jury_percent": "60",
        "winners": "3",
    }
    return _form(request, campaign=campaign, values=values, errors={})


@router.post("/campaigns/{campaign_id}/ugc")
def create_ugc(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    try:
        try:
            jury_weight = float(raw.get("jury_percent") or 60) / 100
        except ValueError:
            raise InvalidInput(_("Enter a number."), field="jury_percent") from None
        data = UgcCreate.model_validate(
            {
                "title": raw.get("title", ""),
                "description": raw.get("description", ""),
                "hashtag": raw.get("hashtag", ""),
                "allow_images": raw.get("allow_images") == "on",
                "allow_videos": raw.get("allow_videos") == "on",
                "entries_per_participant": raw.get("entries_per_participant") or 3,
                "votes_per_day": raw.get("votes_per_day") or 3,
                "jury_weight": jury_weight,
                "keywords": _keywords(raw.get("keywords", "")),
                "flag_negative": raw.get("flag_negative") == "on",
                "auto_approve": raw.get("auto_approve") == "on",
                "winners": raw.get("winners") or 3,
            }
        )
        with db.transaction() as session:
            created = review.do_create_ugc(
                session, actor=actor, campaign_id=campaign_id, data=data, now=now
            )
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
        if "jury_weight" in errors:
            errors["jury_percent"] = errors.pop("jury_weight")
        return _form(request, campaign=campaign, values=raw, errors=errors, status_code=422)
    except IM2Error as exc:
        return _form(
            request,
            campaign=campaign,
            values=raw,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/ugc/{created.id}", status_code=303)


def _context(request: Request, *, actor: Actor, activity_id: int, db: DbDep) -> dict[str, Any]:
    with db.session() as session:
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
        pending = review.list_entries(
            session, actor=actor, activity_id=activity_id, status=EntryStatus.PENDING
        )
        rejected = review.list_entries(
            session, actor=actor, activity_id=activity_id, status=EntryStatus.REJECTED
        )
        ranking = review.get_ranking(session, actor=actor, activity_id=activity_id)
        mine = review.my_scores(session, actor=actor, activity_id=activity_id)
        held = review.held_votes(session, activity_id=activity_id)
    return {
        "activity": activity,
        "campaign": campaign,
        "pending": pending,
        "rejected": rejected,
        "ranking": ranking,
        "my_scores": mine,
        "held_votes": held,
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
        "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
        "can_score": actor.can(Permission.WRITE_CAMPAIGNS) and actor.id is not None,
        "ended": campaign.status.value in ("ended", "archived"),
        "base": f"/console/w/{actor.workspace_slug}/ugc/{activity_id}",
        "nav": "campaigns",
    }


@router.get("/ugc/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    context = _context(request, actor=actor, activity_id=activity_id, db=db)
    base_url = request.app.state.settings.base_url
    context["public_url"] = f"{base_url}/c/{context['campaign'].slug}/ugc/{activity_id}"
    context["error"] = request.query_params.get("error")
    return render(request, "activities/ugc/detail.html", context)


@router.get("/ugc/{activity_id}/queue")
def queue(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    """The moderation queue alone, fetched again when the live stream says it changed."""
    context = _context(request, actor=actor, activity_id=activity_id, db=db)
    return render(request, "activities/ugc/queue.html", context)


def _back(actor: Actor, activity_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/ugc/{activity_id}{anchor}", status_code=303
    )


@router.post("/ugc/{activity_id}/entries/{entry_id}/moderate")
def moderate(
    request: Request,
    activity_id: Id,
    entry_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        review.do_moderate_entry(
            session,
            actor=actor,
            activity_id=activity_id,
            entry_id=entry_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
        refresh_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    if request.headers.get("hx-request") == "true":
        context = _context(request, actor=actor, activity_id=activity_id, db=db)
        return render(request, "activities/ugc/queue.html", context)
    return _back(actor, activity_id, "#queue")


@router.post("/ugc/{activity_id}/entries/{entry_id}/score")
def score(
    activity_id: Id,
    entry_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    try:
        value = int(str(form.get("score") or ""))
    except ValueError:
        raise InvalidInput(_("A score is a whole number from 0 to 10."), field="score") from None
    with db.transaction() as session:
        review.do_score(
            session, actor=actor, activity_id=activity_id, entry_id=entry_id, score=value, now=now
        )
    return _back(actor, activity_id, f"#entry-{entry_id}")


@router.post("/ugc/{activity_id}/entries/{entry_id}/count-held")
def count_held(
    activity_id: Id,
    entry_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        review.do_count_held_votes(
            session, actor=actor, activity_id=activity_id, entry_id=entry_id, now=now
        )
        refresh_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return _back(actor, activity_id, f"#entry-{entry_id}")


@router.post("/ugc/{activity_id}/settings")
def update_settings(
    request: Request,
    activity_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        data = UgcUpdate.model_validate(
            {
                "keywords": _keywords(raw.get("keywords", "")),
                "jury_weight": float(raw.get("jury_percent") or 60) / 100,
                "votes_per_day": raw.get("votes_per_day") or 3,
                "auto_approve": raw.get("auto_approve") == "on",
            }
        )
    except (ValidationError, ValueError):
        raise InvalidInput(_("Please correct the marked fields.")) from None
    with db.transaction() as session:
        review.do_update_ugc(session, actor=actor, activity_id=activity_id, data=data, now=now)
    return _back(actor, activity_id)


@router.post("/ugc/{activity_id}/winners")
def winners(
    activity_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    try:
        count = int(str(form.get("count") or ""))
    except ValueError:
        raise InvalidInput(_("Enter a number."), field="count") from None
    with db.transaction() as session:
        review.do_mark_winners(session, actor=actor, activity_id=activity_id, count=count, now=now)
        refresh_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return _back(actor, activity_id, "#ranking")


@router.get("/ugc/{activity_id}/media/{name}")
def entry_image(
    activity_id: Id, name: str, actor: ConsoleActor, db: DbDep, settings: SettingsDep
) -> Response:
    """Any entry's image, pending ones included, for the brand's moderators and jurors."""
    with db.session() as session:
        require(actor, Permission.READ_CAMPAIGNS)
        activities.load_activity(session, actor=actor, activity_id=activity_id)
    path = image_path(settings.media_path, activity_id=activity_id, name=name)
    if path is None:
        raise NotFound(_("There is no such image."))
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix.lstrip(".")],
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/ugc/{activity_id}/export.csv")
def export_csv(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        rows = list(review.export_rows(session, actor=actor, activity_id=activity_id))
    return csv_download(
        rows, columns=review.EXPORT_COLUMNS, filename=f"ugc-{activity_id}-entries.csv"
    )


@router.get("/ugc/{activity_id}/live")
def live_queue(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:  # 404 / 403 first
        review.list_entries(session, actor=actor, activity_id=activity_id, status=None)
    channel = service.queue_channel(activity_id)
    first = hub.latest(channel) or json.dumps(
        snapshot(db, activity_id, moderator=True), ensure_ascii=False
    )
    return EventSourceResponse(stream(request, hub, channel, first, event="queue"))


add_text_editor(router, ActivityKind.UGC, hint=ENTRIES_HINT)

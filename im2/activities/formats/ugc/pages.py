"""Console pages of UGC contests that are their own: work through the moderation queue (it
updates live), score entries as a juror, read the ranking, mark winners after the end (adding
one, the text editor and the export are the shared console routes, from `format.FORMAT`)."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.responses import FileResponse, RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import activity_and_campaign, activity_context, activity_url
from im2.activities.formats.pages import (
    add_settings_form,
    back_to_activity,
    live_snapshots,
    posted,
    queue_or_back,
)
from im2.activities.formats.ugc import review, service
from im2.activities.formats.ugc.format import JURY_FIELD, JURY_MESSAGE, keywords_of
from im2.activities.formats.ugc.live import refresh_on_commit, snapshot
from im2.activities.formats.ugc.media import MEDIA_TYPES, image_path
from im2.activities.formats.ugc.schemas import STATUS_LABELS, EntryStatus, UgcUpdate
from im2.activities.schemas import ActivityKind
from im2.errors import NotFound
from im2.i18n import _
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep, SettingsDep
from im2.web.forms import FormState, form_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


def _context(request: Request, *, actor: Actor, activity_id: int, db: DbDep) -> dict[str, Any]:
    with db.session() as session:
        activity, campaign = activity_and_campaign(session, actor, activity_id, ActivityKind.UGC)
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
        **activity_context(request, actor, activity, campaign),
        "pending": pending,
        "rejected": rejected,
        "ranking": ranking,
        "my_scores": mine,
        "held_votes": held,
        "status_labels": STATUS_LABELS,
        "can_score": actor.can(Permission.WRITE_CAMPAIGNS) and actor.id is not None,
        "ended": campaign.status.value in ("ended", "archived"),
        "base": activity_url(actor, ActivityKind.UGC, activity_id),
    }


def _rules_values(context: dict[str, Any]) -> dict[str, str]:
    """The rules form's fields as stored (the jury's weight in %)."""
    stored = context["activity"].settings
    return {
        "keywords": ", ".join(stored.get("keywords", [])),
        "jury_percent": str(round(context["ranking"].jury_weight * 100)),
        "votes_per_day": str(stored.get("votes_per_day", 3)),
        "auto_approve": "on" if stored.get("auto_approve") else "",
    }


def _page(
    request: Request, actor: Actor, activity_id: int, db: DbDep, *, state: FormState
) -> Response:
    """The contest's page; the rules form shows `state` (what was typed and its errors)."""
    context = _context(request, actor=actor, activity_id=activity_id, db=db)
    context["error"] = request.query_params.get("error")
    context.update(state.shown(_rules_values(context)))
    return render(request, "activities/ugc/detail.html", context, status_code=state.status_code)


@router.get("/ugc/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    return _page(request, actor, activity_id, db, state=FormState())


@router.get("/ugc/{activity_id}/queue")
def queue(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    """The moderation queue alone, fetched again when the live stream says it changed."""
    context = _context(request, actor=actor, activity_id=activity_id, db=db)
    return render(request, "activities/ugc/queue.html", context)


def _back(actor: Actor, activity_id: int, anchor: str = "") -> RedirectResponse:
    return back_to_activity(actor, ActivityKind.UGC, activity_id, anchor)


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
    return queue_or_back(
        request,
        partial(queue, request, activity_id, actor, db),
        _back(actor, activity_id, "#queue"),
    )


@router.post("/ugc/{activity_id}/entries/{entry_id}/score")
def score(
    activity_id: Id,
    entry_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    value = posted(form, "score", int, _("A score is a whole number from 0 to 10."))
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


def _rules(raw: dict[str, str]) -> UgcUpdate:
    """The rules form as the update; the jury's weight is typed in % (left as typed when it is
    not a number, for the model to refuse)."""
    percent = raw.get("jury_percent", "").strip() or "60"
    try:
        jury_weight: float | str = float(percent) / 100
    except ValueError:
        jury_weight = percent
    return UgcUpdate.model_validate(
        {
            "keywords": keywords_of(raw.get("keywords", "")),
            "jury_weight": jury_weight,
            "votes_per_day": raw.get("votes_per_day", "").strip() or 3,
            "auto_approve": raw.get("auto_approve") == "on",
        }
    )


add_settings_form(
    router,
    ActivityKind.UGC,
    _page,
    parse=_rules,
    update=review.do_update_ugc,
    invalid=partial(form_errors, fields=JURY_FIELD, messages=JURY_MESSAGE),
)


@router.post("/ugc/{activity_id}/winners")
def winners(
    activity_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    count = posted(form, "count", int, _("Enter a number."))
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


@router.get("/ugc/{activity_id}/live")
def live_queue(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:  # 404 / 403 first
        review.list_entries(session, actor=actor, activity_id=activity_id, status=None)
    moderated = partial(snapshot, db, activity_id, moderator=True)
    return live_snapshots(
        request, hub, service.queue_channel(activity_id), moderated, event="queue"
    )

"""Console pages for where mentions come from and how they are understood: RSS/Atom feeds
(follow, see the last poll, poll now, remove) and the workspace's sentiment model (the
corrections kept, retraining a variant from them with its before/after accuracy)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.errors import IM2Error, NotFound
from im2.i18n import _
from im2.listening import feeds, jobs, retrain
from im2.listening.pages_common import (
    base_url,
    raw_values,
    redirect,
    require_write,
    vocabulary,
    write_or_show_again,
)
from im2.listening.schemas import FeedCreate, Platform
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter()  # included by pages.py under its prefix


# --- feeds ----------------------------------------------------------------------------------


def _feeds_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        followed = feeds.list_feeds(session, actor=actor)
    return render(
        request,
        "listening/feeds.html",
        {
            **vocabulary(),
            "section": "feeds",
            "feeds": followed,
            "values": values,
            "errors": errors,
            "notice": notice,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "base": base_url(actor),
        },
        status_code=status_code,
    )


@router.get("/feeds")
def feeds_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    notice = request.query_params.get("polled")
    message = None
    if notice is not None and notice.isdigit():
        message = _("Polled: {count} new mentions.").format(count=int(notice))
    return _feeds_page(request, db, actor, values={}, errors={}, notice=message)


@router.post("/feeds")
def add_feed(
    request: Request,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    require_write(actor)
    raw = raw_values(form)

    def write() -> None:
        data = FeedCreate(
            url=raw.get("url", "").strip(),
            platform=raw.get("platform") or Platform.RSS.value,
            interval_minutes=raw.get("interval_minutes") or 15,
        )
        with db.transaction() as session:
            feeds.do_add_feed(
                session,
                actor=actor,
                data=data,
                now=now,
                private_networks=settings.webhooks_reach_private_networks,
            )

    return write_or_show_again(
        write,
        again=lambda errors, status: _feeds_page(
            request, db, actor, values=raw, errors=errors, status_code=status
        ),
        done=f"{base_url(actor)}/feeds",
    )


@router.post("/feeds/{feed_id}/poll")
def poll_feed(
    request: Request, feed_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep
) -> Response:
    with db.session() as session:
        due = feeds.feed_to_poll(session, actor=actor, feed_id=feed_id)
    stored, _error = jobs.poll_feed(db, request.app.state.clock, due)
    # The outcome (new mentions, or the error) is on the feed's row and shown in the list.
    return redirect(f"{base_url(actor)}/feeds?polled={stored}")


@router.post("/feeds/{feed_id}/delete")
def remove_feed(
    feed_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        feeds.do_remove_feed(session, actor=actor, feed_id=feed_id, now=now)
    return redirect(f"{base_url(actor)}/feeds")


# --- the workspace's sentiment model --------------------------------------------------------


def _model_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        summary = retrain.correction_summary(session, actor=actor)
        variants = retrain.list_variants(session, actor=actor)
    context: dict[str, Any] = {
        **vocabulary(),
        "section": "model",
        "summary": summary,
        "variants": variants,
        "active": next((v for v in variants if v.active), None),
        "error": error,
        "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
        "base": base_url(actor),
    }
    return render(request, "listening/sentiment_model.html", context, status_code=status_code)


@router.get("/sentiment-model")
def model_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _model_page(request, db, actor)


@router.post("/sentiment-model/retrain")
def retrain_model(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    require_write(actor)
    try:
        with db.transaction() as session:
            retrain.do_retrain(session, actor=actor, now=now)
    except IM2Error as exc:
        if exc.status_code in (403, 404):
            raise
        return _model_page(request, db, actor, error=exc.message, status_code=exc.status_code)
    return redirect(f"{base_url(actor)}/sentiment-model")


@router.post("/sentiment-model/variants/{variant_id}/{action}")
def switch_variant(
    variant_id: Id, action: str, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    if action not in ("use", "stop"):
        raise NotFound(_("Model variant not found."))
    with db.transaction() as session:
        retrain.do_set_variant_active(
            session, actor=actor, variant_id=variant_id, active=action == "use", now=now
        )
    return redirect(f"{base_url(actor)}/sentiment-model")

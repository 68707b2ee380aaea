"""Console pages for where mentions come from and how they are understood: RSS/Atom feeds
(follow, see the last poll, poll now, remove) and the workspace's sentiment model (the
corrections kept, retraining a variant from them with its before/after accuracy)."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.errors import NotFound
from im2.i18n import _
from im2.listening import feeds, jobs, retrain
from im2.listening.pages_common import (
    base_url,
    listening_page,
    redirect,
    require_write,
    write_or_show_again,
)
from im2.listening.schemas import FeedCreate, Platform
from im2.web.db_calls import read, write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep, SettingsDep
from im2.web.forms import FormState, act_or_show_again, raw_values
from im2.web.params import Id
from im2.workspaces.schemas import Actor

router = APIRouter()  # included by pages.py under its prefix


# --- feeds ----------------------------------------------------------------------------------


def _feeds_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    state: FormState = FormState(),
    notice: str | None = None,
) -> Response:
    followed = read(db, feeds.list_feeds, actor=actor)
    return listening_page(
        request,
        actor,
        "feeds",
        "feeds",
        {"feeds": followed, "notice": notice},
        state=state,
    )


@router.get("/feeds")
def feeds_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    notice = request.query_params.get("polled")
    message = None
    if notice is not None and notice.isdigit():
        message = _("Polled: {count} new mentions.").format(count=int(notice))
    return _feeds_page(request, db, actor, notice=message)


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

    def save() -> None:
        data = FeedCreate(
            url=raw.get("url", "").strip(),
            platform=raw.get("platform") or Platform.RSS.value,
            interval_minutes=raw.get("interval_minutes") or 15,
        )
        write(
            db,
            feeds.do_add_feed,
            actor=actor,
            data=data,
            now=now,
            private_networks=settings.webhooks_reach_private_networks,
        )

    return write_or_show_again(
        save,
        again=partial(_feeds_page, request, db, actor),
        values=raw,
        done=f"{base_url(actor)}/feeds",
    )


@router.post("/feeds/{feed_id}/poll")
def poll_feed(
    request: Request, feed_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep
) -> Response:
    due = read(db, feeds.feed_to_poll, actor=actor, feed_id=feed_id)
    stored, _error = jobs.poll_feed(db, request.app.state.clock, due)
    # The outcome (new mentions, or the error) is on the feed's row and shown in the list.
    return redirect(f"{base_url(actor)}/feeds?polled={stored}")


@router.post("/feeds/{feed_id}/delete")
def remove_feed(
    feed_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    write(db, feeds.do_remove_feed, actor=actor, feed_id=feed_id, now=now)
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
        "summary": summary,
        "variants": variants,
        "active": next((v for v in variants if v.active), None),
        "error": error,
    }
    return listening_page(
        request, actor, "sentiment_model", "model", context, status_code=status_code
    )


@router.get("/sentiment-model")
def model_page(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _model_page(request, db, actor)


@router.post("/sentiment-model/retrain")
def retrain_model(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    require_write(actor)

    def act() -> None:
        write(db, retrain.do_retrain, actor=actor, now=now)

    return act_or_show_again(
        act,
        again=lambda exc: _model_page(
            request, db, actor, error=exc.message, status_code=exc.status_code
        ),
        done=f"{base_url(actor)}/sentiment-model",
    )


@router.post("/sentiment-model/variants/{variant_id}/{action}")
def switch_variant(
    variant_id: Id, action: str, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    if action not in ("use", "stop"):
        raise NotFound(_("Model variant not found."))
    write(
        db,
        retrain.do_set_variant_active,
        actor=actor,
        variant_id=variant_id,
        active=action == "use",
        now=now,
    )
    return redirect(f"{base_url(actor)}/sentiment-model")

"""Console pages of polls: add one, watch its results live, review held votes, export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from im2.activities import service as activities
from im2.activities.editing import OPTIONS_HINT, add_text_editor
from im2.activities.formats.poll import service
from im2.activities.formats.poll.live import refresh_results_on_commit, results_snapshot
from im2.activities.formats.poll.schemas import (
    VISIBILITY_LABELS,
    PollCreate,
    ResultsVisibility,
    VoteLimit,
)
from im2.activities.schemas import KIND_LABELS, ActivityKind
from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignRead
from im2.errors import IM2Error
from im2.live.sse import stream
from im2.spreadsheet import safe_record
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep
from im2.web.forms import service_error, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Permission
from im2.workspaces.service import require

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)


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
        "activities/poll/poll_form.html",
        {
            "campaign": campaign,
            "values": values,
            "errors": errors,
            "visibilities": list(ResultsVisibility),
            "visibility_labels": VISIBILITY_LABELS,
            "nav": "campaigns",
        },
        status_code=status_code,
    )


@router.get("/campaigns/{campaign_id}/poll/new")
def new_poll(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    values = {
        "results": ResultsVisibility.AFTER_VOTE.value,
        "vote_limit": VoteLimit.ONCE.value,
        "max_choices": "1",
    }
    return _form(request, campaign=campaign, values=values, errors={})


@router.post("/campaigns/{campaign_id}/poll")
def create_poll(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    lines = [line.strip() for line in raw.get("options", "").splitlines() if line.strip()]
    payload = {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "options": [{"label": line} for line in lines],
        "multiple": raw.get("multiple") == "on",
        "max_choices": raw.get("max_choices") or 1,
        "vote_limit": VoteLimit.DAILY.value if raw.get("vote_limit") == "daily" else "once",
        "votes_per_day": raw.get("votes_per_day") or 1,
        "results": raw.get("results") or ResultsVisibility.AFTER_VOTE.value,
    }
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
    try:
        data = PollCreate.model_validate(payload)
        with db.transaction() as session:
            created = service.do_create_poll(
                session, actor=actor, campaign_id=campaign_id, data=data, now=now
            )
    except ValidationError as exc:
        errors = {k.split(".")[0]: v for k, v in validation_errors(exc).items()}
        return _form(request, campaign=campaign, values=raw, errors=errors, status_code=422)
    except IM2Error as exc:
        return _form(
            request,
            campaign=campaign,
            values=raw,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/poll/{created.id}", status_code=303)


@router.get("/poll/{activity_id}")
def detail(request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        results = service.poll_results(session, actor=actor, activity_id=activity_id)
        held = service.list_held(session, actor=actor, activity_id=activity_id)
        activity = activities.get_activity(session, actor=actor, activity_id=activity_id)
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=activity.campaign_id)
    base_url = request.app.state.settings.base_url
    return render(
        request,
        "activities/poll/detail.html",
        {
            "activity": activity,
            "campaign": campaign,
            "results": results,
            "held": held,
            "kind_labels": KIND_LABELS,
            "visibility_labels": VISIBILITY_LABELS,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "public_url": f"{base_url}/c/{campaign.slug}/poll/{activity.id}",
            "nav": "campaigns",
        },
    )


@router.post("/poll/{activity_id}/review/{ballot_id}")
def review(
    request: Request,
    activity_id: Id,
    ballot_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    now: NowDep,
) -> Response:
    with db.transaction() as session:
        service.do_review_ballot(
            session,
            actor=actor,
            activity_id=activity_id,
            ballot_id=ballot_id,
            approve=form.get("decision") == "approve",
            now=now,
        )
        refresh_results_on_commit(session, db=db, hub=hub, activity_id=activity_id)
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/poll/{activity_id}", status_code=303
    )


@router.get("/poll/{activity_id}/export.csv")
def export_csv(activity_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        rows = service.export_poll(session, actor=actor, activity_id=activity_id)
    buffer = io.StringIO()
    columns = [
        "ballot_id",
        "participant_id",
        "voted_at",
        "day",
        "option_id",
        "option",
        "held_for_review",
        "risk_reasons",
    ]
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(safe_record(row) for row in rows)
    # A BOM so that Excel opens the Chinese text as UTF-8.
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="poll-{activity_id}-votes.csv"'},
    )


@router.get("/poll/{activity_id}/live")
def live_results(
    request: Request, activity_id: Id, actor: ConsoleActor, db: DbDep, hub: HubDep
) -> EventSourceResponse:
    with db.session() as session:
        service.poll_results(session, actor=actor, activity_id=activity_id)  # 404 / 403 first
    channel = service.results_channel(activity_id)
    first = hub.latest(channel) or json.dumps(results_snapshot(db, activity_id), ensure_ascii=False)
    return EventSourceResponse(stream(request, hub, channel, first, event="results"))


add_text_editor(router, ActivityKind.POLL, hint=OPTIONS_HINT)

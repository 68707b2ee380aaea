"""Console pages for experiments: a campaign's experiments, a new one, results and conclude."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.responses import JSONResponse, RedirectResponse, Response

from im2.activities.service import list_activities
from im2.analytics.exports import MEDIA_TYPES, ExportFormat, export_rows
from im2.analytics.live import live_response
from im2.campaigns.schemas import CampaignRead
from im2.campaigns.service import get_campaign
from im2.errors import NotFound
from im2.experiments import service, stats
from im2.experiments.schemas import (
    GOAL_KINDS,
    GOAL_LABELS,
    ExperimentCreate,
    ExperimentRead,
    ExperimentResults,
    VariantResult,
)
from im2.i18n import _
from im2.web.db_calls import write
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, HubDep, NowDep, SettingsDep
from im2.web.forms import FormState, act_or_show_again, save_or_show_again, see_other
from im2.web.params import Id
from im2.web.templating import local_time, render
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import require

router = APIRouter(
    prefix="/console/w/{workspace}/campaigns/{campaign_id}/experiments", include_in_schema=False
)
VARIANT_ROWS = 4


def _base(actor: Actor, campaign_id: int) -> str:
    return f"/console/w/{actor.workspace_slug}/campaigns/{campaign_id}/experiments"


def _list_page(
    request: Request,
    *,
    actor: Actor,
    db: DbDep,
    campaign_id: int,
    state: FormState = FormState(),
) -> Response:
    with db.session() as session:
        campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
        experiments = service.list_experiments(session, actor=actor, campaign_id=campaign.id)
        activities = list_activities(session, actor=actor, campaign_id=campaign.id)
    return render(
        request,
        "experiments/list.html",
        {
            "campaign": campaign,
            "experiments": experiments,
            "activities": activities,
            "goal_kinds": [k.value for k in GOAL_KINDS],
            "goal_labels": GOAL_LABELS,
            **state.shown({"goal_kinds": ["vote.cast"], "min_effect": "0.2"}),
            "rows": VARIANT_ROWS,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "campaigns",
        },
        status_code=state.status_code,
    )


@router.get("")
def experiments_page(request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep) -> Response:
    return _list_page(request, actor=actor, db=db, campaign_id=campaign_id)


def _form_payload(form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    raw: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "goal_kinds"}
    raw["goal_kinds"] = [str(v) for v in form.getlist("goal_kinds")]
    variants = []
    for i in range(VARIANT_ROWS):
        key = raw.get(f"v{i}_key", "").strip()
        if not key:
            continue
        payload = {
            name: raw.get(f"v{i}_{name}", "").strip() or None
            for name in ("title", "description", "button_text")
        }
        level = raw.get(f"v{i}_reward_level", "").strip()
        variants.append(
            {
                "key": key,
                "name": raw.get(f"v{i}_name", "").strip() or None,
                "weight": raw.get(f"v{i}_weight", "").strip() or "1",
                "payload": {**payload, "reward_level": level or None},
            }
        )
    payload = {
        "key": raw.get("key", ""),
        "name": raw.get("name", ""),
        "activity_id": raw.get("activity_id", ""),
        "variants": variants,
        "goal_kinds": raw["goal_kinds"],
        "min_effect": raw.get("min_effect", "").strip() or "0.2",
        "start": raw.get("start") == "yes",
    }
    return payload, raw


@router.post("")
def create(
    request: Request,
    campaign_id: Id,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    now: NowDep,
) -> Response:
    require(actor, Permission.WRITE_CAMPAIGNS)
    payload, raw = _form_payload(form)

    def save() -> ExperimentRead:
        data = ExperimentCreate.model_validate(payload)
        return write(
            db,
            service.do_create_experiment,
            actor=actor,
            campaign_id=campaign_id,
            data=data,
            now=now,
        )

    return save_or_show_again(
        save,
        again=partial(_list_page, request, actor=actor, db=db, campaign_id=campaign_id),
        values=raw,
        done=lambda created: see_other(f"{_base(actor, campaign_id)}/{created.id}"),
        propagate=(),
    )


def _results(
    db: DbDep,
    settings: SettingsDep,
    actor: Actor,
    now: datetime,
    *,
    campaign_id: int,
    experiment_id: int,
) -> tuple[CampaignRead, ExperimentResults]:
    with db.session() as session:
        campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
        results = service.get_results(
            session,
            actor=actor,
            experiment_id=experiment_id,
            lake_path=settings.lake_path,
            now=now,
        )
    return campaign, results


def _in_campaign(campaign: CampaignRead, results: ExperimentResults) -> ExperimentResults:
    """Downloads and live data answer only under the experiment's own campaign."""
    if results.experiment.campaign_id != campaign.id:
        raise NotFound(_("There is no such experiment in this campaign."))
    return results


def _chart(results: ExperimentResults) -> dict[str, Any]:
    grid, densities = stats.posterior_curves(
        [(v.exposures, v.conversions) for v in results.variants]
    )
    return {
        "keys": [v.key for v in results.variants],
        "names": [v.name for v in results.variants],
        "rates": [v.conversion_rate for v in results.variants],
        "low": [v.interval_low for v in results.variants],
        "high": [v.interval_high for v in results.variants],
        "p_best": [v.probability_best for v in results.variants],
        "grid": grid,
        "densities": densities,
        "labels": {
            "rate": _("Conversion rate"),
            "interval": _("95% credible interval"),
            "p_best": _("Probability of being best"),
            "density": _("Posterior density"),
        },
    }


def _snapshot(campaign: CampaignRead, results: ExperimentResults) -> dict[str, Any]:
    """What the page redraws when new events arrive: the verdict, the table and both charts."""
    return {
        "verdict": results.verdict,
        "updated": local_time(results.computed_at, campaign.timezone),
        "required_per_variant": results.required_per_variant,
        "variants": [v.model_dump(mode="json") for v in results.variants],
        "chart": _chart(results),
    }


def _detail(
    request: Request,
    *,
    actor: Actor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    campaign_id: int,
    experiment_id: int,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    campaign, results = _results(
        db, settings, actor, now, campaign_id=campaign_id, experiment_id=experiment_id
    )
    if results.experiment.campaign_id != campaign.id:
        return RedirectResponse(
            _base(actor, results.experiment.campaign_id) + f"/{experiment_id}", status_code=303
        )
    return render(
        request,
        "experiments/detail.html",
        {
            "campaign": campaign,
            "results": results,
            "chart": _chart(results),
            "goal_labels": GOAL_LABELS,
            "formats": list(ExportFormat),
            "error": error,
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "campaigns",
        },
        status_code=status_code,
    )


@router.get("/{experiment_id}")
def experiment_page(
    request: Request,
    campaign_id: Id,
    experiment_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    return _detail(
        request,
        actor=actor,
        db=db,
        settings=settings,
        now=now,
        campaign_id=campaign_id,
        experiment_id=experiment_id,
    )


class ExperimentChart(StrEnum):
    """The page's two charts, as downloads."""

    VARIANTS = "variants"  # conversion rate, interval and probability of being best
    POSTERIOR = "posterior"  # each variant's posterior density over the rate


def _chart_rows(
    chart: ExperimentChart, results: ExperimentResults
) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    if chart is ExperimentChart.VARIANTS:
        return [v.model_dump(mode="json") for v in results.variants], tuple(
            VariantResult.model_fields
        )
    drawn = _chart(results)
    rows = [
        {"variant": v.key, "name": v.name, "rate": rate, "density": density}
        for v, curve in zip(results.variants, drawn["densities"], strict=True)
        for rate, density in zip(drawn["grid"], curve, strict=True)
    ]
    return rows, ("variant", "name", "rate", "density")


@router.get("/{experiment_id}/data")
def experiment_data(
    campaign_id: Id,
    experiment_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> JSONResponse:
    """The page's numbers as JSON (what the live stream pushes)."""
    campaign, results = _results(
        db, settings, actor, now, campaign_id=campaign_id, experiment_id=experiment_id
    )
    return JSONResponse(_snapshot(campaign, _in_campaign(campaign, results)))


@router.get("/{experiment_id}/stream")
async def experiment_stream(
    request: Request,
    campaign_id: Id,
    experiment_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    hub: HubDep,
    settings: SettingsDep,
) -> EventSourceResponse:
    """The results as server-sent events: now, then again whenever the campaign has new
    events (exposures and goals are events; see `im2.analytics.live`)."""
    clock = request.app.state.clock

    def compute() -> dict[str, Any]:
        campaign, results = _results(
            db,
            settings,
            actor,
            clock.now(),
            campaign_id=campaign_id,
            experiment_id=experiment_id,
        )
        return _snapshot(campaign, _in_campaign(campaign, results))

    return await live_response(
        request,
        hub=hub,
        db=db,
        channel=f"experiment:{campaign_id}:{experiment_id}",
        campaign_ids=[campaign_id],
        compute=compute,
        event="results",
    )


@router.get("/{experiment_id}/export/{chart}.{fmt}")
def experiment_export(
    campaign_id: Id,
    experiment_id: Id,
    chart: ExperimentChart,
    fmt: ExportFormat,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """One chart's data (the numbers the page shows) as CSV, Excel or Parquet."""
    campaign, results = _results(
        db, settings, actor, now, campaign_id=campaign_id, experiment_id=experiment_id
    )
    rows, columns = _chart_rows(chart, _in_campaign(campaign, results))
    filename = f"{campaign.slug}-{results.experiment.key}-{chart.value}.{fmt.value}"
    return Response(
        export_rows(rows, fmt, sheet=chart.value, columns=columns),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/{experiment_id}/{action}")
def change(
    request: Request,
    campaign_id: Id,
    experiment_id: Id,
    action: str,
    form: CsrfForm,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    if action not in ("start", "conclude"):
        return Response(status_code=404)

    def act() -> None:
        with db.transaction() as session:
            if action == "start":
                service.do_start_experiment(
                    session, actor=actor, experiment_id=experiment_id, now=now
                )
            else:
                service.do_conclude_experiment(
                    session,
                    actor=actor,
                    experiment_id=experiment_id,
                    winner=str(form.get("winner") or "").strip() or None,
                    apply_winner=form.get("apply") == "yes",
                    now=now,
                )

    return act_or_show_again(
        act,
        again=lambda exc: _detail(
            request,
            actor=actor,
            db=db,
            settings=settings,
            now=now,
            campaign_id=campaign_id,
            experiment_id=experiment_id,
            error=exc.message,
            status_code=exc.status_code,
        ),
        done=f"{_base(actor, campaign_id)}/{experiment_id}",
        propagate=(),
    )

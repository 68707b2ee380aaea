"""Console pages of influence: a campaign's KOLs and seed advice, the workspace's graphs."""

from __future__ import annotations

import math
import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignFilter
from im2.errors import IM2Error
from im2.i18n import _
from im2.influence import service
from im2.influence.schemas import (
    MODEL_LABELS,
    PROBABILITY_LABELS,
    GraphOptions,
    ProbabilityModel,
    SeedRecommendation,
    SeedRequest,
)
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import FormState, validation_errors
from im2.web.params import Id
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
TABLE_ROWS = 20
SEED_DEFAULTS = {
    "k": "10",
    "model": "ic",
    "epsilon": "0.2",
    "probability": "wc",
    "constant": "0.05",
    "steps": "8",
    "own_pick": "",
    "costs": "",
    "budget": "",
}


def _options(probability: str | None) -> GraphOptions:
    try:
        return GraphOptions(probability=ProbabilityModel(probability or "wc"))
    except ValueError:
        return GraphOptions()


def _chart(result: SeedRecommendation) -> dict[str, Any]:
    # Whole people: a forecast of 12.4 people reads as a measurement it is not.
    return {
        "steps": result.forecast.steps,
        "recommended": [round(x) for x in result.forecast.recommended],
        "own": [round(x) for x in result.forecast.own],
        "labels": {
            "recommended": _("Recommended people"),
            "own": _("Your own pick") if result.own_pick_source == "given" else _("Most followers"),
            "step": _("Round"),
            "reach": _("People reached"),
        },
    }


def _campaign_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    campaign_id: int,
    *,
    state: FormState,
    result: SeedRecommendation | None = None,
) -> Response:
    options = _options((state.values or {}).get("probability"))
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        page = service.kol_ranking(
            session, actor=actor, campaign_id=campaign_id, options=options, limit=TABLE_ROWS
        )
    return render(
        request,
        "influence/campaign.html",
        {
            "campaign": campaign,
            "page": page,
            **state.shown(),
            "result": result,
            "chart": _chart(result) if result is not None else None,
            "models": MODEL_LABELS,
            "probabilities": PROBABILITY_LABELS,
            "nav": "campaigns",
        },
        status_code=state.status_code,
    )


@router.get("/campaigns/{campaign_id}/influence")
def campaign_influence(
    request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep
) -> Response:
    values = dict(SEED_DEFAULTS)
    values["probability"] = request.query_params.get("probability", "wc")
    return _campaign_page(request, db, actor, campaign_id, state=FormState(values))


def _costs(text: str) -> dict[str, float] | str | None:
    """``id cost`` per line; an error message (with line numbers) when a line is wrong."""
    costs: dict[str, float] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = re.split(r"[\s,，]+", line.strip())
        if fields == [""]:
            continue
        try:
            cost = float(fields[1]) if len(fields) == 2 else -1.0
        except ValueError:
            cost = -1.0
        if cost <= 0 or not math.isfinite(cost):
            bad.append(str(number))
            continue
        costs[fields[0]] = cost
    if bad:
        return _("Lines {lines}: write one “id cost” per line, the cost a positive number.").format(
            lines=", ".join(bad[:10])
        )
    return costs or None


def _own_pick(text: str) -> list[str] | None:
    keys = [k for k in re.split(r"[\s,，;；]+", text.strip()) if k]
    return keys or None


@router.post("/campaigns/{campaign_id}/influence")
def campaign_seeds(
    request: Request, campaign_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep
) -> Response:
    values = {key: str(form.get(key) or "").strip() for key in SEED_DEFAULTS}
    costs = _costs(values["costs"])
    if isinstance(costs, str):
        state = FormState(values, {"costs": costs}, 422)
        return _campaign_page(request, db, actor, campaign_id, state=state)
    try:
        seed_request = SeedRequest.model_validate(
            {
                "k": values["k"] or None,
                "model": values["model"] or "ic",
                "epsilon": values["epsilon"] or None,
                "probability": values["probability"] or "wc",
                "constant": values["constant"] or 0.05,
                "steps": values["steps"] or 8,
                "own_pick": _own_pick(values["own_pick"]),
                "costs": costs,
                "budget": values["budget"] or None,
            }
        )
    except ValidationError as exc:
        errors = validation_errors(exc)
        return _campaign_page(request, db, actor, campaign_id, state=FormState(values, errors, 422))
    try:
        with db.session() as session:
            result = service.recommend_seeds(
                session, actor=actor, campaign_id=campaign_id, request=seed_request
            )
    except IM2Error as exc:
        if exc.status_code in (403, 404):
            raise
        state = FormState.refused(exc, values)
        return _campaign_page(request, db, actor, campaign_id, state=state)
    return _campaign_page(request, db, actor, campaign_id, state=FormState(values), result=result)


def _csv(page_csv: str, filename: str) -> Response:
    return Response(
        page_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/campaigns/{campaign_id}/influence/kols.csv")
def campaign_kols_csv(
    request: Request, campaign_id: Id, actor: ConsoleActor, db: DbDep
) -> Response:
    options = _options(request.query_params.get("probability"))
    with db.session() as session:
        page = service.kol_ranking(
            session, actor=actor, campaign_id=campaign_id, options=options, limit=5000
        )
    return _csv(service.kols_csv(page), f"kols-campaign-{campaign_id}.csv")


# --- workspace: KOLs across campaigns and the imported follow graphs --------------------------


def _workspace_page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    state: FormState,
) -> Response:
    with db.session() as session:
        page = service.kol_ranking(
            session, actor=actor, campaign_id=None, options=GraphOptions(), limit=TABLE_ROWS
        )
        graphs = service.list_graphs(session, actor=actor)
        listed = campaigns.list_campaigns(
            session, actor=actor, filters=CampaignFilter(include_archived=True), limit=100
        )
    return render(
        request,
        "influence/workspace.html",
        {
            "page": page,
            "graphs": graphs,
            "campaigns": listed.items,
            **state.shown(),
            "can_write": actor.can(Permission.WRITE_CAMPAIGNS),
            "nav": "influence",
        },
        status_code=state.status_code,
    )


@router.get("/influence")
def workspace_influence(request: Request, actor: ConsoleActor, db: DbDep) -> Response:
    return _workspace_page(request, db, actor, state=FormState({"directed": "1"}))


@router.get("/influence/kols.csv")
def workspace_kols_csv(actor: ConsoleActor, db: DbDep) -> Response:
    with db.session() as session:
        page = service.kol_ranking(
            session, actor=actor, campaign_id=None, options=GraphOptions(), limit=5000
        )
    return _csv(service.kols_csv(page), "kols-workspace.csv")


@router.post("/influence/graphs")
def import_graph(
    request: Request, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    values = {"name": str(form.get("name") or ""), "directed": str(form.get("directed") or "")}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = {"file": _("Choose a file to import.")}
        return _workspace_page(request, db, actor, state=FormState(values, errors, 422))
    data = upload.file.read(service.MAX_IMPORT_BYTES + 1)
    try:
        with db.transaction() as session:
            service.do_import_graph(
                session,
                actor=actor,
                name=values["name"],
                filename=upload.filename,
                data=data,
                directed=values["directed"] == "1",
                now=now,
            )
    except IM2Error as exc:
        if exc.status_code in (403, 404):
            raise
        return _workspace_page(request, db, actor, state=FormState.refused(exc, values))
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/influence", status_code=303)


@router.post("/influence/graphs/{graph_id}/delete")
def delete_graph(
    graph_id: Id, form: CsrfForm, actor: ConsoleActor, db: DbDep, now: NowDep
) -> Response:
    with db.transaction() as session:
        service.do_delete_graph(session, actor=actor, graph_id=graph_id, now=now)
    return RedirectResponse(f"/console/w/{actor.workspace_slug}/influence", status_code=303)

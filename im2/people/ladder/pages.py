"""Console page of the closeness ladder (用户 → 亲密度阶梯): the dashboard and the rules form."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from im2.campaigns import service as campaigns
from im2.campaigns.schemas import CampaignFilter
from im2.errors import IM2Error
from im2.i18n import _
from im2.people.ladder import service
from im2.people.ladder.schemas import STAGE_LABELS, STAGES, LadderBoard, LadderRules
from im2.web.deps import ConsoleActor, CsrfForm, DbDep, NowDep
from im2.web.forms import service_error, validation_errors
from im2.web.templating import render
from im2.workspaces.schemas import Actor, Permission

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
RULE_FIELDS = tuple(LadderRules.model_fields)


def _chart(board: LadderBoard) -> dict[str, Any]:
    """What the page's charts draw, with their labels already translated."""
    names = {s.value: _(STAGE_LABELS[s]) for s in STAGES}
    return {
        "names": names,
        "order": [s.value for s in STAGES],
        "days": [p.day.isoformat() for p in board.series],
        "series": {s.value: [p.people[s] for p in board.series] for s in STAGES},
        "flows": [
            {"source": names[f.from_stage], "target": names[f.to_stage], "value": f.people}
            for f in board.flows
        ],
        "deciles": [
            {"decile": d.decile, "low": d.low, "high": d.high, "people": d.people}
            for d in board.deciles
        ],
        "labels": {
            "people": _("People"),
            "decile": _("Decile %(n)s"),
            "range": _("Score %(low)s–%(high)s"),
            "empty": _("No stage changes yet."),
        },
    }


def _page(
    request: Request,
    db: DbDep,
    actor: Actor,
    *,
    campaign_id: int | None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with db.session() as session:
        board = service.get_board(session, actor=actor, campaign_id=campaign_id)
        choices = campaigns.list_campaigns(
            session, actor=actor, filters=CampaignFilter(include_archived=True), limit=100
        ).items
    return render(
        request,
        "people/ladder/dashboard.html",
        {
            "nav": "people",
            "board": board,
            "chart": _chart(board),
            "campaigns": choices,
            "campaign_id": campaign_id,
            "stage_labels": STAGE_LABELS,
            "stages": STAGES,
            "values": values or board.rules.model_dump(include=set(RULE_FIELDS)),
            "errors": errors or {},
            "can_edit": actor.can(Permission.WRITE_PEOPLE),
            "total": sum(s.people for s in board.stages),
        },
        status_code=status_code,
    )


@router.get("/people/ladder")
def ladder_page(
    request: Request, actor: ConsoleActor, db: DbDep, campaign: str | None = None
) -> Response:
    campaign_id = int(campaign) if campaign and campaign.isdigit() else None
    return _page(request, db, actor, campaign_id=campaign_id)


@router.post("/people/ladder/rules")
def save_rules(
    request: Request, actor: ConsoleActor, db: DbDep, now: NowDep, form: CsrfForm
) -> Response:
    values = {name: str(form.get(name, "")).strip() for name in RULE_FIELDS}
    try:
        rules = LadderRules.model_validate(values)
        with db.transaction() as session:
            service.do_update_rules(session, actor=actor, rules=rules, now=now)
    except ValidationError as exc:
        return _page(
            request,
            db,
            actor,
            campaign_id=None,
            values=values,
            errors=validation_errors(exc),
            status_code=422,
        )
    except IM2Error as exc:
        return _page(
            request,
            db,
            actor,
            campaign_id=None,
            values=values,
            errors=service_error(exc),
            status_code=exc.status_code,
        )
    return RedirectResponse(
        f"/console/w/{actor.workspace_slug}/people/ladder?saved=1", status_code=303
    )

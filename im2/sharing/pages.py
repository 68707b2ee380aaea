"""Console page of a campaign's sharing: links, clicks, the share tree and its figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from im2.campaigns import service as campaigns
from im2.campaigns.figures import FiguresDep, FiguresReader
from im2.i18n import _
from im2.sharing import service
from im2.sharing.schemas import SHARE_CHANNELS, ShareTreeNode
from im2.web.deps import ConsoleActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id
from im2.web.templating import render

router = APIRouter(prefix="/console/w/{workspace}", include_in_schema=False)
CHART_NODES = 400  # a tree chart beyond a few hundred nodes is unreadable anyway


def tree_for_chart(edges: list[ShareTreeNode], label: str) -> dict[str, Any]:
    """Nested {name, children} for ECharts' tree series, under one root for the campaign;
    only people who shared or were brought in (organic non-sharers would flood the chart)."""
    children: dict[int | None, list[int]] = {}
    for edge in edges:
        children.setdefault(edge.parent_id, []).append(edge.participant_id)
    in_tree = {e.participant_id for e in edges if e.parent_id is not None}
    in_tree |= {e.parent_id for e in edges if e.parent_id is not None}
    budget = [CHART_NODES]

    def node(pid: int) -> dict[str, Any]:
        budget[0] -= 1
        kids = [node(c) for c in children.get(pid, []) if budget[0] > 0]
        return {"name": f"#{pid}", "children": kids}

    roots = [pid for pid in children.get(None, []) if pid in in_tree]
    return {"name": label, "children": [node(r) for r in roots if budget[0] > 0]}


# The page's figures, asked of the analytics registry (the one place a metric is computed).
FIGURES = ["participants", "k_factor", "cascade"]


@dataclass(frozen=True, slots=True)
class Figures:
    participants: float
    referred: int  # participants brought by someone's share (the K-factor's numerator)
    k_factor: float | None
    k_ci: tuple[float, float] | None  # the registry's 95 % confidence interval of the K-factor
    k_eligible: int  # the K-factor's cohort: people who had the whole invitation window
    k_window_days: float
    k_definition: str  # the registry's description, shown as the figure's explanation
    depth: int
    structural_virality: float | None
    viral_cycle_hours: float | None


def figures_of(metrics: Mapping[str, Any], reader: FiguresReader) -> Figures:
    k_row = (metrics["k_factor"].rows or [{}])[0]
    cascade = (metrics["cascade"].rows or [{}])[0]
    low, high = k_row.get("ci_low"), k_row.get("ci_high")
    return Figures(
        participants=metrics["participants"].value or 0,
        referred=int(k_row.get("invited_participants") or 0),
        k_factor=metrics["k_factor"].value,
        k_ci=(low, high) if low is not None and high is not None else None,
        k_eligible=int(k_row.get("eligible_participants") or 0),
        k_window_days=float(k_row.get("window_days") or 0),
        k_definition=reader.describe("k_factor"),
        depth=int(cascade.get("depth") or 0),
        structural_virality=cascade.get("structural_virality"),
        viral_cycle_hours=cascade.get("viral_cycle_hours"),
    )


@router.get("/campaigns/{campaign_id}/sharing")
def sharing(
    request: Request,
    campaign_id: Id,
    actor: ConsoleActor,
    db: DbDep,
    settings: SettingsDep,
    now: NowDep,
    figures: FiguresDep,
) -> Response:
    with db.session() as session:
        campaign = campaigns.get_campaign(session, actor=actor, campaign_id=campaign_id)
        stats = service.share_stats(session, actor=actor, campaign_id=campaign_id)
        found = figures.read(
            session,
            actor=actor,
            campaign_id=campaign_id,
            keys=FIGURES,
            lake_path=settings.lake_path,
            now=now,
        )
    return render(
        request,
        "sharing/console.html",
        {
            "campaign": campaign,
            "stats": stats,
            "figures": figures_of(found, figures),
            "tree": tree_for_chart(stats.edges, campaign.name),
            "channel_names": {name: _(label) for name, label in SHARE_CHANNELS},
            "nav": "campaigns",
        },
    )

"""JSON API for influence: imported follow graphs, KOL rankings and seed recommendations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.responses import Response

from im2.influence import service
from im2.influence.schemas import (
    GraphImportRead,
    GraphOptions,
    KolPage,
    ProbabilityModel,
    SeedRecommendation,
    SeedRequest,
)
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["influence"])

Limit = Annotated[int, Query(ge=1, le=5000)]
Prob = Annotated[ProbabilityModel, Query()]
Constant = Annotated[float, Query(gt=0, le=1)]
Strength = Annotated[float, Query(gt=0, le=1000)]


@router.post(
    "/influence/graphs",
    response_model=GraphImportRead,
    status_code=201,
    summary="Import a follow or friend list (edge list `u v [p]` or CSV with a header)",
)
def import_graph(
    actor: ApiActor,
    db: DbDep,
    now: NowDep,
    file: Annotated[UploadFile, File()],
    name: Annotated[str, Form(max_length=120)],
    directed: Annotated[bool, Form()] = True,
) -> GraphImportRead:
    """``u v`` means u can influence v (v follows u); ``directed=false`` for friend lists.
    A file with bad lines is refused with the line numbers; nothing is stored."""
    # A sync route runs in the thread pool: parsing and storing a large list never blocks
    # the event loop.
    data = file.file.read(service.MAX_IMPORT_BYTES + 1)
    with db.transaction() as session:
        return service.do_import_graph(
            session,
            actor=actor,
            name=name,
            filename=file.filename or "upload",
            data=data,
            directed=directed,
            now=now,
        )


@router.get("/influence/graphs", response_model=list[GraphImportRead], summary="Imported graphs")
def list_graphs(actor: ApiActor, db: DbDep) -> list[GraphImportRead]:
    with db.session() as session:
        return service.list_graphs(session, actor=actor)


@router.delete("/influence/graphs/{graph_id}", status_code=204, summary="Delete an imported graph")
def delete_graph(graph_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> Response:
    with db.transaction() as session:
        service.do_delete_graph(session, actor=actor, graph_id=graph_id, now=now)
    return Response(status_code=204)


def _kols(
    db: DbDep,
    actor: ApiActor,
    campaign_id: int | None,
    probability: ProbabilityModel,
    constant: float,
    strength: float,
    limit: int,
) -> KolPage:
    options = GraphOptions(probability=probability, constant=constant, strength=strength)
    with db.session() as session:
        return service.kol_ranking(
            session, actor=actor, campaign_id=campaign_id, options=options, limit=limit
        )


@router.get(
    "/campaigns/{campaign_id}/influence/kols",
    response_model=KolPage,
    summary="KOLs of a campaign, with the reasons for each",
)
def campaign_kols(
    campaign_id: Id,
    actor: ApiActor,
    db: DbDep,
    probability: Prob = ProbabilityModel.WC,
    constant: Constant = 0.05,
    strength: Strength = 2.0,
    limit: Limit = 50,
) -> KolPage:
    return _kols(db, actor, campaign_id, probability, constant, strength, limit)


@router.get(
    "/campaigns/{campaign_id}/influence/kols.csv",
    summary="KOLs of a campaign as CSV",
    response_class=Response,
)
def campaign_kols_csv(
    campaign_id: Id,
    actor: ApiActor,
    db: DbDep,
    probability: Prob = ProbabilityModel.WC,
    limit: Limit = 5000,
) -> Response:
    page = _kols(db, actor, campaign_id, probability, 0.05, 2.0, limit)
    return Response(
        service.kols_csv(page),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="kols-campaign-{campaign_id}.csv"'},
    )


@router.get("/influence/kols", response_model=KolPage, summary="KOLs of the whole workspace")
def workspace_kols(
    actor: ApiActor,
    db: DbDep,
    probability: Prob = ProbabilityModel.WC,
    constant: Constant = 0.05,
    strength: Strength = 2.0,
    limit: Limit = 50,
) -> KolPage:
    return _kols(db, actor, None, probability, constant, strength, limit)


@router.post(
    "/campaigns/{campaign_id}/influence/seeds",
    response_model=SeedRecommendation,
    summary="Seeds that maximise expected spread (IMM), with a forecast against your own pick",
)
def campaign_seeds(
    campaign_id: Id, body: SeedRequest, actor: ApiActor, db: DbDep
) -> SeedRecommendation:
    """Reads only. Capped for the web: k <= 200, epsilon >= 0.05, one thread, 256 MB of RR
    sets; larger problems belong to ``im2 influence seeds``."""
    with db.session() as session:
        return service.recommend_seeds(session, actor=actor, campaign_id=campaign_id, request=body)


@router.post(
    "/influence/seeds",
    response_model=SeedRecommendation,
    summary="Seeds over the whole workspace's influence graph, with a forecast",
)
def workspace_seeds(body: SeedRequest, actor: ApiActor, db: DbDep) -> SeedRecommendation:
    with db.session() as session:
        return service.recommend_seeds(session, actor=actor, campaign_id=None, request=body)

"""JSON API for experiments: create, start, conclude, list, and the results."""

from __future__ import annotations

from fastapi import APIRouter

from im2.experiments import service
from im2.experiments.schemas import (
    ExperimentConclude,
    ExperimentCreate,
    ExperimentRead,
    ExperimentResults,
)
from im2.web.db_calls import read, write
from im2.web.deps import ApiActor, DbDep, NowDep, SettingsDep
from im2.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["experiments"])


@router.post(
    "/campaigns/{campaign_id}/experiments",
    response_model=ExperimentRead,
    status_code=201,
    summary="Create an experiment on one of the campaign's activities (a draft unless start)",
)
def create_experiment(
    campaign_id: Id, body: ExperimentCreate, actor: ApiActor, db: DbDep, now: NowDep
) -> ExperimentRead:
    return write(
        db, service.do_create_experiment, actor=actor, campaign_id=campaign_id, data=body, now=now
    )


@router.get(
    "/campaigns/{campaign_id}/experiments",
    response_model=list[ExperimentRead],
    summary="The campaign's experiments, newest first",
)
def list_experiments(campaign_id: Id, actor: ApiActor, db: DbDep) -> list[ExperimentRead]:
    return read(db, service.list_experiments, actor=actor, campaign_id=campaign_id)


@router.get("/experiments/{experiment_id}", response_model=ExperimentRead)
def get_experiment(experiment_id: Id, actor: ApiActor, db: DbDep) -> ExperimentRead:
    return read(db, service.get_experiment, actor=actor, experiment_id=experiment_id)


@router.post(
    "/experiments/{experiment_id}/start",
    response_model=ExperimentRead,
    summary="Start showing the variants (one running experiment per activity)",
)
def start_experiment(experiment_id: Id, actor: ApiActor, db: DbDep, now: NowDep) -> ExperimentRead:
    return write(db, service.do_start_experiment, actor=actor, experiment_id=experiment_id, now=now)


@router.post(
    "/experiments/{experiment_id}/conclude",
    response_model=ExperimentRead,
    summary="Stop the experiment, keeping the named variant (or none)",
)
def conclude_experiment(
    experiment_id: Id, body: ExperimentConclude, actor: ApiActor, db: DbDep, now: NowDep
) -> ExperimentRead:
    return write(
        db,
        service.do_conclude_experiment,
        actor=actor,
        experiment_id=experiment_id,
        winner=body.winner,
        apply_winner=body.apply,
        now=now,
    )


@router.get(
    "/experiments/{experiment_id}/results",
    response_model=ExperimentResults,
    summary="Conversion per variant, probability of being best, expected loss, sample needed",
)
def experiment_results(
    experiment_id: Id, actor: ApiActor, db: DbDep, settings: SettingsDep, now: NowDep
) -> ExperimentResults:
    return read(
        db,
        service.get_results,
        actor=actor,
        experiment_id=experiment_id,
        lake_path=settings.lake_path,
        now=now,
    )

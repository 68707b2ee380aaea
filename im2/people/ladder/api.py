"""JSON API of the closeness ladder: the dashboard's figures, the workspace's rules, and one
person's stages and history."""

from __future__ import annotations

from fastapi import APIRouter

from im2.people.ladder import service
from im2.people.ladder.schemas import LadderBoard, LadderRules, LadderRulesRead, PersonLadderRead
from im2.web.deps import ApiActor, DbDep, NowDep
from im2.web.params import Id

# Served before the people router: its `/{person_id}` would take "ladder" for an id.
router = APIRouter(prefix="/api/v1/people", tags=["people"])


@router.get("/ladder", response_model=LadderBoard, summary="The closeness ladder's figures")
def get_ladder(actor: ApiActor, db: DbDep, campaign_id: Id | None = None) -> LadderBoard:
    """People per stage now and per day, the flows between stages, the campaigns that moved
    people up, and the engagement score's deciles: of the workspace, or of one campaign."""
    with db.session() as session:
        return service.get_board(session, actor=actor, campaign_id=campaign_id)


@router.get("/ladder/rules", response_model=LadderRulesRead, summary="The ladder's thresholds")
def get_rules(actor: ApiActor, db: DbDep) -> LadderRulesRead:
    with db.session() as session:
        service.require_read(actor)
        return service.get_rules(session, workspace_id=actor.workspace_id)


@router.put("/ladder/rules", response_model=LadderRulesRead, summary="Change the thresholds")
def put_rules(body: LadderRules, actor: ApiActor, db: DbDep, now: NowDep) -> LadderRulesRead:
    """Everyone's stage is recomputed with the new thresholds at the ladder job's next run."""
    with db.transaction() as session:
        return service.do_update_rules(session, actor=actor, rules=body, now=now)


@router.get(
    "/{person_id}/ladder", response_model=PersonLadderRead, summary="A person's stages and history"
)
def get_person_ladder(person_id: Id, actor: ApiActor, db: DbDep) -> PersonLadderRead:
    with db.session() as session:
        return service.get_person_ladder(session, actor=actor, person_id=person_id)

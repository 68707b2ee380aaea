"""The ladder's stages, its per-workspace rules, what the computation hands over to be stored,
and the shapes the dashboard and the API read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from im2.i18n import N_


class Stage(StrEnum):
    BYSTANDER = "bystander"  # 旁观者: seen, never acted
    PARTICIPANT = "participant"  # 参与者: acted
    SPREADER = "spreader"  # 传播者: shared, and brought someone through their link
    ADVOCATE = "advocate"  # 拥护者: keeps coming back, and brings people


STAGES: tuple[Stage, ...] = tuple(Stage)
RANK = {stage: i for i, stage in enumerate(STAGES)}
STAGE_LABELS = {
    Stage.BYSTANDER: N_("Bystander"),
    Stage.PARTICIPANT: N_("Participant"),
    Stage.SPREADER: N_("Spreader"),
    Stage.ADVOCATE: N_("Advocate"),
}
# The campaign id of a workspace-level row (every campaign together).
WORKSPACE_SCOPE = 0
# A change row's `from_stage` when a subject first appears, and its `to_stage` when it leaves
# the ladder (merged into another person, restricted, or absorbed by a person who joined).
NONE = ""


class LadderRules(BaseModel):
    """A workspace's thresholds. An advocate keeps coming back (took part in at least
    `advocate_min_campaigns` campaigns, or on at least `advocate_min_weeks` distinct weeks) and
    brought at least `advocate_min_brought` people; a spreader shared and brought at least
    `spreader_min_brought` (never more than an advocate: `service.check_rules`)."""

    model_config = ConfigDict(extra="forbid")

    spreader_min_brought: int = Field(
        default=1, ge=1, le=10_000, description="People a spreader brought through their link."
    )
    advocate_min_campaigns: int = Field(
        default=2, ge=1, le=1_000, description="Campaigns an advocate took part in (or weeks)."
    )
    advocate_min_weeks: int = Field(
        default=3, ge=1, le=520, description="Distinct weeks an advocate took part (or campaigns)."
    )
    advocate_min_brought: int = Field(
        default=2, ge=1, le=10_000, description="People an advocate brought in all."
    )


DEFAULT_RULES = LadderRules()


class LadderRulesRead(LadderRules):
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class Step:
    """One stage reached: when, and the event that completed it (its id and kind)."""

    at: datetime
    event_id: int | None
    cause: str


@dataclass(frozen=True, slots=True)
class SubjectResult:
    """The computed ladder of one subject in one scope (`campaign_id` 0 = the workspace).

    `subject` is "p:<person id>", or the actor id itself for a device no person holds (a
    bystander who never acted). `steps` holds the stages reached, lowest first."""

    campaign_id: int
    subject: str
    person_id: int | None
    steps: tuple[tuple[Stage, Step], ...]
    score: float
    last_seen_at: datetime
    brought: int
    campaigns: int
    weeks: int
    active_days: int

    @property
    def stage(self) -> Stage:
        return self.steps[-1][0]


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    subjects: int
    changes: int
    removed: int


class StageCount(BaseModel):
    stage: Stage
    name: str
    people: int


class StageSeriesPoint(BaseModel):
    day: date
    people: dict[Stage, int]


class Flow(BaseModel):
    from_stage: Stage
    to_stage: Stage
    people: int


class CampaignMove(BaseModel):
    campaign_id: int
    campaign: str
    # People who moved up a stage in this campaign, by the stage they reached.
    moved_up: dict[Stage, int]
    total: int


class ScoreDecile(BaseModel):
    decile: int  # 1 = the lowest tenth
    low: float
    high: float
    people: int


class LadderBoard(BaseModel):
    campaign_id: int | None
    rules: LadderRulesRead
    computed_at: datetime | None
    stages: list[StageCount]
    series: list[StageSeriesPoint]
    flows: list[Flow]
    campaigns: list[CampaignMove]
    deciles: list[ScoreDecile]


class LadderChangeRead(BaseModel):
    campaign_id: int
    from_stage: str | None
    to_stage: str | None
    changed_at: datetime
    cause: str
    cause_event_id: int | None


class PersonLadderRead(BaseModel):
    person_id: int
    stage: Stage | None
    score: float | None
    # Stage per campaign id (0 = the workspace).
    campaigns: dict[int, Stage]
    changes: list[LadderChangeRead]

"""Shapes of the influence domain: imported graphs, KOL rows, seed recommendations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from im2.i18n import N_

MAX_K = 200  # seeds per request on the web path; the CLI has no such cap
MIN_EPSILON = 0.05  # smaller epsilon means many more RR sets; the CLI allows it
MAX_STEPS = 30


class ProbabilityModel(StrEnum):
    WC = "wc"
    CONST = "const"
    LEARNED = "learned"
    FILE = "file"


PROBABILITY_LABELS: dict[ProbabilityModel, str] = {
    ProbabilityModel.WC: N_("Shared out among the people who can reach them (usual)"),
    ProbabilityModel.CONST: N_("The same chance for every contact"),
    ProbabilityModel.LEARNED: N_("Learned from how people acted on shares so far"),
    ProbabilityModel.FILE: N_("As written in the imported follow lists"),
}


class DiffusionModel(StrEnum):
    IC = "ic"
    LT = "lt"


MODEL_LABELS: dict[DiffusionModel, str] = {
    DiffusionModel.IC: N_("Each contact may be won over on their own (usual)"),
    DiffusionModel.LT: N_("A contact joins once enough of their contacts have"),
}


class GraphOptions(BaseModel):
    """How edge probabilities are set when the influence graph is built."""

    probability: ProbabilityModel = ProbabilityModel.WC
    constant: Annotated[float, Field(gt=0, le=1)] = 0.05
    strength: Annotated[float, Field(gt=0, le=1000)] = 2.0


class GraphImportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    filename: str
    directed: bool
    nodes: int
    edges: int
    with_probabilities: bool
    report: dict[str, Any]
    created_by: str
    created_at: datetime


class GraphSummary(BaseModel):
    """What the influence graph was built from."""

    nodes: int
    edges: int
    share_edges: int
    repost_edges: int
    mention_edges: int
    follow_edges: int
    probability: ProbabilityModel
    mean_probability: float | None
    learned_edges: int  # edges whose probability rests on observed shares
    mentions_read: int
    notes: list[str]


class KolReason(BaseModel):
    kind: str
    value: float
    top: float
    text: str


class KolRow(BaseModel):
    rank: int
    key: str
    label: str
    kind: str  # participant, author or imported
    score: float
    followers: int
    descendants: int
    centrality: float
    engagement: float
    net_sentiment: float
    mentions: int
    suspicious: bool
    reasons: list[KolReason]


class KolPage(BaseModel):
    campaign_id: int | None
    graph: GraphSummary
    candidates: int
    items: list[KolRow]


class SeedRequest(BaseModel):
    k: Annotated[int, Field(ge=1, le=MAX_K)] = 10
    model: DiffusionModel = DiffusionModel.IC
    epsilon: Annotated[float, Field(ge=MIN_EPSILON, lt=1)] = 0.2
    probability: ProbabilityModel = ProbabilityModel.WC
    constant: Annotated[float, Field(gt=0, le=1)] = 0.05
    strength: Annotated[float, Field(gt=0, le=1000)] = 2.0
    own_pick: Annotated[list[str] | None, Field(max_length=MAX_K)] = None
    costs: Annotated[dict[str, Annotated[float, Field(gt=0)]] | None, Field(max_length=100_000)] = (
        None
    )
    budget: Annotated[float | None, Field(gt=0)] = None
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 8


class SpreadRead(BaseModel):
    mean: float
    std_error: float
    ci_low: float
    ci_high: float
    simulations: int


class SeedRow(BaseModel):
    key: str
    label: str
    marginal_spread: float
    cost: float | None


class Forecast(BaseModel):
    steps: list[int]
    recommended: list[float]  # expected people reached after each step (cumulative)
    own: list[float]


class SeedRecommendation(BaseModel):
    campaign_id: int | None
    k: int
    model: DiffusionModel
    epsilon: float
    approximation: float
    seeds: list[SeedRow]
    imm_estimate: float
    spread: SpreadRead
    own_pick: list[SeedRow]
    own_pick_source: str  # "followers" (top-k by reach) or "given"
    own_spread: SpreadRead
    forecast: Forecast
    graph: GraphSummary
    rr_sets: int
    total_cost: float | None
    seconds: float

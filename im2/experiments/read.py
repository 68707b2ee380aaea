"""An experiment row as the API reads it (shared by the service and the exposure module)."""

from __future__ import annotations

from im2.experiments.models import Experiment
from im2.experiments.schemas import ExperimentRead, ExperimentStatus, VariantPayload, VariantRead


def to_read(row: Experiment) -> ExperimentRead:
    return ExperimentRead(
        id=row.id,
        key=row.key,
        name=row.name,
        campaign_id=row.campaign_id,
        activity_id=row.activity_id,
        status=ExperimentStatus(row.status),
        variants=[
            VariantRead(
                key=v["key"],
                name=v["name"],
                weight=v["weight"],
                payload=VariantPayload.model_validate(v["payload"]),
            )
            for v in row.variants
        ],
        goal_kinds=list(row.goal_kinds),
        min_effect=row.min_effect,
        winner=row.winner,
        created_at=row.created_at,
        started_at=row.started_at,
        concluded_at=row.concluded_at,
        audience_segment_id=row.audience_segment_id,
        audience_segment_version=row.audience_segment_version,
    )

"""Who sees which variant of a running experiment, and the record that they saw it: sticky
assignment (`stats.pick_variant`), the audience (a segment's people only, when set) and
exposures. `im2.experiments.service` re-exports these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from im2.db import utcnow
from im2.events.schemas import ActorType, EventKind
from im2.events.service import record_event
from im2.experiments import stats
from im2.experiments.models import Experiment, ExperimentExposure
from im2.experiments.read import to_read
from im2.experiments.schemas import Assignment, ExperimentRead, ExperimentStatus, VariantRead
from im2.participation.service import get_participant
from im2.people import service as people
from im2.people.schemas import IdentityKind
from im2.people.segments import service as segments


def assign(experiment: ExperimentRead, identity: str) -> VariantRead:
    """The variant `identity` sees: sticky, and split by the variants' weights."""
    index = stats.pick_variant(experiment.key, identity, [v.weight for v in experiment.variants])
    return experiment.variants[index]


def running_experiment(session: Session, *, activity_id: int) -> ExperimentRead | None:
    row = session.scalar(
        select(Experiment).where(
            Experiment.activity_id == activity_id,
            Experiment.status == ExperimentStatus.RUNNING.value,
        )
    )
    return None if row is None else to_read(row)


def in_audience(
    session: Session,
    *,
    experiment: ExperimentRead,
    workspace_id: int,
    device_id: str,
    now: datetime,
) -> bool:
    """Whether the visitor takes part in the experiment: everyone, unless it has an audience
    segment, whose people alone do (their device's person; a device nobody knows is in no
    segment). Others see the activity as it is and are never exposed, so never counted."""
    if experiment.audience_segment_id is None:
        return True
    person_id = people.find_person(
        session, workspace_id=workspace_id, kind=IdentityKind.DEVICE, value=device_id
    )
    return segments.is_member(
        session,
        workspace_id=workspace_id,
        segment_id=experiment.audience_segment_id,
        version=experiment.audience_segment_version,
        person_id=person_id,
        now=now,
    )


def variant_for(
    session: Session, *, activity_id: int, device_id: str, now: datetime | None = None
) -> Assignment | None:
    """What this visitor sees of the experiment running on the activity (None when none runs,
    or when the visitor is outside its audience). Read-only; `do_expose` records that they saw
    it."""
    row = session.scalar(
        select(Experiment).where(
            Experiment.activity_id == activity_id,
            Experiment.status == ExperimentStatus.RUNNING.value,
        )
    )
    if row is None or not device_id:
        return None
    experiment = to_read(row)
    if not in_audience(
        session,
        experiment=experiment,
        workspace_id=row.workspace_id,
        device_id=device_id,
        now=now or utcnow(),
    ):
        return None
    variant = assign(experiment, device_id)
    return Assignment(
        experiment_key=experiment.key,
        activity_id=activity_id,
        variant=variant.key,
        payload=variant.payload,
    )


def is_exposed(session: Session, *, experiment_key: str, device_id: str) -> bool:
    found = session.scalar(
        select(ExperimentExposure.id)
        .join(Experiment, Experiment.id == ExperimentExposure.experiment_id)
        .where(Experiment.key == experiment_key, ExperimentExposure.device_id == device_id)
    )
    return found is not None


def do_expose(
    session: Session, *, activity_id: int, device_id: str, now: datetime
) -> Assignment | None:
    """Record, once per visitor, that they were shown their variant of the running experiment.
    Concurrent first views insert one row (unique index) and one `experiment.exposed` event."""
    row = session.scalar(
        select(Experiment).where(
            Experiment.activity_id == activity_id,
            Experiment.status == ExperimentStatus.RUNNING.value,
        )
    )
    if row is None or not device_id:
        return None
    experiment = to_read(row)
    if not in_audience(
        session, experiment=experiment, workspace_id=row.workspace_id, device_id=device_id, now=now
    ):
        return None
    variant = assign(experiment, device_id)
    participant = get_participant(session, workspace_id=row.workspace_id, device_id=device_id)
    values = {
        "experiment_id": row.id,
        "device_id": device_id,
        "participant_id": participant.id if participant else None,
        "variant": variant.key,
        "exposed_at": now,
    }
    # Core insert on the table with RETURNING: a row comes back only when this call inserted
    # it (rowcount is not reliable for ORM-enabled inserts on every driver).
    table = cast(Table, ExperimentExposure.__table__)
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - the two supported engines are above
        statement = insert(table).values(values)
    inserted = session.execute(statement.returning(table.c.id)).first() is not None
    if inserted:
        record_event(
            session,
            kind=EventKind.EXPERIMENT_EXPOSED,
            occurred_at=now,
            workspace_id=row.workspace_id,
            campaign_id=row.campaign_id,
            activity_id=row.activity_id,
            actor_type=ActorType.PARTICIPANT,
            actor_id=participant.id if participant else None,
            properties={"experiment": row.key, "variant": variant.key},
        )
    return Assignment(
        experiment_key=experiment.key,
        activity_id=activity_id,
        variant=variant.key,
        payload=variant.payload,
    )

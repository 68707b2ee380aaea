"""Experiments: variants of an activity's page, sticky assignment, exposures and results.

Assignment is a pure function of (experiment key, device id) (`stats.pick_variant`), so a
visitor sees the same variant on every visit and no assignment is stored. The first time a
visitor is shown a variant an `experiment_exposures` row is inserted (unique per experiment
and device, so concurrent first views count once) together with an `experiment.exposed` event.

Results count, per variant, the exposed people who then did one of the goal event kinds (read
from the event log through the analytics query layer) and analyse them with `stats.analyse`.

A variant's `reward_level` scales the points its participants earn on the activity while the
experiment runs (`RewardLevels`, which incentives asks when it awards points; docs/metrics.md).

The identity in the hash is the device, not an e-mail or phone: a participant *is* a device here
(one row per workspace and device; verifying an e-mail or phone adds it to that row and merges
nothing), and a device is shown its variant before it joins or verifies, so a key that switched
to the e-mail once known would move people who had already seen one variant to another.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.activities.service import do_update_activity, get_activity
from im2.analytics.service import goal_reached
from im2.campaigns.service import get_campaign
from im2.errors import Conflict, InvalidInput, NotFound
from im2.events.schemas import EventKind
from im2.events.service import record_event
from im2.experiments import stats
from im2.experiments.exposure import (
    assign,
    do_expose,
    in_audience,
    is_exposed,
    running_experiment,
    variant_for,
)
from im2.experiments.models import Experiment, ExperimentExposure
from im2.experiments.read import to_read
from im2.experiments.schemas import (
    GOAL_KINDS,
    ExperimentCreate,
    ExperimentRead,
    ExperimentResults,
    ExperimentStatus,
    RewardLevel,
    VariantIn,
    VariantResult,
)
from im2.i18n import _
from im2.participation.service import get_participant, get_signals
from im2.people.segments import service as segments
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import owned_row, record_audit, require

__all__ = [
    "RewardLevels",
    "assign",
    "do_conclude_experiment",
    "do_create_experiment",
    "do_expose",
    "do_start_experiment",
    "get_experiment",
    "get_results",
    "in_audience",
    "is_exposed",
    "list_experiments",
    "running_experiment",
    "to_read",
    "variant_for",
]

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VARIANT_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_VARIANTS = 8
TEXT_LIMITS = {"title": 200, "description": 4000, "button_text": 40}
# A variant's reward level is a percentage of the activity's normal points; 10x is plenty.
MAX_REWARD_LEVEL = 1000


def _load(session: Session, *, actor: Actor, experiment_id: int) -> Experiment:
    require(actor, Permission.READ_CAMPAIGNS)
    row = owned_row(
        session,
        Experiment,
        experiment_id,
        actor=actor,
        missing=_("Experiment {id} not found.").format(id=experiment_id),
    )
    return row


def get_experiment(session: Session, *, actor: Actor, experiment_id: int) -> ExperimentRead:
    return to_read(_load(session, actor=actor, experiment_id=experiment_id))


def list_experiments(session: Session, *, actor: Actor, campaign_id: int) -> list[ExperimentRead]:
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    rows = session.scalars(
        select(Experiment)
        .where(Experiment.campaign_id == campaign.id)
        .order_by(Experiment.created_at.desc(), Experiment.id.desc())
    )
    return [to_read(r) for r in rows]


def _check_variants(variants: list[VariantIn]) -> list[dict[str, Any]]:
    if len(variants) < 2:
        raise InvalidInput(
            _("An experiment needs at least two variants (the first is the control)."),
            field="variants",
        )
    if len(variants) > MAX_VARIANTS:
        raise InvalidInput(
            _("An experiment can have at most {n} variants.").format(n=MAX_VARIANTS),
            field="variants",
        )
    seen: set[str] = set()
    out = []
    for index, variant in enumerate(variants):
        field = f"variants.{index}"
        key = variant.key.strip().lower()
        if not VARIANT_KEY_RE.match(key):
            raise InvalidInput(
                _(
                    "Variant keys are 1 to 32 lowercase letters, digits, - or _, "
                    "starting with a letter or digit."
                ),
                field=f"{field}.key",
            )
        if key in seen:
            raise InvalidInput(
                _("Two variants are both called {key}.").format(key=key), field=f"{field}.key"
            )
        seen.add(key)
        if not variant.weight > 0 or variant.weight > 1_000_000:
            raise InvalidInput(
                _("A variant's weight must be a positive number (got {weight}).").format(
                    weight=variant.weight
                ),
                field=f"{field}.weight",
            )
        payload = variant.payload.model_dump()
        for name, limit in TEXT_LIMITS.items():
            value = payload[name]
            if value is None:
                continue
            value = value.strip()
            if not value:
                raise InvalidInput(
                    _("Leave the text out instead of sending it empty."),
                    field=f"{field}.payload.{name}",
                )
            if len(value) > limit:
                raise InvalidInput(
                    _("At most {n} characters.").format(n=limit), field=f"{field}.payload.{name}"
                )
            payload[name] = value
        level = payload["reward_level"]
        if level is not None and not 0 <= level <= MAX_REWARD_LEVEL:
            raise InvalidInput(
                _(
                    "A reward level is a percentage of the normal points, from 0 to {n} "
                    "(100 = unchanged)."
                ).format(n=MAX_REWARD_LEVEL),
                field=f"{field}.payload.reward_level",
            )
        name_text = (variant.name or key).strip()[:60] or key
        out.append({"key": key, "name": name_text, "weight": variant.weight, "payload": payload})
    return out


def _check_goals(kinds: list[str]) -> list[str]:
    allowed = {k.value for k in GOAL_KINDS}
    wanted = list(dict.fromkeys(k.strip() for k in kinds if k.strip()))
    if not wanted:
        raise InvalidInput(_("Name at least one goal event kind."), field="goal_kinds")
    unknown = [k for k in wanted if k not in allowed]
    if unknown:
        raise InvalidInput(
            _("Unknown goal event kind {name}; goals can be: {known}.").format(
                name=", ".join(unknown), known=", ".join(sorted(allowed))
            ),
            field="goal_kinds",
        )
    return wanted


def do_create_experiment(
    session: Session, *, actor: Actor, campaign_id: int, data: ExperimentCreate, now: datetime
) -> ExperimentRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    campaign = get_campaign(session, actor=actor, campaign_id=campaign_id)
    key = data.key.strip().lower()
    if not KEY_RE.match(key):
        raise InvalidInput(
            _("Experiment keys are 1 to 64 lowercase letters, digits, - or _."), field="key"
        )
    name = data.name.strip()
    if not name or len(name) > 120:
        raise InvalidInput(_("Give the experiment a name of 1 to 120 characters."), field="name")
    try:
        activity = get_activity(session, actor=actor, activity_id=data.activity_id)
    except NotFound:
        raise InvalidInput(
            _("Activity {id} is not in this campaign.").format(id=data.activity_id),
            field="activity_id",
        ) from None
    if activity.campaign_id != campaign.id:
        raise InvalidInput(
            _("Activity {id} is not in this campaign.").format(id=data.activity_id),
            field="activity_id",
        )
    variants = _check_variants(data.variants)
    goals = _check_goals(data.goal_kinds)
    if not 0 < data.min_effect <= 10:
        raise InvalidInput(
            _("The smallest lift worth detecting is a share above 0, e.g. 0.2 for 20 %."),
            field="min_effect",
        )
    if session.scalar(
        select(Experiment.id).where(
            Experiment.workspace_id == actor.workspace_id, Experiment.key == key
        )
    ):
        raise Conflict(_("An experiment called {key} exists already.").format(key=key))
    row = Experiment(
        workspace_id=actor.workspace_id,
        campaign_id=campaign.id,
        activity_id=activity.id,
        key=key,
        name=name,
        status=ExperimentStatus.DRAFT.value,
        variants=variants,
        goal_kinds=goals,
        min_effect=data.min_effect,
        created_at=now,
        audience_segment_id=data.audience_segment_id,
        audience_segment_version=(
            None
            if data.audience_segment_id is None
            else segments.check_segment_version(
                session, actor.workspace_id, data.audience_segment_id, field="audience_segment_id"
            )
        ),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(_("An experiment called {key} exists already.").format(key=key)) from None
    record_event(
        session,
        kind=EventKind.EXPERIMENT_CREATED,
        occurred_at=now,
        workspace_id=actor.workspace_id,
        campaign_id=campaign.id,
        activity_id=activity.id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"experiment": key, "variants": [v["key"] for v in variants]},
    )
    read = to_read(row)
    record_audit(
        session,
        actor,
        "experiment.create",
        ("experiment", row.id),
        f"experiment {key}",
        now=now,
        after=read.model_dump(mode="json"),
    )
    if data.start:
        return do_start_experiment(session, actor=actor, experiment_id=row.id, now=now)
    return read


def do_start_experiment(
    session: Session, *, actor: Actor, experiment_id: int, now: datetime
) -> ExperimentRead:
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _load(session, actor=actor, experiment_id=experiment_id)
    if row.status != ExperimentStatus.DRAFT:
        raise Conflict(_("Only a draft experiment can be started."))
    try:
        with session.begin_nested():
            started = session.execute(
                update(Experiment)
                .where(Experiment.id == row.id, Experiment.status == ExperimentStatus.DRAFT.value)
                .values(status=ExperimentStatus.RUNNING.value, started_at=now)
            )
            assert isinstance(started, CursorResult)
            done = started.rowcount
    except IntegrityError:
        raise Conflict(
            _("Another experiment is already running on this activity; conclude it first.")
        ) from None
    if done != 1:
        raise Conflict(_("Only a draft experiment can be started."))
    session.refresh(row)
    record_audit(
        session,
        actor,
        "experiment.start",
        ("experiment", row.id),
        f"experiment {row.key} started",
        now=now,
        before={"status": "draft"},
        after={"status": "running"},
        workspace_id=row.workspace_id,
    )
    return to_read(row)


def do_conclude_experiment(
    session: Session,
    *,
    actor: Actor,
    experiment_id: int,
    winner: str | None,
    apply_winner: bool = True,
    now: datetime,
) -> ExperimentRead:
    """Stop showing variants; `winner` (a variant key or None) is what the brand keeps. With
    `apply_winner`, the kept variant's title and description become the activity's own (an
    ordinary, audited activity edit); its button label and reward level cannot outlive the
    experiment, so everybody sees the original ones again."""
    require(actor, Permission.WRITE_CAMPAIGNS)
    row = _load(session, actor=actor, experiment_id=experiment_id)
    keys = [v["key"] for v in row.variants]
    if winner is not None and winner not in keys:
        raise InvalidInput(
            _("There is no variant {key}; variants: {known}.").format(
                key=winner, known=", ".join(keys)
            ),
            field="winner",
        )
    concluded = session.execute(
        update(Experiment)
        .where(Experiment.id == row.id, Experiment.status == ExperimentStatus.RUNNING.value)
        .values(status=ExperimentStatus.CONCLUDED.value, concluded_at=now, winner=winner)
    )
    assert isinstance(concluded, CursorResult)
    if concluded.rowcount != 1:
        raise Conflict(_("Only a running experiment can be concluded."))
    session.refresh(row)
    kept = next((v for v in row.variants if v["key"] == winner), None)
    if apply_winner and kept is not None:
        payload = kept["payload"]
        if payload.get("title") is not None or payload.get("description") is not None:
            activity = get_activity(session, actor=actor, activity_id=row.activity_id)
            do_update_activity(
                session,
                actor=actor,
                activity_id=activity.id,
                kind=activity.kind,
                title=payload.get("title"),
                description=payload.get("description"),
                now=now,
            )
    record_event(
        session,
        kind=EventKind.EXPERIMENT_CONCLUDED,
        occurred_at=now,
        workspace_id=row.workspace_id,
        campaign_id=row.campaign_id,
        activity_id=row.activity_id,
        actor_type=actor.type,
        actor_id=actor.id,
        properties={"experiment": row.key, "winner": winner},
    )
    record_audit(
        session,
        actor,
        "experiment.conclude",
        ("experiment", row.id),
        f"experiment {row.key} concluded, winner {winner or '-'}",
        now=now,
        before={"status": "running"},
        after={"status": "concluded", "winner": winner},
        workspace_id=row.workspace_id,
    )
    return to_read(row)


# --- participants: im2/experiments/exposure.py (re-exported here) ---------------------------


class RewardLevels:
    """Which reward level a participant earns with on an activity: their variant's
    `reward_level` in the experiment that was running on the activity at that moment (between
    its start and its conclusion), or None when there was none or the variant leaves the reward
    alone. The variant is the one they were shown (their exposure row), else the one the sticky
    hash of their device gives, which is the same while an experiment's variants cannot change.

    Read-only. Caches what it has looked up, so make one per transaction or batch."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._experiments: dict[int, list[Experiment]] = {}
        self._devices: dict[tuple[int, int], str | None] = {}
        self._variants: dict[tuple[int, str], str] = {}

    def _with_levels(self, activity_id: int) -> list[Experiment]:
        if activity_id not in self._experiments:
            rows = self._session.scalars(
                select(Experiment)
                .where(
                    Experiment.activity_id == activity_id,
                    Experiment.started_at.is_not(None),
                    Experiment.status != ExperimentStatus.DRAFT.value,
                )
                .order_by(Experiment.started_at.desc(), Experiment.id.desc())
            )
            self._experiments[activity_id] = [
                r
                for r in rows
                if any(v["payload"].get("reward_level") is not None for v in r.variants)
            ]
        return self._experiments[activity_id]

    def _device(self, workspace_id: int, participant_id: int) -> str | None:
        cached = (workspace_id, participant_id)
        if cached not in self._devices:
            found = get_signals(
                self._session, workspace_id=workspace_id, participant_ids=[participant_id]
            ).get(participant_id)
            self._devices[cached] = found.device_id if found else None
        return self._devices[cached]

    def _variant(self, row: Experiment, device_id: str) -> str:
        cached = (row.id, device_id)
        if cached not in self._variants:
            shown = self._session.scalar(
                select(ExperimentExposure.variant).where(
                    ExperimentExposure.experiment_id == row.id,
                    ExperimentExposure.device_id == device_id,
                )
            )
            self._variants[cached] = shown or assign(to_read(row), device_id).key
        return self._variants[cached]

    def of(
        self, *, activity_id: int | None, participant_id: int, at: datetime
    ) -> RewardLevel | None:
        if activity_id is None:
            return None
        for row in self._with_levels(activity_id):
            started = row.started_at
            assert started is not None
            if started > at or (row.concluded_at is not None and row.concluded_at <= at):
                continue
            device_id = self._device(row.workspace_id, participant_id)
            if device_id is None:
                return None
            key = self._variant(row, device_id)
            variant = next((v for v in row.variants if v["key"] == key), None)
            level = None if variant is None else variant["payload"].get("reward_level")
            if level is None:
                return None
            return RewardLevel(experiment_key=row.key, variant=key, level=int(level))
        return None


# --- results ----------------------------------------------------------------------------------


def get_results(
    session: Session, *, actor: Actor, experiment_id: int, lake_path: Path, now: datetime
) -> ExperimentResults:
    row = _load(session, actor=actor, experiment_id=experiment_id)
    experiment = to_read(row)
    exposures = session.execute(
        select(
            ExperimentExposure.device_id,
            ExperimentExposure.participant_id,
            ExperimentExposure.variant,
            ExperimentExposure.exposed_at,
        ).where(ExperimentExposure.experiment_id == row.id)
    ).all()
    # People who joined after they were first shown the page: find their participant now.
    first_seen: dict[str, datetime] = {}
    variant_of: dict[str, str] = {}
    counts = {v.key: 0 for v in experiment.variants}
    for device_id, participant_id, variant, exposed_at in exposures:
        if variant not in counts:
            continue
        counts[variant] += 1
        if participant_id is None:
            found = get_participant(session, workspace_id=row.workspace_id, device_id=device_id)
            participant_id = found.id if found else None
        if participant_id is not None:
            first_seen[str(participant_id)] = exposed_at
            variant_of[str(participant_id)] = variant
    converted = goal_reached(
        session,
        actor=actor,
        campaign_id=row.campaign_id,
        kinds=list(experiment.goal_kinds),
        exposures=first_seen,
        lake_path=lake_path,
        now=now,
    )
    conversions = {v.key: 0 for v in experiment.variants}
    for pid in converted:
        conversions[variant_of[pid]] += 1
    analysis = stats.analyse(
        [(counts[v.key], conversions[v.key]) for v in experiment.variants],
        min_effect=experiment.min_effect,
    )
    variants = [
        VariantResult(
            key=v.key,
            name=v.name,
            reward_level=v.payload.reward_level,
            exposures=s.exposures,
            conversions=s.conversions,
            conversion_rate=s.rate,
            interval_low=s.interval_low,
            interval_high=s.interval_high,
            probability_best=s.p_best,
            expected_loss=s.expected_loss,
            needed=max(0, analysis.required_per_variant - s.exposures),
        )
        for v, s in zip(experiment.variants, analysis.variants, strict=True)
    ]
    leader = experiment.variants[analysis.leader].key if analysis.leader is not None else None
    return ExperimentResults(
        experiment=experiment,
        computed_at=now,
        variants=variants,
        required_per_variant=analysis.required_per_variant,
        enough_data=analysis.enough_data,
        leader=leader,
        significant=analysis.significant,
        verdict=_verdict(analysis, variants, leader),
    )


def _verdict(analysis: stats.Analysis, variants: list[VariantResult], leader: str | None) -> str:
    if not analysis.enough_data:
        most = max(v.needed for v in variants)
        return _(
            "Not enough data yet: need {n} more exposures per variant "
            "({required} each) before a winner can be declared."
        ).format(n=most, required=analysis.required_per_variant)
    if analysis.significant and leader is not None:
        best = next(v for v in variants if v.key == leader)
        return _(
            "{name} wins: {p:.0%} probability of being best, expected loss {loss:.2%}."
        ).format(name=best.name, p=best.probability_best, loss=best.expected_loss)
    return _(
        "No clear winner yet: no variant reaches {p:.0%} probability of being best "
        "with an expected loss under {loss:.0%}."
    ).format(p=stats.P_BEST_THRESHOLD, loss=stats.LOSS_THRESHOLD)

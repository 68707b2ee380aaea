"""Tables of the closeness ladder: each workspace's rules, its computation cursor, the stage of
every subject per scope (the workspace, each campaign), the history of stage changes, and the
daily flows between stages that the dashboard reads."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base

# Event ids are BIGINT on PostgreSQL (as `events.id`).
EventId = BigInteger().with_variant(Integer(), "sqlite")


class LadderRuleSet(Base):
    """A workspace's thresholds (`schemas.LadderRules`); no row means the defaults."""

    __tablename__ = "ladder_rules"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    spreader_min_brought: Mapped[int]
    advocate_min_campaigns: Mapped[int]
    advocate_min_weeks: Mapped[int]
    advocate_min_brought: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(120))


class LadderCursor(Base):
    """How far the ladder job has read a workspace's event log: subjects with events after
    `last_event_id` are recomputed next. `full_due` asks for every subject (rules changed),
    `full_at` is the last time everyone was (scores decay with time, so once a day)."""

    __tablename__ = "ladder_cursors"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    last_event_id: Mapped[int] = mapped_column(EventId, default=0)
    computed_at: Mapped[datetime | None]
    full_at: Mapped[datetime | None]
    full_due: Mapped[bool] = mapped_column(default=True)


class LadderState(Base):
    """A subject's stage and score in one scope: `campaign_id` 0 is the whole workspace (its
    persons' `people.stage` and `people.score` mirror it). `subject` is "p:<person id>", or the
    actor id of a device no person holds (a bystander who never acted)."""

    __tablename__ = "ladder_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int]
    subject: Mapped[str] = mapped_column(String(72))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[datetime]
    brought: Mapped[int]
    campaigns: Mapped[int]
    weeks: Mapped[int]
    active_days: Mapped[int]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("workspace_id", "campaign_id", "subject"),
        Index("ix_ladder_states_scope_stage", "workspace_id", "campaign_id", "stage"),
        Index("ix_ladder_states_scope_score", "workspace_id", "campaign_id", "score"),
        Index("ix_ladder_states_person", "person_id"),
    )


class LadderChange(Base):
    """One stage change of a subject in one scope: from, to (`""` when it first appears or
    leaves the ladder), when it happened (the time of the event that completed the step, or
    of the recomputation when the rules changed) and what caused it."""

    __tablename__ = "ladder_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int]
    subject: Mapped[str] = mapped_column(String(72))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime]
    # The kind of the event that completed the step ("vote.cast", "participant.joined" of the
    # friend brought …), or "rules" / "merged" / "restricted" / "absorbed".
    cause: Mapped[str] = mapped_column(String(48))
    cause_event_id: Mapped[int | None] = mapped_column(EventId)
    recorded_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_ladder_changes_person", "person_id"),
        Index("ix_ladder_changes_subject", "workspace_id", "subject"),
    )


class LadderFlow(Base):
    """How many subjects moved from one stage to another on one day (the workspace's local
    day) in one scope: the changes summed, so the dashboard never reads the changes
    themselves. People per stage on a day is the running sum of flows in and out."""

    __tablename__ = "ladder_flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int]
    day: Mapped[date]
    from_stage: Mapped[str] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    people: Mapped[int]

    __table_args__ = (
        UniqueConstraint("workspace_id", "campaign_id", "day", "from_stage", "to_stage"),
    )


class LadderTally(Base):
    """How many subjects of one scope are at one stage with a score in one whole point (`bucket`
    = floor(score), 0–100): kept by the job with every state it stores (replaced whole by each
    full recomputation), so the dashboard's people per stage and score deciles read at most
    404 rows per scope instead of counting a million states."""

    __tablename__ = "ladder_tallies"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    campaign_id: Mapped[int]
    stage: Mapped[str] = mapped_column(String(16))
    bucket: Mapped[int]
    people: Mapped[int]

    __table_args__ = (UniqueConstraint("workspace_id", "campaign_id", "stage", "bucket"),)

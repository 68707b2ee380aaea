"""Tables of segments: the segment, its versions, its members as last computed, and the facts
about people that the event log holds, kept per actor identity so that a merge or its undo
needs no recomputation (the join goes through `person_identities`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base
from im2.people.models import Person, PersonIdentity

EventId = BigInteger().with_variant(Integer(), "sqlite")


class Segment(Base):
    """A named group of people defined by a rule. Editing it adds a version; `version` is the
    current one. Archived segments are kept (uses refer to them) but no longer computed."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]
    # When the "entered segment" job first computed the members: people present then are the
    # starting members (no event), later arrivals are entries.
    members_since: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)


class SegmentVersion(Base):
    """One version of a segment's definition, never changed once written."""

    __tablename__ = "segment_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(80))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("segment_id", "version"),)


class SegmentMember(Base):
    """A person in a segment as the "entered segment" job last computed it."""

    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    entered_at: Mapped[datetime]

    __table_args__ = (Index("ix_segment_members_person", "person_id"),)


class SegmentActorFacts(Base):
    """What the event log says about one actor identity (a device or a participant): the first
    touch (channel and source of its first event) and its points balance."""

    __tablename__ = "segment_actor_facts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    identity_kind: Mapped[str] = mapped_column(String(16))
    identity_value: Mapped[str] = mapped_column(String(128))
    first_at: Mapped[datetime | None]
    first_channel: Mapped[str | None] = mapped_column(String(32))
    first_source: Mapped[str | None] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint(
            "workspace_id", "identity_kind", "identity_value", name="uq_segment_actor_facts_key"
        ),
        Index("ix_segment_actor_facts_channel", "workspace_id", "first_channel"),
    )


class SegmentActorCampaign(Base):
    """An actor identity took part (acted, not only looked) in a campaign, in an activity of a
    kind (`''` for actions outside an activity: shares, comments)."""

    __tablename__ = "segment_actor_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    identity_kind: Mapped[str] = mapped_column(String(16))
    identity_value: Mapped[str] = mapped_column(String(128))
    campaign_id: Mapped[int]
    activity_kind: Mapped[str] = mapped_column(String(16), default="")

    __table_args__ = (
        UniqueConstraint(
            "workspace_id",
            "identity_kind",
            "identity_value",
            "campaign_id",
            "activity_kind",
            name="uq_segment_actor_campaigns_key",
        ),
        Index("ix_segment_actor_campaigns_campaign", "workspace_id", "campaign_id"),
        Index("ix_segment_actor_campaigns_kind", "workspace_id", "activity_kind"),
    )


class SegmentFactsCursor(Base):
    """How far the facts job has read the event log (the last event id it handled)."""

    __tablename__ = "segment_facts_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(EventId, default=0)
    # Merges and undos are followed too: the last merge id seen, and when the job last looked
    # for undos (a merge's `undone_at` after it means its two people changed).
    last_merge_id: Mapped[int] = mapped_column(default=0)
    checked_at: Mapped[datetime | None]


class SegmentPersonFacts(Base):
    """The person's facts, combined from their actor identities' (`segment_actor_facts`):
    the first touch of their oldest identity, and the sum of their points. Rewritten by the
    facts job for each person whose identities gained facts or were merged or unmerged, so
    that a count reads one indexed row per person instead of joining through identities."""

    __tablename__ = "segment_person_facts"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    first_channel: Mapped[str | None] = mapped_column(String(32))
    first_source: Mapped[str | None] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        Index("ix_segment_person_facts_channel", "workspace_id", "first_channel"),
        Index("ix_segment_person_facts_source", "workspace_id", "first_source"),
        Index("ix_segment_person_facts_points", "workspace_id", "points"),
    )


class SegmentPersonCampaign(Base):
    """The person took part in a campaign, in an activity of a kind (`''` outside one):
    their actor identities' rows of `segment_actor_campaigns`, kept as the facts are."""

    __tablename__ = "segment_person_campaigns"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    activity_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))

    __table_args__ = (
        Index("ix_segment_person_campaigns_campaign", "workspace_id", "campaign_id", "person_id"),
        Index("ix_segment_person_campaigns_kind", "workspace_id", "activity_kind", "person_id"),
    )


# What a segment count reads of every person, in one narrow index: a count over a million
# people scans it instead of the wide `people` rows (SQLite: 0.6 s -> 0.1 s of CPU), and the
# rules keep SQLite from choosing the score or last-seen index, whose row lookups cost more
# than the scan (rules.unindexed). The activity kinds follow the present people's columns:
# "took part in a quiz" reads the ranges of the kind values with the quiz bit (a third of the
# entries at a million people) instead of testing every entry, or 333,000 row lookups.
Index(
    "ix_people_segments",
    Person.workspace_id,
    Person.merged_into_id,
    Person.restricted_at,
    Person.activity_kinds,
    Person.stage,
    Person.score,
    Person.last_seen_at,
)
# "Verified" reads the people holding a phone or e-mail from the index alone (the unique
# index on workspace, kind and value does not hold the person).
Index(
    "ix_person_identities_kind_person",
    PersonIdentity.workspace_id,
    PersonIdentity.kind,
    PersonIdentity.person_id,
)

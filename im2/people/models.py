"""Tables of the people domain: persons, their identities, and the merges between them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class Person(Base):
    """One human being as a workspace knows them. A person merged into another stays as a row
    (`merged_into_id` set, no identities left), so the merge can be undone under the same id."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime | None]
    # More than one device or participant: analytics must map this person's actor ids (the
    # others have one actor id per kind of event). Set when an actor identity joins a person
    # who has one already (a merge, a known device), recomputed on undo.
    several_actors: Mapped[bool] = mapped_column(default=False)
    # The newest event of any of their actor ids (devices, participants), kept by the ladder
    # job from the event log: what "last seen" sorts and segments filter on.
    last_seen_at: Mapped[datetime | None]
    # Their workspace-level closeness stage (bystander, participant, spreader, advocate) and
    # engagement score (0–100: recency, frequency, spread), written by the ladder job
    # (`im2.people.ladder`); per-campaign stages and the history of changes live there.
    stage: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    # Restriction of processing (PIPL Art. 44, GDPR Art. 18): the data is kept, but the person
    # is left out of segments, the ladder, exports and marketing webhooks until lifted.
    restricted_at: Mapped[datetime | None]
    # The kinds of activity they took part in, one bit each (`segments.facts.KIND_BITS`),
    # kept with their segment facts by the facts job: a segment counts them from the index.
    activity_kinds: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        Index("ix_people_workspace_merged", "workspace_id", "merged_into_id"),
        # Deleting a person looks up the people merged into them (ON DELETE SET NULL).
        Index("ix_people_merged_into", "merged_into_id"),
        Index("ix_people_workspace_several", "workspace_id", "several_actors"),
        Index("ix_people_workspace_last_seen", "workspace_id", "last_seen_at"),
        Index("ix_people_workspace_stage", "workspace_id", "stage"),
        Index("ix_people_workspace_score", "workspace_id", "score"),
    )


class PersonTag(Base):
    """A label the brand puts on a person (by hand, by import from its CRM, or by a rule):
    one row per person and tag, so "people tagged VIP" is an index lookup."""

    __tablename__ = "person_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # console, import, api
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("person_id", "tag"),
        Index("ix_person_tags_workspace_tag", "workspace_id", "tag"),
    )


class PersonAttribute(Base):
    """A named value the brand keeps about a person (city, membership level, birthday month…),
    mostly imported from its CRM: one row per person and key, values as text."""

    __tablename__ = "person_attributes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("person_id", "key"),
        Index("ix_person_attributes_workspace_key_value", "workspace_id", "key", "value"),
    )


class PersonIdentity(Base):
    """One way of recognising a person: a device, a participant, a verified phone or e-mail
    (`value` is their keyed hash, `hint` a masked form for people to read), a share code, a CRM
    id, a WeChat OpenID. Unique per workspace: one identity belongs to one person."""

    __tablename__ = "person_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    hint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "value"),
        Index("ix_person_identities_person", "person_id"),
    )


class PersonMerge(Base):
    """A merge of `merged_id` into `kept_id`: why (`reason`, and the identity both held), what
    moved (identity ids, of which participant ids), who did it, and whether it was undone."""

    __tablename__ = "person_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kept_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(24))
    identity_kind: Mapped[str | None] = mapped_column(String(16))
    identity_hint: Mapped[str | None] = mapped_column(String(64))
    moved_identity_ids: Mapped[list[Any]] = mapped_column(JSON)
    moved_participant_ids: Mapped[list[Any]] = mapped_column(JSON)
    # What the merge did to consent records, for its undo (im2/people/consent/merging.py):
    # {"moved": [record ids], "withdrawn": [record ids]}; NULL for merges made before.
    consent_moves: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        Index("ix_person_merges_workspace_created", "workspace_id", "created_at"),
        Index("ix_person_merges_kept", "kept_id"),
        Index("ix_person_merges_merged", "merged_id"),
    )

"""Tables of the people domain: persons, their identities, and the merges between them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
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

    __table_args__ = (
        Index("ix_people_workspace_merged", "workspace_id", "merged_into_id"),
        Index("ix_people_workspace_several", "workspace_id", "several_actors"),
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
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (
        Index("ix_person_merges_workspace_created", "workspace_id", "created_at"),
        Index("ix_person_merges_kept", "kept_id"),
        Index("ix_person_merges_merged", "merged_id"),
    )

"""Tables of data-subject requests: the request, its append-only log, and the workspace's
answer period."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class DataSubjectRequest(Base):
    """A person's request to see, copy, correct, delete or restrict their data, or to withdraw
    consent (PIPL Arts. 44-47, GDPR Arts. 15-21), with its due date and, for an export, the
    file and when it expires.

    `person_id` is set to NULL if the person's row is deleted: the request and its log stay,
    as the brand's record that it answered (PIPL Art. 50)."""

    __tablename__ = "privacy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))  # RequestKind
    channel: Mapped[str] = mapped_column(String(16))  # RequestChannel
    status: Mapped[str] = mapped_column(String(16))  # RequestStatus
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Why a request was refused, told to the person (PIPL Art. 50).
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    # What the person asked for: the purposes of a withdrawal, the fields and new values of a
    # correction. Blanked when the person is erased.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    export_path: Mapped[str | None] = mapped_column(String(500))
    export_bytes: Mapped[int | None]
    export_expires_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_privacy_requests_workspace_status_due", "workspace_id", "status", "due_at"),
        Index("ix_privacy_requests_person", "person_id"),
        Index("ix_privacy_requests_export_expires", "export_expires_at"),
    )


class RequestLogEntry(Base):
    """One step of a request: who did what, when. Rows are only ever added."""

    __tablename__ = "privacy_request_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("privacy_requests.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(254))  # a user, a token, "participant", "system"
    action: Mapped[str] = mapped_column(String(32))  # RequestAction
    status: Mapped[str] = mapped_column(String(16))  # the request's status after the step
    note: Mapped[str] = mapped_column(Text, default="")


class PrivacySettings(Base):
    """A workspace's answer period for requests (days, at most 30) and how long an export
    file may be downloaded. A workspace without a row uses the defaults."""

    __tablename__ = "privacy_settings"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    request_due_days: Mapped[int] = mapped_column(default=15)
    export_days: Mapped[int] = mapped_column(default=7)
    updated_at: Mapped[datetime]

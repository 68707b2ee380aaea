"""The join code of an activity: six digits a room can type from the big screen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base


class JoinCode(Base):
    __tablename__ = "join_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique across the table: `/j/<code>` finds one activity whoever's it is. A code of a
    # campaign long over may be handed to another activity (service.do_join_code).
    code: Mapped[str] = mapped_column(String(8), unique=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    # One code per activity, whoever asks first; two presenters opened at once get the same.
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime]

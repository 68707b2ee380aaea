"""The lake's high-water mark: the last event id whose row is safely in a Parquet file."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from im2.db import Base

EventIdType = BigInteger().with_variant(Integer(), "sqlite")


class LakeMark(Base):
    """One row per stream moved to the lake (today only "events").

    `last_id` only advances after the files holding every event up to it were renamed into
    place, so readers take the lake for ids <= last_id and the database for the rest.
    """

    __tablename__ = "analytics_lake_marks"

    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(EventIdType, default=0)
    moved: Mapped[int] = mapped_column(EventIdType, default=0)
    updated_at: Mapped[datetime]

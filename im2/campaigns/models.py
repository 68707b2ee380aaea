"""Tables of the campaigns domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from im2.db import Base


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    # Unique across the installation: public pages live at /c/<slug>, short enough to share.
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    objective: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    template_key: Mapped[str | None] = mapped_column(String(32))
    # PIPL Art. 31: the join form asks whether the participant is under 14, and a child's data
    # is taken only with a guardian's consent (im2/people/consent, docs/privacy.md).
    minors_gate: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The languages its public pages speak (BCP 47 tags, comma-separated: "zh-CN,zh-TW,en")
    # and the one shown when the visitor's browser asks for none of them (docs/languages.md).
    default_language: Mapped[str] = mapped_column(
        String(8), default="zh-CN", server_default=text("'zh-CN'")
    )
    languages: Mapped[str] = mapped_column(
        String(32), default="zh-CN", server_default=text("'zh-CN'")
    )
    # Only this segment's people may take part (im2/people/segments), as of the version set.
    # No foreign key: segments are archived, never deleted, and adding one to this table would
    # make SQLite rebuild it.
    eligible_segment_id: Mapped[int | None]
    eligible_segment_version: Mapped[int | None]
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status_changed_at: Mapped[datetime]

    kpi_targets: Mapped[list[CampaignKpiTarget]] = relationship(
        back_populates="campaign",
        cascade="all, delete-orphan",
        order_by="CampaignKpiTarget.id",
        lazy="selectin",
    )
    channels: Mapped[list[CampaignChannel]] = relationship(
        back_populates="campaign",
        cascade="all, delete-orphan",
        order_by="CampaignChannel.id",
        lazy="selectin",
    )

    __table_args__ = (
        Index("ix_campaigns_workspace_status", "workspace_id", "status"),
        Index("ix_campaigns_status_starts_at", "status", "starts_at"),
    )


class CampaignKpiTarget(Base):
    __tablename__ = "campaign_kpi_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    metric: Mapped[str] = mapped_column(String(32))
    target_value: Mapped[float] = mapped_column(Numeric(18, 4, asdecimal=False))
    deadline: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship(back_populates="kpi_targets")

    __table_args__ = (UniqueConstraint("campaign_id", "metric"),)


class CampaignChannel(Base):
    __tablename__ = "campaign_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(24))
    media: Mapped[str] = mapped_column(String(8))
    budget: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")

    campaign: Mapped[Campaign] = relationship(back_populates="channels")

    __table_args__ = (UniqueConstraint("campaign_id", "channel"),)

"""A workspace's WeChat official account and the tokens WeChat hands out for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from im2.crypto import Encrypted
from im2.db import Base


class WechatAccount(Base):
    """One official account per workspace. The app secret is encrypted at rest and never read
    back to a page: the console shows only whether one is set."""

    __tablename__ = "wechat_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    app_id: Mapped[str] = mapped_column(String(32))
    app_secret: Mapped[str] = mapped_column(Encrypted())
    # Ask for the nickname (snsapi_userinfo, a consent screen) instead of the silent
    # snsapi_base, which gives only the OpenID.
    ask_userinfo: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class WechatToken(Base):
    """The cached `access_token` and `jsapi_ticket` of a workspace's account (when no Redis
    holds them), with the lease that lets one process refresh them while the others wait."""

    __tablename__ = "wechat_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "access_token" | "jsapi_ticket"
    app_id: Mapped[str] = mapped_column(String(32))  # a changed account invalidates the token
    value: Mapped[str | None] = mapped_column(Encrypted())
    expires_at: Mapped[datetime | None]
    # Who refreshes: a conditional UPDATE takes the lease until this time.
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("workspace_id", "kind"),)

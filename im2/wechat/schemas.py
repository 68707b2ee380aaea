"""What the console and the public pages know of a workspace's WeChat account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from im2.types import PeopleData


@dataclass(frozen=True, slots=True)
class WechatAccountRead:
    """The account as the console shows it: never the secret, only whether one is set."""

    app_id: str
    secret_set: bool
    ask_userinfo: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the calls to WeChat need (never shown; the secret is left out of the repr)."""

    workspace_id: int
    app_id: str
    app_secret: str = field(repr=False)
    ask_userinfo: bool


@dataclass(frozen=True, slots=True)
class ShareCard:
    """`wx.config` and the card WeChat shows for the page (the JS-SDK's own field names)."""

    appId: str  # noqa: N815 (the JS-SDK's names, sent as they are)
    timestamp: int
    nonceStr: str  # noqa: N815
    signature: str
    title: str
    desc: str
    link: str
    imgUrl: str  # noqa: N815
    login: str | None = None  # where to sign in with WeChat, when this browser has not yet


@dataclass(frozen=True, slots=True)
class Bound:
    """A WeChat sign-in bound: the person it belongs to and whether two persons became one."""

    person_id: int
    merged: bool
    unionid: bool


# The tables here hold no person's data: OpenIDs and UnionIDs are people's identities
# (`person_identities`), declared by people. An account's tokens are the brand's.
PEOPLE_DATA: tuple[PeopleData, ...] = ()

"""A workspace's WeChat official account: its settings, its tokens, the JS-SDK share card and
the web OAuth that binds an OpenID (and UnionID) to the visitor's person (docs/wechat.md).

Nothing here calls WeChat unless the workspace has an account; routes own the transactions.
The token functions open their own short ones (`tokens`): call them outside any transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from im2.errors import InvalidInput, NotFound
from im2.i18n import _
from im2.participation import service as participation
from im2.people import service as people
from im2.people.schemas import IdentityKind
from im2.wechat import client, tokens
from im2.wechat.client import SCOPE_BASE, SCOPE_USERINFO, WechatError
from im2.wechat.models import WechatAccount, WechatToken
from im2.wechat.schemas import Bound, Credentials, ShareCard, WechatAccountRead
from im2.workspaces.schemas import Actor, Permission
from im2.workspaces.service import record_audit, require

__all__ = [
    "SCOPE_BASE",
    "SCOPE_USERINFO",
    "STATE_MAX_AGE",
    "WechatError",
    "access_token",
    "credentials_of",
    "do_bind_wechat",
    "do_remove_account",
    "do_set_account",
    "exchange",
    "get_account",
    "has_account",
    "jsapi_ticket",
    "login_url",
    "make_share_card",
    "make_state",
    "read_state",
    "safe_next",
    "test_credentials",
]

# An official account's AppID is "wx" and 16 letters or digits; its AppSecret 32 hex digits.
APP_ID = re.compile(r"^wx[0-9A-Za-z]{16}$")
APP_SECRET = re.compile(r"^[0-9A-Za-z]{32}$")
STATE_SALT = "im2/wechat/oauth-state/v1"
STATE_MAX_AGE = 600  # seconds between leaving for WeChat's page and coming back


def _read(row: WechatAccount) -> WechatAccountRead:
    return WechatAccountRead(
        app_id=row.app_id,
        secret_set=bool(row.app_secret),
        ask_userinfo=row.ask_userinfo,
        updated_at=row.updated_at,
    )


def _row(session: Session, workspace_id: int) -> WechatAccount | None:
    return session.scalar(select(WechatAccount).where(WechatAccount.workspace_id == workspace_id))


def get_account(session: Session, *, actor: Actor) -> WechatAccountRead | None:
    require(actor, Permission.READ_TOKENS)
    row = _row(session, actor.workspace_id)
    return None if row is None else _read(row)


def has_account(session: Session, *, workspace_id: int) -> bool:
    return (
        session.scalar(select(WechatAccount.id).where(WechatAccount.workspace_id == workspace_id))
        is not None
    )


def credentials_of(session: Session, *, workspace_id: int) -> Credentials | None:
    """The account's credentials for the calls to WeChat, or None when there is no account."""
    row = _row(session, workspace_id)
    if row is None:
        return None
    return Credentials(
        workspace_id=workspace_id,
        app_id=row.app_id,
        app_secret=row.app_secret,
        ask_userinfo=row.ask_userinfo,
    )


def check_account(*, app_id: str, app_secret: str | None, has_secret: bool) -> None:
    """Every problem with the typed values, each on its field (InvalidInput for the first)."""
    if not APP_ID.match(app_id):
        raise InvalidInput(
            _("An AppID is wx and 16 letters or digits (设置与开发 → 基本配置)."),
            field="app_id",
        )
    if app_secret is None and not has_secret:
        raise InvalidInput(_("Enter the AppSecret."), field="app_secret")
    if app_secret is not None and not APP_SECRET.match(app_secret):
        raise InvalidInput(_("An AppSecret is 32 letters or digits."), field="app_secret")


def do_set_account(
    session: Session,
    *,
    actor: Actor,
    app_id: str,
    app_secret: str | None,
    ask_userinfo: bool,
    now: datetime,
) -> WechatAccountRead:
    """Create or change the workspace's account. `app_secret` None keeps the stored one. A new
    AppID or secret drops the cached tokens (the next call fetches them with the new ones).
    Audited without the secret: the entry says only that it changed."""
    require(actor, Permission.MANAGE_TOKENS)
    app_id = app_id.strip()
    app_secret = (app_secret or "").strip() or None
    row = _row(session, actor.workspace_id)
    check_account(app_id=app_id, app_secret=app_secret, has_secret=row is not None)
    before = None if row is None else {"app_id": row.app_id, "ask_userinfo": row.ask_userinfo}
    if row is None:
        assert app_secret is not None
        row = WechatAccount(
            workspace_id=actor.workspace_id,
            app_id=app_id,
            app_secret=app_secret,
            ask_userinfo=ask_userinfo,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # saved at the same moment by someone else: change theirs
            found = _row(session, actor.workspace_id)
            assert found is not None
            row = found
    changed = row.app_id != app_id or (app_secret is not None and before is not None)
    row.app_id = app_id
    if app_secret is not None:
        row.app_secret = app_secret
    row.ask_userinfo = ask_userinfo
    row.updated_at = now
    if changed or before is None:
        session.execute(delete(WechatToken).where(WechatToken.workspace_id == actor.workspace_id))
    session.flush()
    record_audit(
        session,
        actor,
        "wechat.account_set",
        ("wechat_account", row.id),
        f"WeChat account {app_id}",
        now=now,
        before=before,
        after={
            "app_id": app_id,
            "ask_userinfo": ask_userinfo,
            "secret_changed": app_secret is not None,
        },
    )
    return _read(row)


def do_remove_account(session: Session, *, actor: Actor, now: datetime) -> None:
    require(actor, Permission.MANAGE_TOKENS)
    row = _row(session, actor.workspace_id)
    if row is None:
        raise NotFound(_("This workspace has no WeChat official account."))
    session.execute(delete(WechatToken).where(WechatToken.workspace_id == actor.workspace_id))
    record_audit(
        session,
        actor,
        "wechat.account_removed",
        ("wechat_account", row.id),
        f"WeChat account {row.app_id}",
        now=now,
        before={"app_id": row.app_id, "ask_userinfo": row.ask_userinfo},
    )
    session.delete(row)


# --- tokens ------------------------------------------------------------------------------------


def access_token(
    store: tokens.TokenStore, creds: Credentials, *, api_base: str, now: Callable[[], datetime]
) -> str:
    return tokens.cached_token(
        store,
        workspace_id=creds.workspace_id,
        app_id=creds.app_id,
        kind=tokens.ACCESS_TOKEN,
        fetch=lambda: client.fetch_access_token(
            api_base, app_id=creds.app_id, secret=creds.app_secret
        ),
        now=now,
    )


# WeChat's "this access_token is not (or no longer) valid": fetch a new one and try again once.
_STALE_TOKEN = frozenset({40001, 40014, 42001})


def jsapi_ticket(
    store: tokens.TokenStore, creds: Credentials, *, api_base: str, now: Callable[[], datetime]
) -> str:
    """The cached jsapi_ticket (fetched with the cached access_token); WechatError when WeChat
    refuses the account or cannot be reached."""

    def fetch() -> client.Expiring:
        token = access_token(store, creds, api_base=api_base, now=now)
        try:
            return client.fetch_jsapi_ticket(api_base, access_token=token)
        except WechatError as error:
            if error.code not in _STALE_TOKEN:
                raise
            store.drop(workspace_id=creds.workspace_id, kind=tokens.ACCESS_TOKEN)
            token = access_token(store, creds, api_base=api_base, now=now)
            return client.fetch_jsapi_ticket(api_base, access_token=token)

    return tokens.cached_token(
        store,
        workspace_id=creds.workspace_id,
        app_id=creds.app_id,
        kind=tokens.JSAPI_TICKET,
        fetch=fetch,
        now=now,
    )


def test_credentials(
    store: tokens.TokenStore, creds: Credentials, *, api_base: str, now: Callable[[], datetime]
) -> None:
    """Ask WeChat for a token and a ticket with the stored credentials, as the share card will
    (WechatError, with a message for people, when it refuses). The fresh token is the one
    cached: a token fetched aside would retire the cached one five minutes later."""
    store.drop(workspace_id=creds.workspace_id, kind=tokens.ACCESS_TOKEN)
    store.drop(workspace_id=creds.workspace_id, kind=tokens.JSAPI_TICKET)
    jsapi_ticket(store, creds, api_base=api_base, now=now)


# --- the share card ----------------------------------------------------------------------------


def make_share_card(
    *,
    creds: Credentials,
    ticket: str,
    url: str,
    title: str,
    desc: str,
    link: str,
    img_url: str,
    timestamp: int,
    login: str | None = None,
) -> ShareCard:
    """`wx.config` for the page at `url` (its #fragment dropped) and the card to show."""
    nonce = secrets.token_urlsafe(12)
    return ShareCard(
        appId=creds.app_id,
        timestamp=timestamp,
        nonceStr=nonce,
        signature=client.jsapi_signature(
            ticket=ticket, noncestr=nonce, timestamp=timestamp, url=url
        ),
        title=title[:64],
        desc=desc[:120],
        link=link,
        imgUrl=img_url,
        login=login,
    )


# --- web OAuth ---------------------------------------------------------------------------------


def _device_tag(device_id: str) -> str:
    """What the state carries of the device (it passes through WeChat): a hash, not the id."""
    return hashlib.sha256(f"im2/wechat/device:{device_id}".encode()).hexdigest()[:16]


def make_state(*, secret: str, workspace_id: int, device_id: str) -> str:
    """The signed, timestamped `state` of the OAuth round trip: the workspace and the device
    that left, so that a code can only be used by the browser that asked for it. About 50
    characters (WeChat takes at most 128); where to go back to travels in a cookie."""
    signer = TimestampSigner(secret, salt=STATE_SALT)
    return signer.sign(f"{workspace_id}.{_device_tag(device_id)}").decode()


def read_state(*, secret: str, state: str, device_id: str) -> int:
    """The workspace id of a `state` this server made for this device within STATE_MAX_AGE;
    InvalidInput otherwise."""
    signer = TimestampSigner(secret, salt=STATE_SALT)
    try:
        value = signer.unsign(state, max_age=STATE_MAX_AGE).decode()
    except SignatureExpired:
        raise InvalidInput(
            _("The WeChat sign-in took too long; please open the page again."), field="state"
        ) from None
    except BadSignature:
        raise InvalidInput(_("This WeChat sign-in link is not valid."), field="state") from None
    workspace, _sep, tag = value.partition(".")
    if tag != _device_tag(device_id) or not workspace.isdigit():
        raise InvalidInput(
            _("This WeChat sign-in was started in another browser; please open the page again."),
            field="state",
        )
    return int(workspace)


def safe_next(path: str) -> str:
    """A path on this site to go back to (an address elsewhere becomes the site's root)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def login_url(
    creds: Credentials,
    *,
    open_base: str,
    redirect_uri: str,
    secret: str,
    device_id: str,
) -> str:
    return client.authorize_url(
        open_base,
        app_id=creds.app_id,
        redirect_uri=redirect_uri,
        scope=SCOPE_USERINFO if creds.ask_userinfo else SCOPE_BASE,
        state=make_state(secret=secret, workspace_id=creds.workspace_id, device_id=device_id),
    )


def exchange(
    creds: Credentials, *, api_base: str, code: str
) -> tuple[client.OAuthGrant, str | None]:
    """The OpenID (and UnionID) behind an OAuth code, and the nickname when the visitor agreed
    to snsapi_userinfo (its UnionID too, which only userinfo gives on some accounts).
    WechatError when WeChat refuses."""
    grant = client.exchange_code(api_base, app_id=creds.app_id, secret=creds.app_secret, code=code)
    if grant.scope != SCOPE_USERINFO:
        return grant, None
    info = client.fetch_userinfo(api_base, access_token=grant.access_token, openid=grant.openid)
    if grant.unionid is None and info.unionid is not None:
        grant = client.OAuthGrant(
            openid=grant.openid, unionid=info.unionid, scope=grant.scope, access_token=""
        )
    return grant, info.nickname


def do_bind_wechat(
    session: Session,
    *,
    workspace_id: int,
    device_id: str,
    openid: str,
    unionid: str | None,
    nickname: str | None,
    now: datetime,
) -> Bound:
    """The OpenID (and UnionID) become verified identities of the device's person: two devices
    that sign in with one WeChat are one person (merged as for a verified phone). A nickname
    from snsapi_userinfo names the participant when they have none yet."""
    person_id, merged = people.do_identify_device(
        session,
        workspace_id=workspace_id,
        device_id=device_id,
        kind=IdentityKind.WECHAT_OPENID,
        value=openid,
        now=now,
    )
    merged_union = None
    if unionid:
        person_id, merged_union = people.do_identify_device(
            session,
            workspace_id=workspace_id,
            device_id=device_id,
            kind=IdentityKind.WECHAT_UNIONID,
            value=unionid,
            now=now,
        )
    if nickname:
        participant = participation.get_participant(
            session, workspace_id=workspace_id, device_id=device_id
        )
        if participant is not None and not participant.nickname:
            try:
                with session.begin_nested():
                    participation.do_set_nickname(
                        session, participant_id=participant.id, nickname=nickname
                    )
            except InvalidInput:
                pass  # a nickname WeChat allows and we do not (control characters): none
    return Bound(
        person_id=person_id,
        merged=merged is not None or merged_union is not None,
        unionid=unionid is not None,
    )

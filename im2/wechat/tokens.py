"""The account's `access_token` and `jsapi_ticket`, cached until shortly before they expire and
refreshed by one caller at a time across every process.

WeChat allows 2,000 token fetches a day and a new `access_token` retires the previous one after
five minutes, so every process must share one token and one refresh. The tokens live in Redis
when IM2_REDIS_URL is set (as the live hub and the rate limits do), else in the database
(`wechat_tokens`, encrypted). The one who refreshes holds a short lease (Redis `SET NX PX`, or a
conditional UPDATE of the token's row); the others wait for the new value instead of fetching
their own. The lease is operational, not business time: it runs on the wall clock, while a
token's expiry follows the application's clock.

These functions open their own short transactions (a lease must be seen by other processes
before the fetch starts, and nothing may hold a database lock while WeChat answers): call them
outside any transaction of the caller.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from im2.db import Database
from im2.wechat.client import Expiring, WechatError
from im2.wechat.models import WechatToken

ACCESS_TOKEN = "access_token"
JSAPI_TICKET = "jsapi_ticket"
# A token is refreshed this long before WeChat's expiry (7,200 s), so none is used as it dies.
MARGIN = timedelta(minutes=5)
LEASE_SECONDS = 15.0  # longer than one fetch may take (client.TIMEOUT_SECONDS, twice)
WAIT_SECONDS = 12.0  # how long a caller waits for someone else's refresh
POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Cached:
    value: str
    expires_at: datetime


class TokenStore(Protocol):
    def get(self, *, workspace_id: int, app_id: str, kind: str) -> Cached | None: ...

    def take_lease(self, *, workspace_id: int, app_id: str, kind: str, owner: str) -> bool: ...

    def put(
        self, *, workspace_id: int, app_id: str, kind: str, owner: str, cached: Cached
    ) -> None: ...

    def release(self, *, workspace_id: int, app_id: str, kind: str, owner: str) -> None: ...

    def drop(self, *, workspace_id: int, kind: str) -> None: ...


def _wall() -> datetime:
    return datetime.now(UTC)


class DatabaseStore:
    """Tokens in `wechat_tokens`: one row per (workspace, kind), its value encrypted."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, *, workspace_id: int, app_id: str, kind: str) -> Cached | None:
        with self.db.session() as session:
            row = session.scalar(
                select(WechatToken).where(
                    WechatToken.workspace_id == workspace_id, WechatToken.kind == kind
                )
            )
            if row is None or row.app_id != app_id or row.value is None or row.expires_at is None:
                return None
            return Cached(row.value, row.expires_at)

    def take_lease(self, *, workspace_id: int, app_id: str, kind: str, owner: str) -> bool:
        now = _wall()
        with self.db.transaction() as session:
            exists = session.scalar(
                select(WechatToken.id).where(
                    WechatToken.workspace_id == workspace_id, WechatToken.kind == kind
                )
            )
            if exists is None:
                try:
                    with session.begin_nested():
                        session.add(
                            WechatToken(
                                workspace_id=workspace_id,
                                kind=kind,
                                app_id=app_id,
                                lease_until=now + timedelta(seconds=LEASE_SECONDS),
                                lease_owner=owner,
                            )
                        )
                        session.flush()
                    return True
                except IntegrityError:
                    pass  # a concurrent caller made the row: race for the lease below
            taken = session.execute(
                update(WechatToken)
                .where(
                    WechatToken.workspace_id == workspace_id,
                    WechatToken.kind == kind,
                    or_(WechatToken.lease_until.is_(None), WechatToken.lease_until < now),
                )
                .values(lease_until=now + timedelta(seconds=LEASE_SECONDS), lease_owner=owner)
                .execution_options(synchronize_session=False)
            )
            return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    def put(self, *, workspace_id: int, app_id: str, kind: str, owner: str, cached: Cached) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(WechatToken)
                .where(WechatToken.workspace_id == workspace_id, WechatToken.kind == kind)
                .values(
                    app_id=app_id,
                    value=cached.value,
                    expires_at=cached.expires_at,
                    lease_until=None,
                    lease_owner=None,
                )
                .execution_options(synchronize_session=False)
            )

    def release(self, *, workspace_id: int, app_id: str, kind: str, owner: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(WechatToken)
                .where(
                    WechatToken.workspace_id == workspace_id,
                    WechatToken.kind == kind,
                    WechatToken.lease_owner == owner,
                )
                .values(lease_until=None, lease_owner=None)
                .execution_options(synchronize_session=False)
            )

    def drop(self, *, workspace_id: int, kind: str) -> None:
        with self.db.transaction() as session:
            session.execute(
                update(WechatToken)
                .where(WechatToken.workspace_id == workspace_id, WechatToken.kind == kind)
                .values(value=None, expires_at=None)
                .execution_options(synchronize_session=False)
            )


class RedisStore:
    """Tokens in Redis, under `im2:wechat:<workspace>:<app id>:<kind>`, with Redis's expiry."""

    PREFIX = "im2:wechat:"

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=2.0, socket_connect_timeout=2.0
        )

    def _key(self, workspace_id: int, app_id: str, kind: str) -> str:
        return f"{self.PREFIX}{workspace_id}:{app_id}:{kind}"

    def get(self, *, workspace_id: int, app_id: str, kind: str) -> Cached | None:
        raw = self.client.get(self._key(workspace_id, app_id, kind))
        if not raw:
            return None
        data = json.loads(str(raw))
        return Cached(data["value"], datetime.fromisoformat(data["expires_at"]))

    def take_lease(self, *, workspace_id: int, app_id: str, kind: str, owner: str) -> bool:
        key = self._key(workspace_id, app_id, kind) + ":lease"
        return bool(self.client.set(key, owner, nx=True, px=int(LEASE_SECONDS * 1000)))

    def put(self, *, workspace_id: int, app_id: str, kind: str, owner: str, cached: Cached) -> None:
        key = self._key(workspace_id, app_id, kind)
        ttl = max(1, int((cached.expires_at - _wall()).total_seconds()) + 600)
        data = {"value": cached.value, "expires_at": cached.expires_at.isoformat()}
        self.client.set(key, json.dumps(data), ex=ttl)
        self.release(workspace_id=workspace_id, app_id=app_id, kind=kind, owner=owner)

    def release(self, *, workspace_id: int, app_id: str, kind: str, owner: str) -> None:
        key = self._key(workspace_id, app_id, kind) + ":lease"
        if self.client.get(key) == owner:
            self.client.delete(key)

    def drop(self, *, workspace_id: int, kind: str) -> None:
        for key in self.client.scan_iter(f"{self.PREFIX}{workspace_id}:*:{kind}"):
            self.client.delete(key)


_stores: dict[str, TokenStore] = {}
_stores_lock = threading.Lock()


def store_for(db: Database, redis_url: str | None) -> TokenStore:
    """Redis's store when the settings name one, else the database's (one per process)."""
    key = redis_url or f"db:{id(db)}"
    with _stores_lock:
        found = _stores.get(key)
        if found is None:
            found = RedisStore(redis_url) if redis_url else DatabaseStore(db)
            _stores[key] = found
        return found


def cached_token(
    store: TokenStore,
    *,
    workspace_id: int,
    app_id: str,
    kind: str,
    fetch: Callable[[], Expiring],
    now: Callable[[], datetime],
) -> str:
    """The cached value of `kind` while it has more than MARGIN to live, else a fresh one that
    exactly one caller fetches (WechatError when WeChat refuses or nobody finishes in time)."""
    from redis.exceptions import RedisError

    try:
        return _cached_token(
            store, workspace_id=workspace_id, app_id=app_id, kind=kind, fetch=fetch, now=now
        )
    except RedisError as exc:  # Redis away: no card, as when WeChat is
        raise WechatError(None, f"the token store is unavailable ({type(exc).__name__})") from None


def _cached_token(
    store: TokenStore,
    *,
    workspace_id: int,
    app_id: str,
    kind: str,
    fetch: Callable[[], Expiring],
    now: Callable[[], datetime],
) -> str:

    def fresh() -> str | None:
        found = store.get(workspace_id=workspace_id, app_id=app_id, kind=kind)
        return found.value if found is not None and found.expires_at - MARGIN > now() else None

    value = fresh()
    if value is not None:
        return value
    owner = secrets.token_hex(8)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if store.take_lease(workspace_id=workspace_id, app_id=app_id, kind=kind, owner=owner):
            try:
                value = fresh()  # refreshed by someone who has just let go of the lease
                if value is not None:
                    store.release(workspace_id=workspace_id, app_id=app_id, kind=kind, owner=owner)
                    return value
                got = fetch()
            except BaseException:
                store.release(workspace_id=workspace_id, app_id=app_id, kind=kind, owner=owner)
                raise
            expires_at = now() + timedelta(seconds=got.expires_in)
            store.put(
                workspace_id=workspace_id,
                app_id=app_id,
                kind=kind,
                owner=owner,
                cached=Cached(got.value, expires_at),
            )
            return got.value
        time.sleep(POLL_SECONDS)
        value = fresh()
        if value is not None:
            return value
    raise WechatError(None, f"timed out waiting for another process to refresh the {kind}")

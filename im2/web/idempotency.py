"""`Idempotency-Key` on API POSTs: a retried request gets the first answer, not a second write.

The key is claimed in its own transaction before the request runs (a unique row per caller and
key), so two concurrent requests with the same key cannot both run: the second sees the claim
and gets 409 until the first one's answer is stored, then the stored answer.

A pure ASGI middleware: every other request goes straight through (no task, no stream, no
response rebuilt), and the key's database work runs in the thread pool, never on the event
loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from im2.db import Base, Database
from im2.i18n import _

HEADER = "Idempotency-Key"
STALE_CLAIM = timedelta(seconds=60)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("scope", "key"),)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": HEADER}}, status_code=status
    )


@dataclass(frozen=True, slots=True)
class _Claim:
    """What claiming the key found: "claimed" means run the request; anything else is the
    answer to give instead (a stored response, or why not now)."""

    status: str  # "claimed", "released", "reused", "in_progress", "stored"
    status_code: int | None = None
    body: str | None = None
    content_type: str | None = None


def _claim(db: Database, *, scope: str, key: str, digest: str, now: datetime) -> _Claim:
    try:
        with db.transaction() as session:
            session.add(
                IdempotencyRecord(scope=scope, key=key, request_hash=digest, created_at=now)
            )
        return _Claim("claimed")
    except IntegrityError:
        pass
    with db.transaction() as session:
        record = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        if record is None:  # the claim was released between our insert and this read
            return _Claim("released")
        if record.request_hash != digest:
            return _Claim("reused")
        if record.status_code is None:
            if now - record.created_at < STALE_CLAIM:
                return _Claim("in_progress")
            record.created_at = now  # the first attempt died: this one takes over
            return _Claim("claimed")
        return _Claim("stored", record.status_code, record.response_body, record.content_type)


def _settle(
    db: Database,
    *,
    scope: str,
    key: str,
    status_code: int | None,
    body: bytes = b"",
    content_type: str | None = None,
) -> None:
    """Store the answer; `status_code` None or >= 500 releases the claim (nothing was
    written, so the client may retry)."""
    with db.transaction() as session:
        record = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        if record is None:
            return
        if status_code is None or status_code >= 500:
            session.delete(record)
        else:
            record.status_code = status_code
            record.response_body = body.decode("utf-8", errors="replace")
            record.content_type = content_type


@dataclass(slots=True)
class _Captured:
    start: Message | None = None
    body: list[bytes] = field(default_factory=list)


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith("/api/v1/")
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > 255:
            response: Response = _error(
                422, "invalid", _("The Idempotency-Key header must be 1–255 characters.")
            )
            await response(scope, receive, send)
            return

        state = scope["app"].state
        db: Database = state.db
        now: datetime = state.clock.now()
        caller = hashlib.sha256(headers.get("authorization", "").encode()).hexdigest()
        body = await _read_body(receive)
        digest = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()

        claim = await run_in_threadpool(_claim, db, scope=caller, key=key, digest=digest, now=now)
        if claim.status != "claimed":
            await _answer(claim)(scope, receive, send)
            return

        captured = _Captured()

        handed_over = False

        async def replay() -> Message:
            nonlocal handed_over
            if handed_over:  # only a disconnect is left to wait for
                return await receive()
            handed_over = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured.start = message
            elif message["type"] == "http.response.body":
                captured.body.append(message.get("body", b""))

        try:
            await self.app(scope, replay, capture)
        except BaseException:
            await run_in_threadpool(_settle, db, scope=caller, key=key, status_code=None)
            raise
        start = captured.start
        assert start is not None, "the app answered without a response"
        content = b"".join(captured.body)
        out = MutableHeaders(scope=start)
        await run_in_threadpool(
            _settle,
            db,
            scope=caller,
            key=key,
            status_code=start["status"],
            body=content,
            content_type=out.get("content-type"),
        )
        # The answer goes out only once it is stored: a retry after it always gets the replay.
        out["content-length"] = str(len(content))
        await send(start)
        await send({"type": "http.response.body", "body": content, "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _answer(claim: _Claim) -> Response:
    if claim.status == "released":
        return _error(409, "idempotency_in_progress", _("Retry: the request is in progress."))
    if claim.status == "reused":
        return _error(
            422,
            "idempotency_key_reused",
            _("This Idempotency-Key was already used for a different request."),
        )
    if claim.status == "in_progress":
        return _error(
            409,
            "idempotency_in_progress",
            _("A request with this Idempotency-Key is still in progress."),
        )
    return Response(
        content=claim.body or b"",
        status_code=claim.status_code or 200,
        media_type=claim.content_type,
        headers={"Idempotent-Replayed": "true"},
    )

"""`Idempotency-Key` on API POSTs: a retried request gets the first answer, not a second write.

The key is claimed in its own transaction before the request runs (a unique row per caller and
key), so two concurrent requests with the same key cannot both run: the second sees the claim
and gets 409 until the first one's answer is stored, then the stored answer.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


class IdempotencyMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.url.path.startswith("/api/v1/"):
            return await call_next(request)
        if not key.strip() or len(key) > 255:
            return _error(422, "invalid", _("The Idempotency-Key header must be 1–255 characters."))
        db: Database = request.app.state.db
        now: datetime = request.app.state.clock.now()
        scope = hashlib.sha256(request.headers.get("authorization", "").encode()).hexdigest()
        body = await request.body()
        digest = hashlib.sha256(
            b"\n".join([request.url.path.encode(), request.url.query.encode(), body])
        ).hexdigest()

        try:
            with db.transaction() as session:
                session.add(
                    IdempotencyRecord(scope=scope, key=key, request_hash=digest, created_at=now)
                )
        except IntegrityError:
            with db.transaction() as session:
                record = session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                    )
                )
                if record is None:  # the claim was released between our insert and this read
                    return _error(
                        409, "idempotency_in_progress", _("Retry: the request is in progress.")
                    )
                if record.request_hash != digest:
                    return _error(
                        422,
                        "idempotency_key_reused",
                        _("This Idempotency-Key was already used for a different request."),
                    )
                if record.status_code is None:
                    if now - record.created_at < STALE_CLAIM:
                        return _error(
                            409,
                            "idempotency_in_progress",
                            _("A request with this Idempotency-Key is still in progress."),
                        )
                    record.created_at = now  # the first attempt died: this one takes over
                else:
                    return Response(
                        content=record.response_body or b"",
                        status_code=record.status_code,
                        media_type=record.content_type,
                        headers={"Idempotent-Replayed": "true"},
                    )

        response = await call_next(request)
        chunks = [chunk async for chunk in response.body_iterator]  # type: ignore[attr-defined]
        content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        with db.transaction() as session:
            record = session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            )
            if record is not None:
                if response.status_code >= 500:
                    session.delete(record)  # nothing was written: let the client retry
                else:
                    record.status_code = response.status_code
                    record.response_body = content.decode("utf-8", errors="replace")
                    record.content_type = response.headers.get("content-type")
        headers = dict(response.headers)
        headers.pop("content-length", None)
        return Response(content=content, status_code=response.status_code, headers=headers)

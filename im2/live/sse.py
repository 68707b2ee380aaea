"""Turning a hub channel into a server-sent event stream (sse-starlette does the protocol)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from functools import lru_cache

from sse_starlette import ServerSentEvent
from starlette.requests import Request

from im2.live.hub import Hub

HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE = ServerSentEvent(comment="keep-alive").encode()
# When a draining server closes a stream: reconnect after a random delay in this range (ms).
RECONNECT_MS = (1000, 5000)


@lru_cache(maxsize=256)
def encoded(message: str, event: str) -> bytes:
    """One snapshot as SSE bytes. The hub hands the same string to every subscriber of a
    channel (serialized once per update), so this encodes it once per update, not once per
    subscriber (a string keeps its hash, so the lookup does not rehash it)."""
    return ServerSentEvent(data=message, event=event).encode()


async def stream(
    request: Request, hub: Hub, channel: str, first: str, *, event: str
) -> AsyncIterator[bytes]:
    """The current state first, then each newer snapshot; a comment now and then keeps
    proxies from closing an idle stream. (A client that goes away is noticed by
    sse-starlette, which cancels this generator.) The stream ends when the server drains
    (`Hub.close_streams`), with a hint to reconnect."""
    async for message in hub.subscribe(channel, first=first, heartbeat=HEARTBEAT_SECONDS):
        yield KEEP_ALIVE if message is None else encoded(message, event)
    # The hub ended the stream: this process is draining. The browser's EventSource reconnects
    # after `retry` ms, by then to another process; the delay is spread so that a process's
    # viewers do not all arrive at once.
    yield ServerSentEvent(comment="reconnect", retry=random.randint(*RECONNECT_MS)).encode()  # noqa: S311 (spread, not secret)
